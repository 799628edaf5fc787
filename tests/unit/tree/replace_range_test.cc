// Tree::ReplaceRange (contract 7): readers and Sync see a replaced range
// either as it was or whole, never between the delete and the inserts.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "tree_test_util.h"

namespace tessera {
namespace {

using testing::Key;

// A text of `count` chunks, version `version`: each chunk names both, so a
// mix of two versions or a partial text is visible.
std::vector<TreeEntry> Chunks(uint64_t version, uint32_t count) {
  std::vector<TreeEntry> out;
  for (uint32_t i = 0; i < count; i++) {
    std::string value = fmt::format("{}:{}:{}:", version, count, i);
    value.resize(3000, '.');
    out.push_back(TreeEntry{.key = fmt::format("x{:04}", i), .value = std::move(value)});
  }
  return out;
}

// Empty when the range holds one whole version; otherwise what is wrong.
std::string WholeOrWhat(Tree& tree) {
  std::vector<std::string> values;
  auto scanned = tree.Scan("x", "y", [&](std::string_view, std::string_view v) {
    values.emplace_back(v);
    return true;
  });
  if (!scanned) return scanned.error().ToString();
  if (values.empty()) return "no chunk at all";
  uint64_t version = 0;
  uint32_t count = 0;
  for (size_t i = 0; i < values.size(); i++) {
    uint64_t v = 0;
    uint32_t c = 0, index = 0;
    if (std::sscanf(values[i].c_str(), "%lu:%u:%u:", &v, &c, &index) != 3) return "unreadable chunk";
    if (i == 0) version = v, count = c;
    if (v != version || c != count || index != i) {
      return fmt::format("chunk {} is of version {} (count {}), chunk 0 of version {}", i, v, c, version);
    }
  }
  if (values.size() != count) return fmt::format("{} chunks of a text of {}", values.size(), count);
  return "";
}

TEST(TreeReplaceRange, BadInputChangesNothing) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(4 << 20);
  auto tree = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  ASSERT_TRUE(tree->ReplaceRange("x", "y", Chunks(1, 3)));
  auto before = testing::ScanAll(*tree);
  std::vector<TreeEntry> outside = Chunks(2, 2);
  outside.push_back(TreeEntry{.key = "z", .value = "v"});
  EXPECT_EQ(tree->ReplaceRange("x", "y", outside).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(tree->ReplaceRange("y", "x", Chunks(2, 1)).error().code(), Code::kInvalidArgument);
  std::vector<TreeEntry> huge{TreeEntry{.key = "x1", .value = std::string(kMaxValueSize + 1, 'a')}};
  EXPECT_EQ(tree->ReplaceRange("x", "y", huge).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(testing::ScanAll(*tree), before);
  ASSERT_TRUE(tree->ReplaceRange("x", "y", Chunks(3, 1)));
  EXPECT_EQ(WholeOrWhat(*tree), "");
  EXPECT_EQ(testing::ScanAll(*tree).size(), 1u);
}

// A writer replaces a multi-chunk text of varying length while other keys
// churn (so nodes flush and split); a reader scans it and a committer syncs
// and reads the synced root as a fresh tree would after a crash.
TEST(TreeReplaceRange, ReadersAndSyncSeeOldOrNewNeverAMix) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(16 << 20);
  auto tree = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  ASSERT_TRUE(tree->ReplaceRange("x", "y", Chunks(0, 4)));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, syncs{0};
  std::string reader_error, sync_error;
  std::thread reader([&] {
    while (!stop && reader_error.empty()) {
      reader_error = WholeOrWhat(*tree);
      reads++;
    }
  });
  std::thread committer([&] {
    while (!stop && sync_error.empty()) {
      auto root = tree->Sync();
      if (!root) {
        sync_error = root.error().ToString();
        break;
      }
      // No other Sync runs, so the synced version's nodes stay intact here.
      auto reopened = Tree::Open(&store, &cache, &actions, testing::SmallOptions(), *root);
      if (!reopened) {
        sync_error = reopened.error().ToString();
        break;
      }
      std::string what = WholeOrWhat(**reopened);
      if (!what.empty()) sync_error = "synced root: " + what;
      syncs++;
    }
  });
  std::mt19937_64 rng(5);
  for (uint64_t version = 1; version <= 3000 && reader_error.empty() && sync_error.empty(); version++) {
    ASSERT_TRUE(tree->ReplaceRange("x", "y", Chunks(version, 1 + rng() % 8)));
    for (int i = 0; i < 4; i++) ASSERT_TRUE(tree->Insert(Key(rng() % 5000), std::string(200, 'k')));
  }
  stop = true;
  reader.join();
  committer.join();
  EXPECT_EQ(reader_error, "");
  EXPECT_EQ(sync_error, "");
  EXPECT_GT(reads.load(), 0u);
  EXPECT_GT(syncs.load(), 0u);
}

}  // namespace
}  // namespace tessera
