// Randomized model test: the tree against std::map over many operations,
// with Sync and reopen (sometimes with a fresh cache) in between.
#include <gtest/gtest.h>

#include <random>

#include "tree_test_util.h"

namespace tessera {
namespace {

using testing::Key;

class Model {
 public:
  explicit Model(const MessageActions* actions) : actions_(actions) {}
  void Insert(const std::string& k, const std::string& v) { map_[k] = v; }
  void Delete(const std::string& k) { map_.erase(k); }
  void Upsert(const std::string& k, ActionId id, const std::string& param) {
    auto it = map_.find(k);
    std::optional<std::string_view> old;
    if (it != map_.end()) old = it->second;
    auto v = actions_->Apply(id, old, param);
    if (v) {
      map_[k] = *v;
    } else {
      map_.erase(k);
    }
  }
  void RangeDelete(const std::string& lo, const std::string& hi) {
    map_.erase(map_.lower_bound(lo), map_.lower_bound(hi));
  }
  std::optional<std::string> Get(const std::string& k) const {
    auto it = map_.find(k);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }
  const std::map<std::string, std::string>& map() const { return map_; }

 private:
  const MessageActions* actions_;
  std::map<std::string, std::string> map_;
};

struct ModelRun {
  uint64_t seed;
  int ops;
  uint32_t keyspace;
};

void RunModel(const ModelRun& run) {
  SCOPED_TRACE(::testing::Message() << "seed=" << run.seed);
  std::mt19937_64 rng(run.seed);
  DefaultMessageActions actions;
  MemoryNodeStore store;
  auto cache = std::make_unique<NodeCache>(4 << 20);
  TreeOptions options = testing::SmallOptions();
  options.compress = (run.seed % 2) == 1;
  auto tree = testing::MustCreate(&store, cache.get(), &actions, options);
  Model model(&actions);

  Tree::Stats totals;
  uint32_t max_height = 0;
  auto accumulate = [&] {
    Tree::Stats s = tree->stats();
    totals.flushes += s.flushes;
    totals.splits += s.splits;
    totals.merges += s.merges;
    max_height = std::max(max_height, s.height);
  };
  auto rand_key = [&] { return Key(rng() % run.keyspace); };
  auto rand_value = [&] {
    std::string v(rng() % 48, '\0');
    for (auto& c : v) c = static_cast<char>('a' + rng() % 26);
    return v;
  };
  // Phases shift the mix so the tree both grows and shrinks (splits and merges).
  for (int op = 0; op < run.ops; ++op) {
    int phase = (op / 25000) % 4;  // 0,1 grow; 2 shrink; 3 mixed
    uint32_t r = rng() % 1000;
    uint32_t insert_share = phase == 2 ? 60 : 450;
    if (r < insert_share) {
      std::string k = rand_key(), v = rand_value();
      ASSERT_TRUE(tree->Insert(k, v).has_value());
      model.Insert(k, v);
    } else if (r < 560) {
      std::string k = rand_key();
      ASSERT_TRUE(tree->Delete(k).has_value());
      model.Delete(k);
    } else if (r < 700) {
      std::string k = rand_key();
      ActionId id = static_cast<ActionId>(1 + rng() % 3);
      std::string param = id == kActionCounterAdd
                              ? CounterDelta(static_cast<int64_t>(rng() % 1000) - 500)
                              : BitIndex(static_cast<uint32_t>(rng() % 100));
      ASSERT_TRUE(tree->Upsert(k, id, param).has_value());
      model.Upsert(k, id, param);
    } else if (r < (phase == 2 ? 740u : 705u)) {
      uint64_t a = rng() % run.keyspace;
      uint64_t width = 1 + rng() % (phase == 2 ? 600 : 150);
      std::string lo = Key(a), hi = Key(a + width);
      ASSERT_TRUE(tree->RangeDelete(lo, hi).has_value());
      model.RangeDelete(lo, hi);
    } else if (r < 960) {
      std::string k = rand_key();
      auto got = tree->Get(k);
      ASSERT_TRUE(got.has_value()) << got.error().ToString();
      ASSERT_EQ(*got, model.Get(k)) << "op " << op << " key " << k;
    } else {
      std::string lo = rand_key();
      size_t limit = 1 + rng() % 60;
      std::vector<std::pair<std::string, std::string>> seen;
      auto s = tree->Scan(lo, "", [&](std::string_view k, std::string_view v) {
        seen.emplace_back(k, v);
        return seen.size() < limit;
      });
      ASSERT_TRUE(s.has_value()) << s.error().ToString();
      auto it = model.map().lower_bound(lo);
      for (const auto& [k, v] : seen) {
        ASSERT_NE(it, model.map().end()) << "op " << op;
        ASSERT_EQ(k, it->first) << "op " << op;
        ASSERT_EQ(v, it->second) << "op " << op << " key " << k;
        ++it;
      }
      if (seen.size() < limit) {
        ASSERT_EQ(it, model.map().end()) << "op " << op;
      }
    }

    if (op % 7000 == 6999) {
      auto root = tree->Sync();
      ASSERT_TRUE(root.has_value()) << root.error().ToString();
      EXPECT_EQ(tree->DirtyBytes(), 0u);
      if ((op / 7000) % 2 == 1) {
        accumulate();
        if (rng() % 2) cache = std::make_unique<NodeCache>(1 << 20);
        tree.reset();
        auto reopened = Tree::Open(&store, cache.get(), &actions, options, *root);
        ASSERT_TRUE(reopened.has_value()) << reopened.error().ToString();
        tree = std::move(*reopened);
      }
    }
    if (op % 20000 == 19999) {
      ASSERT_EQ(testing::ScanAll(*tree), model.map()) << "op " << op;
      max_height = std::max(max_height, tree->stats().height);
    }
  }
  accumulate();
  ASSERT_EQ(testing::ScanAll(*tree), model.map());
  auto root = tree->Sync();
  ASSERT_TRUE(root.has_value());
  auto reopened = Tree::Open(&store, cache.get(), &actions, options, *root);
  ASSERT_TRUE(reopened.has_value());
  ASSERT_EQ(testing::ScanAll(**reopened), model.map());

  // The run must have exercised the machinery it is meant to test.
  EXPECT_GT(totals.flushes, 100u);
  EXPECT_GT(totals.splits, 10u);
  EXPECT_GT(totals.merges, 10u);
  EXPECT_GT(max_height, 2u);
  std::cout << "seed " << run.seed << ": flushes " << totals.flushes << " splits "
            << totals.splits << " merges " << totals.merges << " max height " << max_height
            << " final keys " << model.map().size() << "\n";
}

TEST(TreeModel, Seed1) { RunModel({1, 200000, 20000}); }
TEST(TreeModel, Seed2) { RunModel({2, 200000, 30000}); }
TEST(TreeModel, Seed3) { RunModel({3, 200000, 15000}); }
TEST(TreeModel, Seed4) { RunModel({4, 200000, 60000}); }
TEST(TreeModel, Seed5Large) { RunModel({5, 600000, 150000}); }

}  // namespace
}  // namespace tessera
