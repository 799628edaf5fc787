// The resource query language (after LStore): which vdevs may hold new blocks.
//
// A query is '.'-separated tuples OP:key:KEY_OP:val:VAL_OP evaluated in
// postfix order on a stack machine (grammar and semantics: docs/format/exnode.md):
//   OP      1 match key/val (pushes), 2 NOT (pops 1), 3 AND, 4 OR (pop 2)
//   KEY_OP/VAL_OP  1 exact, 2 prefix, 3 any; OR-ed flags 64 unique, 128 pick-one
// Example: the devices of a 4-wide row on FAST vdevs, all on distinct hosts:
//   "1:tier:1:FAST:1.1:host:65:any:3.3:any:3:any:3"
//
// Contract
//  1. ParseQuery accepts exactly the documented grammar. Anything else is
//     InvalidArgument naming the 1-based tuple and what is wrong (bad OP,
//     stack underflow, leftover operands, ...).
//  2. Query and Resource are plain values. Matches and Select are pure
//     functions of their arguments: thread-safe, deterministic, no I/O.
//  3. Select returns exactly `count` distinct indices into `candidates` that
//     satisfy the query and its unique/pick-one constraints, or NoSpace
//     naming the term or constraint that could not be met. It returns
//     InvalidArgument only for a Query that ParseQuery did not produce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera {

enum class QueryOp { kMatch = 1, kNot = 2, kAnd = 3, kOr = 4 };
enum class MatchMode { kExact = 1, kPrefix = 2, kAny = 3 };
inline constexpr int kQueryFlagUnique = 64;
inline constexpr int kQueryFlagPickOne = 128;

struct QueryField {
  std::string text;  // unescaped; ignored when mode is kAny
  MatchMode mode = MatchMode::kAny;
  int flags = 0;  // kQueryFlagUnique and/or kQueryFlagPickOne, as written
  bool Matches(std::string_view s) const;
  bool operator==(const QueryField&) const = default;
};

struct QueryTerm {
  QueryOp op = QueryOp::kMatch;
  QueryField key;
  QueryField val;
  // Indices (into Query::terms) of the terms whose results this term pops:
  // none for kMatch, one for kNot, two for kAnd/kOr (left, right).
  std::vector<size_t> operands;
  // The tuple in canonical form, e.g. "1:tier:1:FAST:1".
  std::string ToString() const;
  bool operator==(const QueryTerm&) const = default;
};

enum class ConstraintKind { kUnique, kPickOne };

// A unique (64) or pick-one (128) flag of a match term: every selected
// resource must have attribute `key`, with pairwise different values (unique)
// or one shared value (pick-one).
struct QueryConstraint {
  std::string key;
  ConstraintKind kind = ConstraintKind::kUnique;
  size_t term = 0;  // index of the first term that set it
  bool operator==(const QueryConstraint&) const = default;
};

struct Query {
  std::vector<QueryTerm> terms;  // postfix order; terms.back() is the root
  std::vector<QueryConstraint> constraints;  // one per key, in term order
  // Canonical text; ParseQuery(q.ToString()) == q.
  std::string ToString() const;
  bool operator==(const Query&) const = default;
};

// A selectable resource: in the pool, a vdev and its attributes (tier, name,
// host, kind, and free-form key=val).
struct Resource {
  std::string id;
  std::map<std::string, std::string> attrs;
};

Result<Query> ParseQuery(std::string_view text);

// Whether `resource` satisfies the boolean part of `query` (constraints are
// ignored; they concern a set of resources).
bool Matches(const Query& query, const Resource& resource);

// Picks `count` distinct candidates satisfying `query` and its constraints.
// Candidates are considered in rotated order starting at index
// rotation % candidates.size(), so varying `rotation` (e.g. an allocation
// counter) spreads load; the same inputs always give the same answer.
// count == 0 returns an empty vector.
Result<std::vector<size_t>> Select(const Query& query, std::span<const Resource> candidates,
                                   size_t count, uint64_t rotation = 0);

}  // namespace tessera
