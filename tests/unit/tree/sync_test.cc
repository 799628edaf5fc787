// Copy-on-write Sync: exactly the replaced nodes are freed, old roots stay
// readable, ForEachNode / FreeAll cover the synced version.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "tree_test_util.h"

namespace tessera {
namespace {

using testing::Key;

std::set<uint64_t> FreedAddresses(const MemoryNodeStore& store, size_t from = 0) {
  std::set<uint64_t> out;
  auto freed = store.freed();
  for (size_t i = from; i < freed.size(); ++i) {
    EXPECT_TRUE(out.insert(freed[i].address).second) << "freed twice: " << freed[i].address;
  }
  return out;
}

TEST(TreeSync, CopyOnWriteFreesExactlyTheReplacedNodes) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(4 << 20);
  auto tree = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  EXPECT_TRUE(tree->root().IsNull());
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(tree->Insert(Key(rng() % 50000), "v").has_value());
  store.SetGeneration(10);
  auto first = tree->Sync();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->birth, 10u);
  EXPECT_EQ(tree->root(), *first);
  EXPECT_EQ(*tree->Sync(), *first);  // nothing dirty: same root, nothing written
  std::set<uint64_t> reachable = testing::Reachable(*tree);
  EXPECT_GT(reachable.size(), 10u);
  EXPECT_TRUE(store.freed().empty());
  auto old_contents = testing::ScanAll(*tree);

  std::set<uint64_t> all_freed;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE(round);
    size_t freed_before = store.freed().size();
    int n = round % 3 == 0 ? 5 : 3000;  // small and large changes
    for (int i = 0; i < n; ++i) {
      uint64_t k = rng() % 50000;
      if (rng() % 4 == 0) {
        ASSERT_TRUE(tree->Delete(Key(k)).has_value());
      } else {
        ASSERT_TRUE(tree->Insert(Key(k), "w").has_value());
      }
    }
    if (round % 4 == 3) {
      ASSERT_TRUE(tree->RangeDelete(Key(rng() % 50000), Key(50000)).has_value());
    }
    store.SetGeneration(11 + round);
    auto root = tree->Sync();
    ASSERT_TRUE(root.has_value());
    std::set<uint64_t> now = testing::Reachable(*tree);
    std::set<uint64_t> freed = FreedAddresses(store, freed_before);
    std::set<uint64_t> replaced;
    std::set_difference(reachable.begin(), reachable.end(), now.begin(), now.end(),
                        std::inserter(replaced, replaced.end()));
    EXPECT_EQ(freed, replaced);
    for (uint64_t a : freed) EXPECT_TRUE(all_freed.insert(a).second);
    reachable = now;
  }
  // Every allocated node is either reachable from the newest root or freed.
  for (uint64_t a : store.allocated()) {
    EXPECT_NE(reachable.contains(a), all_freed.contains(a)) << a;
  }
  // The first root is still intact (the store keeps freed bytes, like a snapshot).
  NodeCache fresh(1 << 20);
  auto old_tree = Tree::Open(&store, &fresh, &actions, testing::SmallOptions(), *first);
  ASSERT_TRUE(old_tree.has_value());
  EXPECT_EQ(testing::ScanAll(**old_tree), old_contents);
}

TEST(TreeSync, ForEachNodeParentsFirstAndFreeAll) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(4 << 20);
  auto tree = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  for (int i = 0; i < 30000; ++i) ASSERT_TRUE(tree->Insert(Key(i * 7919 % 30000), "v").has_value());
  ASSERT_TRUE(tree->Sync().has_value());
  std::vector<uint32_t> levels;
  ASSERT_TRUE(tree->ForEachNode([&](const BlockPtr& p, uint32_t level) {
    EXPECT_FALSE(p.IsNull());
    levels.push_back(level);
    return Ok();
  }).has_value());
  ASSERT_GT(levels.size(), 3u);
  EXPECT_EQ(levels.front() + 1, tree->stats().height);
  EXPECT_EQ(levels.back(), 0u);
  // Errors from the callback stop the walk.
  int calls = 0;
  auto stopped = tree->ForEachNode([&](const BlockPtr&, uint32_t) -> Status {
    ++calls;
    return Err(Code::kBusy, "stop");
  });
  EXPECT_EQ(stopped.error().code(), Code::kBusy);
  EXPECT_EQ(calls, 1);
  // Dirty changes don't matter to FreeAll: it frees the synced version.
  ASSERT_TRUE(tree->Insert("zzz", "1").has_value());
  size_t reachable = levels.size();
  ASSERT_TRUE(tree->FreeAll().has_value());
  EXPECT_EQ(store.freed().size(), reachable);
  EXPECT_EQ(FreedAddresses(store).size(), reachable);
  EXPECT_FALSE(tree->Insert("a", "b").has_value());
  EXPECT_EQ(cache.dirty_bytes(), 0u);
}

TEST(TreeSync, DirtyBytesAreReportedAndCleared) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(64 << 20);
  auto tree = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(tree->Insert(Key(i), "value").has_value());
  EXPECT_GT(tree->DirtyBytes(), 100000u);
  EXPECT_GT(cache.dirty_bytes(), 0u);
  ASSERT_TRUE(tree->Sync().has_value());
  EXPECT_EQ(tree->DirtyBytes(), 0u);
  EXPECT_EQ(cache.dirty_bytes(), 0u);
  EXPECT_GT(tree->stats().nodes_written, 5u);
}

TEST(TreeSync, ConcurrentReadersAndWriter) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(256 << 10);  // small: readers load and evict nodes
  auto tree = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  // Even keys hold "v"+key forever; the writer only touches odd keys.
  for (int i = 0; i < 20000; i += 2) ASSERT_TRUE(tree->Insert(Key(i), "v" + Key(i)).has_value());
  ASSERT_TRUE(tree->Sync().has_value());
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      while (!done) {
        int k = static_cast<int>(rng() % 10000) * 2;
        auto v = tree->Get(Key(k));
        if (!v || *v != "v" + Key(k)) ++errors;
        int seen = 0;
        auto s = tree->Scan(Key(k), "", [&](std::string_view key, std::string_view val) {
          if (key.back() % 2 == 0 && val != "v" + std::string(key)) ++errors;
          return ++seen < 20;
        });
        if (!s) ++errors;
      }
    });
  }
  std::mt19937_64 rng(99);
  for (int i = 0; i < 30000; ++i) {
    int k = static_cast<int>(rng() % 10000) * 2 + 1;
    ASSERT_TRUE(tree->Insert(Key(k), "odd").has_value());
    if (i % 5000 == 4999) {
      ASSERT_TRUE(tree->Sync().has_value());
    }
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(errors.load(), 0);
}

}  // namespace
}  // namespace tessera
