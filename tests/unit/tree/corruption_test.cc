// Damaged nodes on disk: reads return Corruption, never wrong data.
#include <gtest/gtest.h>

#include <random>

#include "tree_test_util.h"

namespace tessera {
namespace {

using testing::Key;

class TreeCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tree = testing::MustCreate(&store_, &cache_, &actions_, testing::SmallOptions());
    for (int i = 0; i < 12000; ++i) {
      ASSERT_TRUE(tree->Insert(Key(i), "value" + Key(i)).has_value());
      expect_[Key(i)] = "value" + Key(i);
    }
    auto root = tree->Sync();
    ASSERT_TRUE(root.has_value());
    root_ = *root;
    ASSERT_TRUE(tree->ForEachNode([&](const BlockPtr& p, uint32_t level) {
      nodes_.emplace_back(p, level);
      return Ok();
    }).has_value());
    ASSERT_GT(tree->stats().height, 2u);
  }

  // Opens with a fresh cache and checks every read: correct or Corruption.
  // Returns the number of Corruption results.
  size_t CheckReads() {
    NodeCache fresh(8 << 20);
    auto tree = Tree::Open(&store_, &fresh, &actions_, testing::SmallOptions(), root_);
    if (!tree) {
      EXPECT_EQ(tree.error().code(), Code::kCorruption) << tree.error().ToString();
      return 1;
    }
    size_t corrupt = 0;
    for (const auto& [k, v] : expect_) {
      auto got = (*tree)->Get(k);
      if (!got) {
        EXPECT_EQ(got.error().code(), Code::kCorruption);
        ++corrupt;
      } else {
        EXPECT_EQ(*got, v) << k;
      }
    }
    auto it = expect_.begin();
    auto s = (*tree)->Scan("", "", [&](std::string_view k, std::string_view v) {
      EXPECT_NE(it, expect_.end());
      if (it == expect_.end()) return false;
      EXPECT_EQ(k, it->first);
      EXPECT_EQ(v, it->second);
      ++it;
      return true;
    });
    EXPECT_FALSE(s.has_value()) << "a full scan must reach the damaged node";
    if (!s) {
      EXPECT_EQ(s.error().code(), Code::kCorruption);
    }
    return corrupt;
  }

  DefaultMessageActions actions_;
  MemoryNodeStore store_;
  NodeCache cache_{8 << 20};
  BlockPtr root_;
  std::vector<std::pair<BlockPtr, uint32_t>> nodes_;
  std::map<std::string, std::string> expect_;
};

TEST_F(TreeCorruption, BitFlipInAnyNodeIsDetected) {
  std::mt19937_64 rng(5);
  // The root, some internal nodes and some leaves.
  std::vector<size_t> picks = {0};
  for (size_t i = 1; i < nodes_.size(); i += nodes_.size() / 12 + 1) picks.push_back(i);
  for (size_t idx : picks) {
    const auto& [ptr, level] = nodes_[idx];
    SCOPED_TRACE(::testing::Message() << "node " << ptr.address << " level " << level);
    size_t offset = rng() % ptr.stored_bytes;
    uint8_t mask = static_cast<uint8_t>(1u << (rng() % 8));
    ASSERT_TRUE(store_.CorruptByte(ptr.address, offset, mask));
    size_t corrupt = CheckReads();
    EXPECT_GT(corrupt, 0u);
    if (level == 0) {
      EXPECT_LT(corrupt, expect_.size());  // only keys under the bad leaf fail
    }
    ASSERT_TRUE(store_.CorruptByte(ptr.address, offset, mask));  // repair
  }
  NodeCache fresh(8 << 20);
  auto tree = Tree::Open(&store_, &fresh, &actions_, testing::SmallOptions(), root_);
  ASSERT_TRUE(tree.has_value());
  EXPECT_EQ(testing::ScanAll(**tree), expect_);
}

TEST_F(TreeCorruption, TruncatedOrGarbageNodeIsDetected) {
  std::mt19937_64 rng(6);
  const auto& [leaf_ptr, level] = nodes_.back();
  ASSERT_EQ(level, 0u);
  store_.ReplaceBytes(leaf_ptr.address, std::vector<std::byte>(100, std::byte{0x5a}));
  EXPECT_GT(CheckReads(), 0u);
  std::vector<std::byte> garbage(leaf_ptr.Blocks() * 4096);
  for (auto& b : garbage) b = static_cast<std::byte>(rng());
  store_.ReplaceBytes(leaf_ptr.address, garbage);
  EXPECT_GT(CheckReads(), 0u);
  // A damaged root makes Open fail.
  store_.ReplaceBytes(root_.address, {});
  NodeCache fresh(1 << 20);
  auto tree = Tree::Open(&store_, &fresh, &actions_, testing::SmallOptions(), root_);
  ASSERT_FALSE(tree.has_value());
  EXPECT_EQ(tree.error().code(), Code::kCorruption);
  EXPECT_NE(tree.error().message().find(std::to_string(root_.address)), std::string::npos);
}

}  // namespace
}  // namespace tessera
