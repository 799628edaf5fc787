// Tree diff: randomized against a std::map model, and a proof that shared
// subtrees are skipped (counting node reads).
#include <gtest/gtest.h>

#include <random>

#include "core/tree/tree_diff.h"
#include "tree_test_util.h"

namespace tessera {
namespace {

using testing::Key;
using Map = std::map<std::string, std::string>;

struct Change {
  std::optional<std::string> old_value, new_value;
  bool operator==(const Change&) const = default;
};
using Changes = std::map<std::string, Change>;

Changes ModelDiff(const Map& a, const Map& b, const std::string& lo, const std::string& hi) {
  Changes out;
  auto in = [&](const std::string& k) { return k >= lo && (hi.empty() || k < hi); };
  for (const auto& [k, v] : a) {
    if (!in(k)) continue;
    auto it = b.find(k);
    if (it == b.end())
      out[k] = {v, std::nullopt};
    else if (it->second != v)
      out[k] = {v, it->second};
  }
  for (const auto& [k, v] : b) {
    if (in(k) && !a.contains(k)) out[k] = {std::nullopt, v};
  }
  return out;
}

Changes TreeDiff(Tree& a, Tree& b, const std::string& lo, const std::string& hi,
                 TreeDiffStats* stats = nullptr) {
  Changes out;
  std::string last;
  auto result = DiffTrees(a, b, lo, hi, [&](std::string_view k, auto old_value, auto new_value) {
    EXPECT_TRUE(out.empty() || std::string(k) > last) << "keys out of order";
    last = std::string(k);
    Change c;
    if (old_value) c.old_value = std::string(*old_value);
    if (new_value) c.new_value = std::string(*new_value);
    out[last] = c;
    return true;
  });
  EXPECT_TRUE(result.has_value()) << result.error().ToString();
  if (result && stats) *stats = *result;
  return out;
}

// Applies `ops` random edits (insert, delete, upsert, range-delete) to the
// tree and the model.
void RandomEdits(std::mt19937_64& rng, Tree& tree, Map& model, int ops, uint32_t keyspace,
                 const MessageActions& actions) {
  for (int op = 0; op < ops; ++op) {
    uint32_t r = rng() % 100;
    std::string k = Key(rng() % keyspace);
    if (r < 60) {
      std::string v(1 + rng() % 40, static_cast<char>('a' + rng() % 26));
      ASSERT_TRUE(tree.Insert(k, v).has_value());
      model[k] = v;
    } else if (r < 80) {
      ASSERT_TRUE(tree.Delete(k).has_value());
      model.erase(k);
    } else if (r < 97) {
      std::string param = CounterDelta(static_cast<int64_t>(rng() % 100) - 50);
      ASSERT_TRUE(tree.Upsert(k, kActionCounterAdd, param).has_value());
      auto it = model.find(k);
      std::optional<std::string_view> old;
      if (it != model.end()) old = it->second;
      auto v = actions.Apply(kActionCounterAdd, old, param);
      if (v)
        model[k] = *v;
      else
        model.erase(k);
    } else {
      uint64_t a = rng() % keyspace;
      std::string lo = Key(a), hi = Key(a + 1 + rng() % 50);
      ASSERT_TRUE(tree.RangeDelete(lo, hi).has_value());
      model.erase(model.lower_bound(lo), model.lower_bound(hi));
    }
  }
}

std::unique_ptr<Tree> MustOpen(MemoryNodeStore* store, NodeCache* cache,
                               const MessageActions* actions, TreeOptions options,
                               const BlockPtr& root) {
  options.read_only = true;
  auto tree = Tree::Open(store, cache, actions, options, root);
  EXPECT_TRUE(tree.has_value()) << tree.error().ToString();
  return std::move(*tree);
}

// Two versions of one tree: an older snapshot (synced root) and a newer one,
// either synced too or the live tree with unsynced edits.
void RunRandomDiff(uint64_t seed) {
  SCOPED_TRACE(::testing::Message() << "seed=" << seed);
  std::mt19937_64 rng(seed);
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(2 << 20);
  TreeOptions options = testing::SmallOptions();
  auto live = testing::MustCreate(&store, &cache, &actions, options);
  Map model;
  uint32_t keyspace = 2000 + rng() % 20000;
  RandomEdits(rng, *live, model, 5000 + rng() % 30000, keyspace, actions);
  for (int round = 0; round < 6; ++round) {
    auto root_a = live->Sync();
    ASSERT_TRUE(root_a.has_value());
    Map model_a = model;
    // Few edits (close snapshots) in some rounds, many in others.
    int edits = round % 2 == 0 ? 1 + rng() % 40 : 1000 + rng() % 20000;
    RandomEdits(rng, *live, model, edits, keyspace, actions);
    auto older = MustOpen(&store, &cache, &actions, options, *root_a);
    std::string lo, hi;
    if (rng() % 2) {
      uint64_t a = rng() % keyspace;
      lo = Key(a);
      hi = Key(a + 1 + rng() % keyspace);
    }
    // Against the live tree (dirty, in-memory nodes on the changed paths).
    ASSERT_EQ(TreeDiff(*older, *live, lo, hi), ModelDiff(model_a, model, lo, hi));
    // Against a synced newer version, both directions.
    auto root_b = live->Sync();
    ASSERT_TRUE(root_b.has_value());
    auto newer = MustOpen(&store, &cache, &actions, options, *root_b);
    ASSERT_EQ(TreeDiff(*older, *newer, lo, hi), ModelDiff(model_a, model, lo, hi));
    ASSERT_EQ(TreeDiff(*newer, *older, lo, hi), ModelDiff(model, model_a, lo, hi));
    ASSERT_TRUE(TreeDiff(*newer, *live, "", "").empty());
    ASSERT_TRUE(TreeDiff(*live, *live, "", "").empty());
  }
}

TEST(TreeDiff, RandomSeed1) { RunRandomDiff(1); }
TEST(TreeDiff, RandomSeed2) { RunRandomDiff(2); }
TEST(TreeDiff, RandomSeed3) { RunRandomDiff(3); }
TEST(TreeDiff, RandomSeed4) { RunRandomDiff(4); }

// Trees of unrelated shape (built in different orders) still diff exactly.
TEST(TreeDiff, UnrelatedTreesCompareByContent) {
  std::mt19937_64 rng(7);
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(2 << 20);
  auto a = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  auto b = testing::MustCreate(&store, &cache, &actions, testing::SmallOptions());
  Map ma, mb;
  RandomEdits(rng, *a, ma, 20000, 8000, actions);
  RandomEdits(rng, *b, mb, 3000, 8000, actions);
  ASSERT_TRUE(a->Sync().has_value());
  ASSERT_EQ(TreeDiff(*a, *b, "", ""), ModelDiff(ma, mb, "", ""));
}

uint64_t CountNodes(Tree& tree) {
  uint64_t n = 0;
  auto s = tree.ForEachNode([&](const BlockPtr&, uint32_t) {
    n++;
    return Ok();
  });
  EXPECT_TRUE(s.has_value());
  return n;
}

// Two close versions of a large tree: the diff reads only the changed paths.
// The changes sit in the root's buffers (not yet flushed down), so the
// pointers of the root's children are all equal and only the pending
// messages tell the changed subtrees apart (tree_diff.h contract 2).
TEST(TreeDiff, SharedSubtreesAreSkipped) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache big_cache(64 << 20);
  TreeOptions options = testing::SmallOptions();
  auto live = testing::MustCreate(&store, &big_cache, &actions, options);
  constexpr uint64_t kKeys = 60000;
  for (uint64_t i = 0; i < kKeys; ++i)
    ASSERT_TRUE(live->Insert(Key(i), std::string(40, 'v')).has_value());
  auto root_a = live->Sync();
  ASSERT_TRUE(root_a.has_value());
  ASSERT_TRUE(live->Insert(Key(100), "changed").has_value());
  ASSERT_TRUE(live->Delete(Key(40000)).has_value());
  ASSERT_TRUE(live->Insert(Key(kKeys + 5), "new").has_value());
  auto root_b = live->Sync();
  ASSERT_TRUE(root_b.has_value());

