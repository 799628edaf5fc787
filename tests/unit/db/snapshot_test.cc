// Snapshots pin a dataset's root; deleting them in any order frees exactly
// what nothing else references (dead lists keyed by birth txg).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

TEST(Snapshot, PinsContentAcrossWritesAndReopen) {
  TestPool tp;
  {
    auto db = std::move(*tp.Create());
    Tree& t = (*db->CreateDataset("vol"))->tree();
    for (int i = 0; i < 1000; i++) ASSERT_TRUE(t.Insert(fmt::format("k{:04}", i), "A"));
    ASSERT_TRUE(db->CreateSnapshot("vol", "first"));
    for (int i = 0; i < 1000; i += 2) ASSERT_TRUE(t.Insert(fmt::format("k{:04}", i), "B"));
    ASSERT_TRUE(t.RangeDelete("k0900", "k1000"));
    ASSERT_TRUE(db->Commit());
    auto snap = db->OpenSnapshot("vol", "first");
    ASSERT_TRUE(snap) << snap.error().ToString();
    Model s = ReadAll(**snap);
    EXPECT_EQ(s.size(), 1000u);
    EXPECT_EQ(s["k0002"], "A");
    EXPECT_EQ(t.Get("k0002").value(), "B");
    EXPECT_EQ((*snap)->Insert("x", "y").error().code(), Code::kReadOnly);
    EXPECT_EQ(db->CreateSnapshot("vol", "first").error().code(), Code::kInvalidArgument);
    EXPECT_EQ(db->CreateSnapshot("vol", "a@b").error().code(), Code::kInvalidArgument);
    EXPECT_EQ(db->DeleteSnapshot("vol", "nope").error().code(), Code::kNotFound);
  }
  tp.Reboot();
  auto db = std::move(*tp.Open());
  Model s = ReadAll(**db->OpenSnapshot("vol", "first"));
  Model live = ReadAll((*db->OpenDataset("vol"))->tree());
  EXPECT_EQ(s["k0002"], "A");
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(live["k0002"], "B");
  EXPECT_EQ(live["k0003"], "A");
  EXPECT_EQ(live.size(), 900u);
  auto list = db->ListSnapshots("vol");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "first");
  ExpectClean(*db);
}

// 100 snapshots interleaved with random writes, then deleted in random
// order. After each deletion the remaining snapshots still read what they
// held and Check is clean; at the end only the live tree's blocks remain.
TEST(Snapshot, HundredSnapshotsDeletedInRandomOrder) {
  std::mt19937 rng(2026);
  TestPool tp(2, 16384);
  auto db = std::move(*tp.Create());
  Tree& t = (*db->CreateDataset("vol"))->tree();
  Model live;
  std::map<std::string, Model> snapshots;
  for (int s = 0; s < 100; s++) {
    for (int op = 0; op < 40; op++) {
      std::string k = fmt::format("k{:05}", rng() % 5000);
      if (rng() % 5 == 0) {
        ASSERT_TRUE(t.Delete(k));
        live.erase(k);
      } else {
        std::string v(20 + rng() % 80, static_cast<char>('a' + s % 26));
        ASSERT_TRUE(t.Insert(k, v));
        live[k] = v;
      }
    }
    std::string name = fmt::format("s{}", s);
    ASSERT_TRUE(db->CreateSnapshot("vol", name));
    snapshots[name] = live;
  }
  ExpectClean(*db);
  std::vector<std::string> order;
  for (auto& [name, _] : snapshots) order.push_back(name);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t i = 0; i < order.size(); i++) {
    SCOPED_TRACE("deleting " + order[i]);
    ASSERT_TRUE(db->DeleteSnapshot("vol", order[i]));
    snapshots.erase(order[i]);
    ExpectClean(*db);
    if (::testing::Test::HasFailure()) return;
    if (i % 10 == 0 && !snapshots.empty()) {
      auto& [name, model] = *snapshots.begin();
      EXPECT_EQ(ReadAll(**db->OpenSnapshot("vol", name)), model) << name;
    }
  }
  EXPECT_EQ(ReadAll(t), live);
  // With no snapshot left, every allocated block is referenced by a live tree.
  auto report = db->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
  EXPECT_EQ(report->allocated_blocks, report->referenced_blocks);
}

TEST(Snapshot, DeleteDatasetWithSnapshotsFreesEverything) {
  for (size_t vdevs : {1u, 2u}) {  // one copy of every node, then two
    SCOPED_TRACE(fmt::format("{} vdevs", vdevs));
    TestPool tp(vdevs);
    auto db = std::move(*tp.Create());
    auto base = db->Check();
    ASSERT_TRUE(base);
    Tree& t = (*db->CreateDataset("vol"))->tree();
    for (int s = 0; s < 5; s++) {
      for (int i = 0; i < 500; i++) ASSERT_TRUE(t.Insert(fmt::format("k{:04}-{}", i, s), "x"));
      ASSERT_TRUE(db->CreateSnapshot("vol", fmt::format("s{}", s)));
    }
    ASSERT_TRUE(db->DeleteDataset("vol"));
    auto after = db->Check();
    ASSERT_TRUE(after);
    EXPECT_TRUE(after->clean()) << after->Summary();
    EXPECT_LE(after->allocated_blocks, base->allocated_blocks + 8 * vdevs);
  }
}

}  // namespace
}  // namespace tessera::testing
