// Message semantics: built-in actions, and upserts / deletes / range-deletes
// stacked over older data at various levels of the tree.
#include <gtest/gtest.h>

#include <random>

#include "tree_test_util.h"

namespace tessera {
namespace {

using testing::Key;

TEST(DefaultMessageActions, CounterAndBits) {
  DefaultMessageActions a;
  EXPECT_TRUE(a.Knows(kActionCounterAdd));
  EXPECT_FALSE(a.Knows(0));
  EXPECT_FALSE(a.Knows(99));
  auto v = a.Apply(kActionCounterAdd, std::nullopt, CounterDelta(5));
  ASSERT_TRUE(v);
  EXPECT_EQ(DecodeCounter(*v), 5);
  v = a.Apply(kActionCounterAdd, *v, CounterDelta(-12));
  EXPECT_EQ(DecodeCounter(*v), -7);
  v = a.Apply(kActionBitSet, std::nullopt, BitIndex(9));
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, std::string("\x00\x02", 2));
  v = a.Apply(kActionBitSet, *v, BitIndex(0));
  EXPECT_EQ(*v, std::string("\x01\x02", 2));
  v = a.Apply(kActionBitClear, *v, BitIndex(9));
  EXPECT_EQ(*v, std::string("\x01\x00", 2));
  EXPECT_FALSE(a.Apply(kActionBitClear, std::nullopt, BitIndex(3)).has_value());
  EXPECT_EQ(*a.Apply(kActionBitClear, std::string("\x01"), BitIndex(40)), "\x01");
  // Malformed params leave the value alone.
  EXPECT_EQ(*a.Apply(kActionCounterAdd, std::string("abc"), "x"), "abc");
}

class TreeMessages : public ::testing::Test {
 protected:
  void SetUp() override {
    tree_ = testing::MustCreate(&store_, &cache_, &actions_, testing::SmallOptions());
  }
  // Pushes older messages down: enough filler to flush every root buffer.
  void Filler(int n) {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(tree_->Insert("f" + Key(rng_() % 200000), std::string(20, 'f')).has_value());
    }
  }
  std::optional<std::string> Get(const std::string& k) {
    auto r = tree_->Get(k);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    // Scan must agree with Get.
    std::optional<std::string> scanned;
    std::string hi = k + '\0';
    EXPECT_TRUE(tree_->Scan(k, hi, [&](std::string_view sk, std::string_view v) {
      EXPECT_EQ(sk, k);
      scanned = std::string(v);
      return true;
    }).has_value());
    EXPECT_EQ(scanned, *r) << k;
    return *r;
  }
  int64_t Counter(const std::string& k) {
    auto v = Get(k);
    EXPECT_TRUE(v.has_value()) << k;
    return v ? DecodeCounter(*v) : INT64_MIN;
  }

  std::mt19937_64 rng_{11};
  DefaultMessageActions actions_;
  MemoryNodeStore store_;
  NodeCache cache_{8 << 20};
  std::unique_ptr<Tree> tree_;
};

TEST_F(TreeMessages, UpsertsStackOverInsertsAtEveryDepth) {
  Filler(20000);
  ASSERT_GT(tree_->stats().height, 2u);
  // Each key gets its ops separated by different amounts of filler, so the
  // messages sit at different levels when they are combined.
  const int kKeys = 40;
  std::vector<int64_t> expect(kKeys, 0);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(tree_->Insert("c" + Key(i), CounterDelta(100 + i)).has_value());
    expect[i] = 100 + i;
  }
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < kKeys; ++i) {
      ASSERT_TRUE(tree_->Upsert("c" + Key(i), kActionCounterAdd, CounterDelta(i - round)).has_value());
      expect[i] += i - round;
      if (i % 3 == round % 3) Filler(50 * (i % 7));
    }
    Filler(round * 400);
    if (round == 3) {
      ASSERT_TRUE(tree_->Sync().has_value());
    }
    for (int i = 0; i < kKeys; ++i) ASSERT_EQ(Counter("c" + Key(i)), expect[i]) << i;
  }
}

TEST_F(TreeMessages, UpsertOverDeleteAndAbsent) {
  Filler(15000);
  ASSERT_TRUE(tree_->Insert("x1", CounterDelta(50)).has_value());
  Filler(3000);
  ASSERT_TRUE(tree_->Delete("x1").has_value());
  Filler(200);
  ASSERT_TRUE(tree_->Upsert("x1", kActionCounterAdd, CounterDelta(3)).has_value());
  EXPECT_EQ(Counter("x1"), 3);
  ASSERT_TRUE(tree_->Upsert("x2", kActionCounterAdd, CounterDelta(-4)).has_value());
  ASSERT_TRUE(tree_->Upsert("x2", kActionCounterAdd, CounterDelta(-4)).has_value());
  EXPECT_EQ(Counter("x2"), -8);
  Filler(3000);
  EXPECT_EQ(Counter("x1"), 3);
  EXPECT_EQ(Counter("x2"), -8);
  // Bit clear on absent stays absent; bit set creates.
  ASSERT_TRUE(tree_->Upsert("b1", kActionBitClear, BitIndex(3)).has_value());
  EXPECT_FALSE(Get("b1").has_value());
  ASSERT_TRUE(tree_->Upsert("b1", kActionBitSet, BitIndex(3)).has_value());
  Filler(2000);
  ASSERT_TRUE(tree_->Upsert("b1", kActionBitSet, BitIndex(12)).has_value());
  ASSERT_TRUE(tree_->Upsert("b1", kActionBitClear, BitIndex(3)).has_value());
  EXPECT_EQ(Get("b1"), std::string("\x00\x10", 2));
  Filler(4000);
  EXPECT_EQ(Get("b1"), std::string("\x00\x10", 2));
}

