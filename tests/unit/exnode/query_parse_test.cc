#include <gtest/gtest.h>

#include "core/exnode/query.h"

namespace tessera {
namespace {

std::string ErrorOf(std::string_view text) {
  auto q = ParseQuery(text);
  if (q.has_value()) return "<parsed>";
  EXPECT_EQ(q.error().code(), Code::kInvalidArgument);
  return q.error().message();
}

TEST(QueryParse, TermsOperandsAndConstraints) {
  auto q = ParseQuery("1:tier:1:FAST:1.1:name:65:any:3.3:any:3:any:3.1:host:1:rack1:130.2:x:3:x:3.4:any:3:any:3");
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  ASSERT_EQ(q->terms.size(), 6u);
  EXPECT_EQ(q->terms[0].op, QueryOp::kMatch);
  EXPECT_EQ(q->terms[0].key, (QueryField{"tier", MatchMode::kExact, 0}));
  EXPECT_EQ(q->terms[1].key, (QueryField{"name", MatchMode::kExact, kQueryFlagUnique}));
  EXPECT_EQ(q->terms[1].val.mode, MatchMode::kAny);
  EXPECT_EQ(q->terms[2].op, QueryOp::kAnd);
  EXPECT_EQ(q->terms[2].operands, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(q->terms[3].val.mode, MatchMode::kPrefix);
  EXPECT_EQ(q->terms[3].val.flags, kQueryFlagPickOne);
  EXPECT_EQ(q->terms[4].op, QueryOp::kNot);
  EXPECT_EQ(q->terms[4].operands, (std::vector<size_t>{3}));
  EXPECT_EQ(q->terms[5].op, QueryOp::kOr);
  EXPECT_EQ(q->terms[5].operands, (std::vector<size_t>{2, 4}));
  EXPECT_EQ(q->constraints,
            (std::vector<QueryConstraint>{{"name", ConstraintKind::kUnique, 1},
                                          {"host", ConstraintKind::kPickOne, 3}}));
}

TEST(QueryParse, ToStringRoundTripsWithEscapes) {
  const std::string text = "1:host:1:node1\\.lan\\:8080:1.1:path:2:C\\\\dir:2.3:any:3:any:3";
  auto q = ParseQuery(text);
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->terms[0].val.text, "node1.lan:8080");
  EXPECT_EQ(q->terms[1].val.text, "C\\dir");
  EXPECT_EQ(q->ToString(), text);
  EXPECT_EQ(ParseQuery(q->ToString()).value(), *q);
}

TEST(QueryParse, Errors) {
  EXPECT_EQ(ErrorOf(""), "query is empty");
  EXPECT_EQ(ErrorOf("1:a:1:b:1..1:a:1:b:1"), "query tuple 2 is empty (stray '.')");
  EXPECT_EQ(ErrorOf("1:a:1:b:1."), "query tuple 2 is empty (stray '.')");
  EXPECT_EQ(ErrorOf("1:a:1:b"),
            "query tuple 1 ('1:a:1:b'): has 4 ':'-separated fields, expected 5 "
            "(OP:key:KEY_OP:val:VAL_OP)");
  EXPECT_EQ(ErrorOf("1:a:1:b:1.5:a:1:b:1"),
            "query tuple 2 ('5:a:1:b:1'): OP '5' is not 1 (match), 2 (NOT), 3 (AND) or 4 (OR)");
  EXPECT_EQ(ErrorOf("x:a:1:b:1"),
            "query tuple 1 ('x:a:1:b:1'): OP 'x' is not 1 (match), 2 (NOT), 3 (AND) or 4 (OR)");
  EXPECT_EQ(ErrorOf("1:a:4:b:1"),
            "query tuple 1 ('1:a:4:b:1'): KEY_OP '4' is not 1 (exact), 2 (prefix) or 3 (any), "
            "optionally + 64 (unique) or + 128 (pick one)");
  EXPECT_EQ(ErrorOf("1:a:1:b:256"),
            "query tuple 1 ('1:a:1:b:256'): VAL_OP '256' is not 1 (exact), 2 (prefix) or 3 "
            "(any), optionally + 64 (unique) or + 128 (pick one)");
  EXPECT_EQ(ErrorOf("1:a:1:b:64"), "query tuple 1 ('1:a:1:b:64'): VAL_OP '64' is not 1 (exact), "
                                   "2 (prefix) or 3 (any), optionally + 64 (unique) or + 128 "
                                   "(pick one)");
  EXPECT_EQ(ErrorOf("1:a:1:b:1.3:any:3:any:3"),
            "query tuple 2 ('3:any:3:any:3'): AND needs 2 operand(s), stack has 1 (underflow)");
  EXPECT_EQ(ErrorOf("2:any:3:any:3"),
            "query tuple 1 ('2:any:3:any:3'): NOT needs 1 operand(s), stack has 0 (underflow)");
  EXPECT_EQ(ErrorOf("1:a:1:b:1.1:c:1:d:1.1:e:3:any:3.4:any:3:any:3"),
            "query leaves 2 results on the stack (from tuples 1, 4); join them with AND (3) or "
            "OR (4)");
  EXPECT_EQ(ErrorOf("1::1:b:1"),
            "query tuple 1 ('1::1:b:1'): empty key with an exact/prefix op (use 3 for any)");
  EXPECT_EQ(ErrorOf("1:a:1::2"),
            "query tuple 1 ('1:a:1::2'): empty val with an exact/prefix op (use 3 for any)");
  EXPECT_EQ(ErrorOf("1:a:1:b:1\\"), "query tuple 1: '\\' at end of query escapes nothing");
  EXPECT_EQ(ErrorOf("1:a:193:b:1"),
            "query tuple 1 ('1:a:193:b:1'): flags 64 (unique) and 128 (pick one) are exclusive");
  EXPECT_EQ(ErrorOf("1:a:65:b:129"),
            "query tuple 1 ('1:a:65:b:129'): flags 64 (unique) and 128 (pick one) are exclusive");
  EXPECT_EQ(ErrorOf("1:na:66:any:3"),
            "query tuple 1 ('1:na:66:any:3'): flag 64 needs an exact key (KEY_OP 1 + flag)");
  EXPECT_EQ(ErrorOf("1:a:1:b:1.2:any:67:any:3"),
            "query tuple 2 ('2:any:67:any:3'): flags 64/128 apply only to match (OP 1) tuples");
  EXPECT_EQ(ErrorOf("1:host:65:any:3.1:host:1:any:131.3:any:3:any:3"),
            "query tuple 2 ('1:host:1:any:131'): key 'host' is both unique (64) and pick-one "
            "(128) (other flag at tuple 1)");
}

TEST(QueryParse, RepeatedFlagOnOneKeyIsOneConstraint) {
  auto q = ParseQuery("1:host:65:any:3.1:host:1:a:65.4:any:3:any:3");
  ASSERT_TRUE(q.has_value()) << q.error().ToString();
  EXPECT_EQ(q->constraints, (std::vector<QueryConstraint>{{"host", ConstraintKind::kUnique, 0}}));
}

}  // namespace
}  // namespace tessera