  NodeCache cold(64 << 20);  // every node read below comes from the store
  auto older = MustOpen(&store, &cold, &actions, options, *root_a);
  auto newer = MustOpen(&store, &cold, &actions, options, *root_b);
  uint32_t height = newer->stats().height;
  ASSERT_GE(height, 3u);
  uint64_t reads_before = store.reads();
  TreeDiffStats stats;
  Changes changes = TreeDiff(*older, *newer, "", "", &stats);
  uint64_t reads = store.reads() - reads_before;
  uint64_t total_nodes = CountNodes(*newer);

  Changes want;
  want[Key(100)] = {std::string(40, 'v'), "changed"};
  want[Key(40000)] = {std::string(40, 'v'), std::nullopt};
  want[Key(kKeys + 5)] = {std::nullopt, "new"};
  EXPECT_EQ(changes, want);
  // Three changed keys: at most three paths of `height` nodes per side.
  EXPECT_LE(reads, 2u * 3u * height);
  EXPECT_LE(stats.nodes_visited, 2u * 3u * height);
  EXPECT_GT(stats.subtrees_skipped, 0u);
  EXPECT_LE(stats.leaves_compared, 3u);
  EXPECT_GT(total_nodes, 20u * reads);
  std::cout << "nodes " << total_nodes << " height " << height << " diff read " << reads
            << " visited " << stats.nodes_visited << " skipped " << stats.subtrees_skipped << "\n";
}

// The same content reached by different messages: pointer-equal children
// under different pending buffers must not be skipped.
TEST(TreeDiff, EqualPointersUnderDifferentBuffersAreCompared) {
  DefaultMessageActions actions;
  MemoryNodeStore store;
  NodeCache cache(16 << 20);
  TreeOptions options = testing::SmallOptions();
  auto live = testing::MustCreate(&store, &cache, &actions, options);
  for (uint64_t i = 0; i < 20000; ++i) ASSERT_TRUE(live->Insert(Key(i), "x").has_value());
  auto root_a = live->Sync();
  ASSERT_TRUE(root_a.has_value());
  ASSERT_TRUE(live->RangeDelete(Key(500), Key(510)).has_value());
  ASSERT_TRUE(live->Upsert(Key(7000), kActionCounterAdd, CounterDelta(3)).has_value());
  auto older = MustOpen(&store, &cache, &actions, options, *root_a);
  Changes changes = TreeDiff(*older, *live, "", "");
  EXPECT_EQ(changes.size(), 11u);
  EXPECT_TRUE(changes.contains(Key(500)) && changes.contains(Key(509)) &&
              changes.contains(Key(7000)));
  EXPECT_FALSE(changes.contains(Key(510)));
}

}  // namespace
}  // namespace tessera