TEST_F(TreeMessages, RangeDeleteShadowsOlderDataAndReinsertWins) {
  for (int i = 0; i < 3000; ++i) ASSERT_TRUE(tree_->Insert(Key(i), "old" + Key(i)).has_value());
  Filler(15000);
  ASSERT_TRUE(tree_->Sync().has_value());
  ASSERT_TRUE(tree_->RangeDelete(Key(1000), Key(2000)).has_value());
  EXPECT_FALSE(Get(Key(1500)).has_value());
  EXPECT_EQ(Get(Key(999)), "old" + Key(999));
  EXPECT_EQ(Get(Key(2000)), "old" + Key(2000));
  ASSERT_TRUE(tree_->Insert(Key(1500), "new").has_value());
  ASSERT_TRUE(tree_->Upsert(Key(1600), kActionCounterAdd, CounterDelta(9)).has_value());
  EXPECT_EQ(Get(Key(1500)), "new");
  EXPECT_EQ(Counter(Key(1600)), 9);
  auto range = testing::ScanAll(*tree_, Key(900), Key(2100));
  EXPECT_EQ(range.size(), 100u + 2u + 100u);
  Filler(8000);  // push the range-delete and re-inserts down to the leaves
  range = testing::ScanAll(*tree_, Key(900), Key(2100));
  EXPECT_EQ(range.size(), 202u);
  EXPECT_EQ(range[Key(1500)], "new");
  // A second, overlapping range-delete, then reopen.
  ASSERT_TRUE(tree_->RangeDelete(Key(1550), Key(2050)).has_value());
  auto root = tree_->Sync();
  ASSERT_TRUE(root.has_value());
  NodeCache fresh(1 << 20);
  auto reopened = Tree::Open(&store_, &fresh, &actions_, testing::SmallOptions(), *root);
  ASSERT_TRUE(reopened.has_value());
  range = testing::ScanAll(**reopened, Key(900), Key(2100));
  EXPECT_EQ(range.size(), 100u + 1u + 50u);
  EXPECT_FALSE(range.contains(Key(1600)));
}

TEST_F(TreeMessages, BadArgumentsChangeNothing) {
  ASSERT_TRUE(tree_->Insert("a", "1").has_value());
  EXPECT_EQ(tree_->Insert("", "v").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(tree_->Insert(std::string(kMaxKeySize + 1, 'k'), "v").error().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tree_->Insert("b", std::string(kMaxValueSize + 1, 'v')).error().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(tree_->Upsert("a", 77, "p").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(tree_->RangeDelete("b", "a").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(tree_->RangeDelete("a", "a").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(testing::ScanAll(*tree_), (std::map<std::string, std::string>{{"a", "1"}}));
  ASSERT_TRUE(tree_->Insert(std::string(kMaxKeySize, 'k'), std::string(kMaxValueSize, 'v')).has_value());
}

TEST_F(TreeMessages, ReadOnlyTreeRefusesMutations) {
  ASSERT_TRUE(tree_->Insert("a", "1").has_value());
  auto root = tree_->Sync();
  ASSERT_TRUE(root.has_value());
  TreeOptions ro = testing::SmallOptions();
  ro.read_only = true;
  auto snap = Tree::Open(&store_, &cache_, &actions_, ro, *root);
  ASSERT_TRUE(snap.has_value());
  EXPECT_EQ((*snap)->Insert("b", "2").error().code(), Code::kReadOnly);
  EXPECT_EQ((*snap)->Delete("a").error().code(), Code::kReadOnly);
  EXPECT_EQ((*snap)->Upsert("a", kActionBitSet, BitIndex(1)).error().code(), Code::kReadOnly);
  EXPECT_EQ((*snap)->RangeDelete("a", "z").error().code(), Code::kReadOnly);
  EXPECT_EQ((*snap)->FreeAll().error().code(), Code::kReadOnly);
  EXPECT_EQ(*(*snap)->Sync(), *root);
  EXPECT_EQ(*(*snap)->Get("a"), "1");
}

TEST_F(TreeMessages, OptionsAreValidated) {
  TreeOptions o;
  o.node_size = 4096;
  EXPECT_EQ(Tree::Create(&store_, &cache_, &actions_, o).error().code(), Code::kInvalidArgument);
  o = TreeOptions{};
  o.max_fanout = 2;
  EXPECT_EQ(Tree::Create(&store_, &cache_, &actions_, o).error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
