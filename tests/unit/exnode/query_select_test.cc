#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/exnode/query.h"

namespace tessera {
namespace {

// 8 vdevs: 4 FAST on hosts h0..h3 (h3 twice), 4 SLOW on two racks.
std::vector<Resource> Pool() {
  return {
      {"v0", {{"tier", "FAST"}, {"name", "fast0"}, {"host", "h0"}, {"rack", "r1"}, {"kind", "nvme"}}},
      {"v1", {{"tier", "FAST"}, {"name", "fast1"}, {"host", "h1"}, {"rack", "r1"}, {"kind", "nvme"}}},
      {"v2", {{"tier", "FAST"}, {"name", "fast2"}, {"host", "h3"}, {"rack", "r2"}, {"kind", "ssd"}}},
      {"v3", {{"tier", "FAST"}, {"name", "fast3"}, {"host", "h3"}, {"rack", "r2"}, {"kind", "ssd"}}},
      {"v4", {{"tier", "SLOW"}, {"name", "slow0"}, {"host", "h0"}, {"rack", "r1"}, {"kind", "hdd"}}},
      {"v5", {{"tier", "SLOW"}, {"name", "slow1"}, {"host", "h1"}, {"rack", "r1"}, {"kind", "hdd"}}},
      {"v6", {{"tier", "SLOW"}, {"name", "slow2"}, {"host", "h2"}, {"rack", "r2"}, {"kind", "hdd"}}},
      {"v7", {{"tier", "SLOW"}, {"name", "slow3"}, {"host", "h2"}, {"rack", "r2"}}},
  };
}

std::vector<size_t> MatchesOf(std::string_view text) {
  auto q = ParseQuery(text);
  EXPECT_TRUE(q.has_value()) << q.error().ToString();
  std::vector<size_t> out;
  auto pool = Pool();
  for (size_t i = 0; i < pool.size(); ++i) {
    if (Matches(*q, pool[i])) out.push_back(i);
  }
  return out;
}

Result<std::vector<size_t>> SelectText(std::string_view text, size_t count, uint64_t rotation = 0) {
  auto q = ParseQuery(text);
  EXPECT_TRUE(q.has_value()) << q.error().ToString();
  auto pool = Pool();
  return Select(*q, pool, count, rotation);
}

std::string SelectError(std::string_view text, size_t count) {
  auto r = SelectText(text, count);
  if (r.has_value()) return "<selected>";
  EXPECT_EQ(r.error().code(), Code::kNoSpace);
  return r.error().message();
}

using V = std::vector<size_t>;

TEST(QueryMatch, BooleanOperatorsPrefixAndAny) {
  EXPECT_EQ(MatchesOf("1:tier:1:FAST:1"), (V{0, 1, 2, 3}));
  EXPECT_EQ(MatchesOf("1:name:1:slow:2"), (V{4, 5, 6, 7}));
  EXPECT_EQ(MatchesOf("1:na:2:fast1:1"), (V{1}));       // key prefix
  EXPECT_EQ(MatchesOf("1:any:3:hdd:1"), (V{4, 5, 6}));  // any key
  EXPECT_EQ(MatchesOf("1:kind:1:any:3"), (V{0, 1, 2, 3, 4, 5, 6}));  // key present
  EXPECT_EQ(MatchesOf("1:any:3:any:3"), (V{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(MatchesOf("1:kind:1:any:3.2:any:3:any:3"), (V{7}));
  EXPECT_EQ(MatchesOf("1:tier:1:FAST:1.1:rack:1:r2:1.3:any:3:any:3"), (V{2, 3}));
  EXPECT_EQ(MatchesOf("1:host:1:h0:1.1:host:1:h2:1.4:any:3:any:3"), (V{0, 4, 6, 7}));
  // (FAST OR rack r2) AND NOT kind ssd
  EXPECT_EQ(MatchesOf("1:tier:1:FAST:1.1:rack:1:r2:1.4:any:3:any:3.1:kind:1:ssd:1.2:any:3:any:3."
                      "3:any:3:any:3"),
            (V{0, 1, 6, 7}));
  EXPECT_EQ(MatchesOf("1:tier:1:fast:1"), V{});  // exact is case-sensitive
}

TEST(QuerySelect, PicksDistinctMatchingResourcesAndRotates) {
  auto r = SelectText("1:tier:1:SLOW:1", 3);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, (V{4, 5, 6}));
  EXPECT_EQ(SelectText("1:tier:1:SLOW:1", 3, 6).value(), (V{6, 7, 4}));
  EXPECT_EQ(SelectText("1:tier:1:SLOW:1", 3, 6 + 8).value(), (V{6, 7, 4}));  // deterministic
  EXPECT_EQ(SelectText("1:tier:1:SLOW:1", 0).value(), V{});
  // Rotation spreads first choices over every matching resource.
  std::set<size_t> firsts;
  for (uint64_t rot = 0; rot < 8; ++rot) firsts.insert(SelectText("1:tier:1:SLOW:1", 1, rot)->at(0));
  EXPECT_EQ(firsts, (std::set<size_t>{4, 5, 6, 7}));
}

TEST(QuerySelect, UniqueFlagGivesDistinctValues) {
  // Four FAST vdevs but only three hosts: unique host allows three.
  auto r = SelectText("1:tier:1:FAST:1.1:host:65:any:3.3:any:3:any:3", 3);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, (V{0, 1, 2}));
  // Starting at v3 (host h3) the search must skip v2 (also h3).
  EXPECT_EQ(SelectText("1:tier:1:FAST:1.1:host:65:any:3.3:any:3:any:3", 3, 3).value(), (V{3, 0, 1}));
  EXPECT_EQ(SelectError("1:tier:1:FAST:1.1:host:65:any:3.3:any:3:any:3", 4),
            "unique constraint on 'host' (term 2) needs 4 distinct values, only 3 match");
  // The unique flag on the val side means the same.
  EXPECT_EQ(SelectText("1:tier:1:FAST:1.1:host:1:any:67.3:any:3:any:3", 3).value(), (V{0, 1, 2}));
  // Unique on name: every vdev differs.
  EXPECT_EQ(SelectText("1:name:65:any:3", 8).value().size(), 8u);
}

TEST(QuerySelect, TwoUniqueKeysNeedBacktracking) {
  // Unique host and unique rack, 2 resources: greedy v0 (h0,r1) then v1 is
  // r1 again, v2 (h3,r2) works.
  EXPECT_EQ(SelectText("1:host:65:any:3.1:rack:65:any:3.3:any:3:any:3", 2).value(), (V{0, 2}));
  std::vector<Resource> pool = {
      {"a", {{"x", "1"}, {"y", "1"}}}, {"b", {{"x", "2"}, {"y", "2"}}},
      {"c", {{"x", "1"}, {"y", "3"}}}, {"d", {{"x", "3"}, {"y", "1"}}},
  };
  auto q = ParseQuery("1:x:65:any:3.1:y:65:any:3.3:any:3:any:3").value();
  // Greedy picks a, b and then finds nothing; the only answer is b, c, d.
  EXPECT_EQ(Select(q, pool, 3).value(), (V{1, 2, 3}));
  auto err = Select(q, pool, 4);
  ASSERT_FALSE(err.has_value());
  EXPECT_EQ(err.error().message(),
            "unique constraint on 'x' (term 1) needs 4 distinct values, only 3 match");
  pool.push_back({"e", {{"x", "4"}, {"y", "2"}}});
  pool.push_back({"f", {{"x", "5"}, {"y", "3"}}});
  EXPECT_EQ(Select(q, pool, 4).error().message(),
            "unique constraint on 'y' (term 2) needs 4 distinct values, only 3 match");
}

TEST(QuerySelect, PickOneFlagSharesOneValue) {
  // Pick one rack; 2 resources from the same rack.
  auto r = SelectText("1:rack:129:any:3", 3);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(*r, (V{0, 1, 4}));
  EXPECT_EQ(SelectText("1:rack:129:any:3", 3, 2).value(), (V{2, 3, 6}));
  // Pick one tier, unique hosts: FAST has 3 hosts, SLOW has 3 hosts.
  EXPECT_EQ(SelectText("1:tier:129:any:3.1:host:65:any:3.3:any:3:any:3", 3, 4).value(),
            (V{4, 5, 6}));
  EXPECT_EQ(SelectError("1:rack:129:any:3", 5),
            "pick-one constraint on 'rack' (term 1): no single value is shared by 5 matching "
            "resources (largest group: 'r1' with 4)");
  EXPECT_EQ(SelectError("1:tier:129:any:3.1:host:65:any:3.3:any:3:any:3", 4),
            "unique constraint on 'host' (term 2) needs 4 distinct values, only 3 match in any "
            "group sharing one value of 'tier' (term 1)");
}

TEST(QuerySelect, UnsatisfiableQueriesNameTheTerm) {
  EXPECT_EQ(SelectError("1:tier:1:SLOW:1.1:kind:1:hdd:1.3:any:3:any:3", 4),
            "term 2 (1:kind:1:hdd:1) matched only 3 of 8 resources, need 4");
  EXPECT_EQ(SelectError("1:kind:1:nvme:1.1:tier:1:SLOWEST:1.3:any:3:any:3", 1),
            "term 2 (1:tier:1:SLOWEST:1) matched no resource");
  EXPECT_EQ(SelectError("1:tier:1:FAST:1.1:kind:1:nvme:1.3:any:3:any:3", 3),
            "term 2 (1:kind:1:nvme:1) matched only 2 of 8 resources, need 3");
  EXPECT_EQ(SelectError("1:tier:1:FAST:1.1:tier:1:SLOW:1.3:any:3:any:3", 1),
            "term 3 (3:any:3:any:3: AND of terms 1 and 2) matched no resource");
  EXPECT_EQ(SelectError("1:host:1:h9:1.1:rack:1:r9:1.4:any:3:any:3", 2),
            "term 3 (4:any:3:any:3: OR of terms 1 and 2) matched no resource");
  EXPECT_EQ(SelectError("1:any:3:any:3.2:any:3:any:3", 2),
            "term 2 (2:any:3:any:3: NOT of term 1) matched no resource");
  EXPECT_EQ(SelectError("1:tier:1:SLOW:1.1:kind:65:any:3.4:any:3:any:3", 8),
            "8 resources match the query but only 7 have attribute 'kind', needed by the unique "
            "(64) flag of term 2; need 8");
  EXPECT_EQ(SelectError("1:tier:1:SLOW:1.1:kind:65:any:3.4:any:3:any:3", 5),
            "unique constraint on 'kind' (term 2) needs 5 distinct values, only 3 match");
  EXPECT_EQ(SelectError("1:any:3:any:3", 9), "query needs 9 resources but only 8 candidates exist");
}

TEST(QuerySelect, RandomizedAgainstBruteForce) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(testing::Message() << "seed=" << seed);
  std::mt19937_64 rng(seed);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  auto q = ParseQuery("1:a:65:any:3.1:b:65:any:3.3:any:3:any:3.1:c:129:any:3.3:any:3:any:3").value();
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<Resource> pool(1 + below(9));
    for (auto& r : pool) {
      for (const char* k : {"a", "b", "c"}) {
        if (below(8) != 0) r.attrs[k] = std::to_string(below(3));
      }
    }
    const size_t count = 1 + below(3);
    // Brute force: does any subset of `count` satisfy the constraints?
    bool exists = false;
    for (uint32_t mask = 0; mask < (1u << pool.size()) && !exists; ++mask) {
      if (static_cast<size_t>(__builtin_popcount(mask)) != count) continue;
      std::set<std::string> as, bs, cs;
      bool ok = true;
      for (size_t i = 0; i < pool.size(); ++i) {
        if (!(mask >> i & 1)) continue;
        auto& m = pool[i].attrs;
        if (!m.contains("a") || !m.contains("b") || !m.contains("c")) { ok = false; break; }
        ok = ok && as.insert(m["a"]).second && bs.insert(m["b"]).second;
        cs.insert(m["c"]);
      }
      exists = ok && cs.size() == 1;
    }
    auto got = Select(q, pool, count, below(10));
    ASSERT_EQ(got.has_value(), exists) << "iteration " << iter;
    if (!got) continue;
    std::set<size_t> distinct(got->begin(), got->end());
    ASSERT_EQ(distinct.size(), count);
    std::set<std::string> as, bs, cs;
    for (size_t i : *got) {
      as.insert(pool[i].attrs.at("a"));
      bs.insert(pool[i].attrs.at("b"));
      cs.insert(pool[i].attrs.at("c"));
    }
    ASSERT_EQ(as.size(), count);
    ASSERT_EQ(bs.size(), count);
    ASSERT_EQ(cs.size(), 1u);
  }
}

}  // namespace
}  // namespace tessera
