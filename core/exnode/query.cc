// Resource query language: parsing, printing and boolean evaluation.
//
// Design notes
//  1. Text -> tuples -> fields. '.' ends a tuple and ':' ends a field unless
//     escaped with '\'; "\x" stands for x. So an attribute value such as a
//     host name "node1.lan" is written "node1\.lan". ToString escapes the
//     same three characters, so ParseQuery(ToString(q)) == q.
//  2. The stack discipline is checked at parse time, and each term records
//     the indices of its operands. Evaluation then needs no stack: term t's
//     value is a function of earlier terms' values (EvaluateTerms).
//  3. Flags 64/128 are constraints on a set of resources, not on one
//     resource; they are collected into Query::constraints and the term's
//     boolean value ignores them. They require an exact key (KEY_OP 1) so the
//     constrained attribute is unambiguous, and the two are exclusive per key.
//  4. Fields of NOT/AND/OR tuples are unused ("any" by convention); their
//     text is kept for printing but their ops may carry no flags.
#include <fmt/format.h>

#include "core/exnode/query.h"
#include "core/exnode/query_internal.h"

namespace tessera {
namespace {

struct RawTuple {
  std::string raw;  // as written, for messages
  std::vector<std::string> fields;  // unescaped
};

Result<std::vector<RawTuple>> SplitTuples(std::string_view text) {
  std::vector<RawTuple> tuples(1);
  tuples.back().fields.emplace_back();
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      tuples.emplace_back();
      tuples.back().fields.emplace_back();
      continue;
    }
    tuples.back().raw += c;
    if (c == ':') {
      tuples.back().fields.emplace_back();
    } else if (c == '\\') {
      if (i + 1 == text.size()) {
        return Err(Code::kInvalidArgument, "query tuple {}: '\\' at end of query escapes nothing",
                   tuples.size());
      }
      tuples.back().raw += text[++i];
      tuples.back().fields.back() += text[i];
    } else {
      tuples.back().fields.back() += c;
    }
  }
  return tuples;
}

Result<int> ParseSmallInt(std::string_view s) {
  if (s.empty() || s.size() > 3) return Err(Code::kInvalidArgument, "bad");
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Err(Code::kInvalidArgument, "bad");
    v = v * 10 + (c - '0');
  }
  return v;
}

// KEY_OP / VAL_OP: a mode 1..3, optionally OR-ed with 64 and/or 128.
Result<QueryField> ParseField(std::string text, std::string_view op_text) {
  auto op = ParseSmallInt(op_text);
  int mode = op ? *op & ~(kQueryFlagUnique | kQueryFlagPickOne) : 0;
  if (!op || *op > 255 || mode < 1 || mode > 3) {
    return Err(Code::kInvalidArgument,
               "'{}' is not 1 (exact), 2 (prefix) or 3 (any), optionally + 64 (unique) or + 128 "
               "(pick one)",
               op_text);
  }
  return QueryField{std::move(text), static_cast<MatchMode>(mode), *op - mode};
}

std::string Escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == ':' || c == '.') out += '\\';
    out += c;
  }
  return out;
}

std::string_view OpName(QueryOp op) {
  switch (op) {
    case QueryOp::kMatch: return "match";
    case QueryOp::kNot: return "NOT";
    case QueryOp::kAnd: return "AND";
    case QueryOp::kOr: return "OR";
  }
  return "?";
}

// Adds the term's flags to query.constraints; `index` is the term's index.
Status AddConstraints(Query& query, size_t index, const std::string& where) {
  const QueryTerm& term = query.terms[index];
  const int flags = term.key.flags | term.val.flags;
  if (flags == 0) return Ok();
  if (term.op != QueryOp::kMatch) {
    return Err(Code::kInvalidArgument, "{}: flags 64/128 apply only to match (OP 1) tuples", where);
  }
  if (flags == (kQueryFlagUnique | kQueryFlagPickOne)) {
    return Err(Code::kInvalidArgument, "{}: flags 64 (unique) and 128 (pick one) are exclusive",
               where);
  }
  if (term.key.mode != MatchMode::kExact) {
    return Err(Code::kInvalidArgument, "{}: flag {} needs an exact key (KEY_OP 1 + flag)", where,
               flags);
  }
  const auto kind = flags == kQueryFlagUnique ? ConstraintKind::kUnique : ConstraintKind::kPickOne;
  for (const auto& c : query.constraints) {
    if (c.key != term.key.text) continue;
    if (c.kind == kind) return Ok();
    return Err(Code::kInvalidArgument,
               "{}: key '{}' is both unique (64) and pick-one (128) (other flag at tuple {})",
               where, c.key, c.term + 1);
  }
  query.constraints.push_back({term.key.text, kind, index});
  return Ok();
}

}  // namespace

bool QueryField::Matches(std::string_view s) const {
  switch (mode) {
    case MatchMode::kExact: return s == text;
    case MatchMode::kPrefix: return s.starts_with(text);
    case MatchMode::kAny: return true;
  }
  return false;
}

std::string QueryTerm::ToString() const {
  return fmt::format("{}:{}:{}:{}:{}", static_cast<int>(op), Escape(key.text),
                     static_cast<int>(key.mode) + key.flags, Escape(val.text),
                     static_cast<int>(val.mode) + val.flags);
}

