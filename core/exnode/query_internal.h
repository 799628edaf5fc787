// Internal to core/exnode: query evaluation shared by Matches and Select.
#pragma once

#include <string>
#include <vector>

#include "core/exnode/query.h"

namespace tessera::query_internal {

// The boolean value of one match term for `r` (flags ignored).
bool MatchTerm(const QueryTerm& term, const Resource& r);
// value[t] is the value of the subexpression rooted at term t; the query's
// value is value.back(). Precondition: query came from ParseQuery.
std::vector<char> EvaluateTerms(const Query& query, const Resource& r);
// "term 2 (1:tier:1:FAST:1)" or "term 3 (3:any:3:any:3: AND of terms 1 and 2)".
std::string DescribeTerm(const Query& query, size_t t);

}  // namespace tessera::query_internal