std::string Query::ToString() const {
  std::string out;
  for (const auto& term : terms) {
    if (!out.empty()) out += '.';
    out += term.ToString();
  }
  return out;
}

Result<Query> ParseQuery(std::string_view text) {
  if (text.empty()) return Err(Code::kInvalidArgument, "query is empty");
  auto tuples = TRY(SplitTuples(text));
  Query query;
  std::vector<size_t> stack;
  for (size_t i = 0; i < tuples.size(); ++i) {
    RawTuple& t = tuples[i];
    const std::string where = fmt::format("query tuple {} ('{}')", i + 1, t.raw);
    if (t.raw.empty()) {
      return Err(Code::kInvalidArgument, "query tuple {} is empty (stray '.')", i + 1);
    }
    if (t.fields.size() != 5) {
      return Err(Code::kInvalidArgument, "{}: has {} ':'-separated fields, expected 5 "
                 "(OP:key:KEY_OP:val:VAL_OP)", where, t.fields.size());
    }
    auto op = ParseSmallInt(t.fields[0]);
    if (!op || *op < 1 || *op > 4) {
      return Err(Code::kInvalidArgument,
                 "{}: OP '{}' is not 1 (match), 2 (NOT), 3 (AND) or 4 (OR)", where, t.fields[0]);
    }
    auto key = ParseField(std::move(t.fields[1]), t.fields[2]);
    if (!key) return Err(Code::kInvalidArgument, "{}: KEY_OP {}", where, key.error().message());
    auto val = ParseField(std::move(t.fields[3]), t.fields[4]);
    if (!val) return Err(Code::kInvalidArgument, "{}: VAL_OP {}", where, val.error().message());
    QueryTerm term{static_cast<QueryOp>(*op), std::move(*key), std::move(*val), {}};
    if (term.op == QueryOp::kMatch) {
      for (const QueryField* f : {&term.key, &term.val}) {
        if (f->mode != MatchMode::kAny && f->text.empty()) {
          return Err(Code::kInvalidArgument,
                     "{}: empty {} with an exact/prefix op (use 3 for any)", where,
                     f == &term.key ? "key" : "val");
        }
      }
    }
    const size_t needed = term.op == QueryOp::kMatch ? 0 : term.op == QueryOp::kNot ? 1 : 2;
    if (stack.size() < needed) {
      return Err(Code::kInvalidArgument, "{}: {} needs {} operand(s), stack has {} (underflow)",
                 where, OpName(term.op), needed, stack.size());
    }
    term.operands.assign(stack.end() - needed, stack.end());
    stack.resize(stack.size() - needed);
    stack.push_back(i);
    query.terms.push_back(std::move(term));
    TRY_STATUS(AddConstraints(query, i, where));
  }
  if (stack.size() != 1) {
    std::string from;
    for (size_t s : stack) from += fmt::format("{}{}", from.empty() ? "" : ", ", s + 1);
    return Err(Code::kInvalidArgument,
               "query leaves {} results on the stack (from tuples {}); join them with AND (3) or "
               "OR (4)",
               stack.size(), from);
  }
  return query;
}

namespace query_internal {

bool MatchTerm(const QueryTerm& term, const Resource& r) {
  if (term.key.mode == MatchMode::kAny && term.val.mode == MatchMode::kAny) return true;
  if (term.key.mode == MatchMode::kExact) {
    auto it = r.attrs.find(term.key.text);
    return it != r.attrs.end() && term.val.Matches(it->second);
  }
  for (const auto& [k, v] : r.attrs) {
    if (term.key.Matches(k) && term.val.Matches(v)) return true;
  }
  return false;
}

std::vector<char> EvaluateTerms(const Query& query, const Resource& r) {
  std::vector<char> value(query.terms.size());
  for (size_t t = 0; t < query.terms.size(); ++t) {
    const QueryTerm& term = query.terms[t];
    switch (term.op) {
      case QueryOp::kMatch: value[t] = MatchTerm(term, r); break;
      case QueryOp::kNot: value[t] = !value[term.operands[0]]; break;
      case QueryOp::kAnd: value[t] = value[term.operands[0]] && value[term.operands[1]]; break;
      case QueryOp::kOr: value[t] = value[term.operands[0]] || value[term.operands[1]]; break;
    }
  }
  return value;
}

std::string DescribeTerm(const Query& query, size_t t) {
  const QueryTerm& term = query.terms[t];
  std::string text = term.ToString();
  if (term.op == QueryOp::kNot) {
    return fmt::format("term {} ({}: NOT of term {})", t + 1, text, term.operands[0] + 1);
  }
  if (term.op != QueryOp::kMatch) {
    return fmt::format("term {} ({}: {} of terms {} and {})", t + 1, text, OpName(term.op),
                       term.operands[0] + 1, term.operands[1] + 1);
  }
  return fmt::format("term {} ({})", t + 1, text);
}

}  // namespace query_internal

bool Matches(const Query& query, const Resource& resource) {
  if (query.terms.empty()) return false;
  return query_internal::EvaluateTerms(query, resource).back() != 0;
}

}  // namespace tessera
