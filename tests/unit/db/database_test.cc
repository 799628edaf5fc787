#include <gtest/gtest.h>

#include <random>

#include "core/util/aligned_buffer.h"
#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

std::string Key(uint64_t i) { return fmt::format("key{:08}", i); }

TEST(Database, CreateCommitReopen) {
  TestPool tp(2);
  {
    auto db = tp.Create();
    ASSERT_TRUE(db) << db.error().ToString();
    auto ds = (*db)->CreateDataset("alpha");
    ASSERT_TRUE(ds) << ds.error().ToString();
    for (int i = 0; i < 2000; i++) ASSERT_TRUE((*ds)->tree().Insert(Key(i), "v" + std::to_string(i)));
    ASSERT_TRUE((*db)->Commit());
    // Uncommitted changes are lost on a crash.
    ASSERT_TRUE((*ds)->tree().Insert("uncommitted", "x"));
  }
  tp.Reboot();
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  auto ds = (*db)->OpenDataset("alpha");
  ASSERT_TRUE(ds) << ds.error().ToString();
  Model all = ReadAll((*ds)->tree());
  EXPECT_EQ(all.size(), 2000u);
  EXPECT_EQ(all[Key(1234)], "v1234");
  EXPECT_FALSE(all.count("uncommitted"));
  ExpectClean(**db);
}

TEST(Database, DatasetsListAndNameRules) {
  TestPool tp;
  auto db = std::move(*tp.Create());
  ASSERT_TRUE(db->CreateDataset("a"));
  ASSERT_TRUE(db->CreateDataset("b"));
  EXPECT_EQ(db->CreateDataset("a").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(db->CreateDataset("x@y").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(db->CreateDataset("").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(db->OpenDataset("zz").error().code(), Code::kNotFound);
  auto list = db->ListDatasets();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_NE((*list)[0].id, (*list)[1].id);
}

TEST(Database, DeleteDatasetFreesEveryNode) {
  TestPool tp;
  auto db = std::move(*tp.Create());
  ASSERT_TRUE(db->Commit());
  auto baseline = db->Check();
  ASSERT_TRUE(baseline);
  auto ds = db->CreateDataset("big");
  ASSERT_TRUE(ds);
  for (int i = 0; i < 5000; i++) ASSERT_TRUE((*ds)->tree().Insert(Key(i), std::string(40, 'z')));
  ASSERT_TRUE(db->Commit());
  auto full = db->Check();
  ASSERT_TRUE(full);
  EXPECT_GT(full->allocated_blocks, baseline->allocated_blocks + 20);
  ASSERT_TRUE(db->DeleteDataset("big"));
  auto after = db->Check();
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->clean()) << after->Summary();
  // Only root-tree growth (bitmap values already existed) may differ slightly.
  EXPECT_LE(after->allocated_blocks, baseline->allocated_blocks + 8);
  EXPECT_EQ(db->OpenDataset("big").error().code(), Code::kNotFound);
}

// Random operations on two datasets with commits and reopens; after every
// reopen the trees equal the model as of the last commit and Check is clean.
TEST(Database, RandomizedWithReopens) {
  for (uint32_t seed : {11u, 12u}) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    std::mt19937 rng(seed);
    TestPool tp(2);
    auto db = std::move(*tp.Create());
    std::map<std::string, Model> live, committed;
    for (const char* name : {"d1", "d2"}) ASSERT_TRUE(db->CreateDataset(name));
    for (int round = 0; round < 8; round++) {
      for (int op = 0; op < 3000; op++) {
        std::string name = rng() % 2 ? "d1" : "d2";
        Tree& tree = (*db->OpenDataset(name))->tree();
        Model& m = live[name];
        std::string k = Key(rng() % 4000);
        switch (rng() % 4) {
          case 0:
          case 1: {
            std::string v(1 + rng() % 60, static_cast<char>('a' + rng() % 26));
            ASSERT_TRUE(tree.Insert(k, v));
            m[k] = v;
            break;
          }
          case 2:
            ASSERT_TRUE(tree.Delete(k));
            m.erase(k);
            break;
          case 3: {
            std::string hi = Key(std::stoul(k.substr(3)) + 1 + rng() % 30);
            ASSERT_TRUE(tree.RangeDelete(k, hi));
            m.erase(m.lower_bound(k), m.lower_bound(hi));
            break;
          }
        }
      }
      ASSERT_TRUE(db->Commit());
      committed = live;
      if (round % 2 == 1) {
        db.reset();
        tp.Reboot();
        auto reopened = tp.Open();
        ASSERT_TRUE(reopened) << reopened.error().ToString();
        db = std::move(*reopened);
        for (auto& [name, model] : committed) {
          ASSERT_EQ(ReadAll((*db->OpenDataset(name))->tree()), model) << name;
        }
        ExpectClean(*db);
      }
    }
  }
}

TEST(Database, MissingOrForeignSuperblockIsAnError) {
  TestPool tp;
  ASSERT_TRUE(tp.Create());
  // Wipe both superblock slots.
  AlignedBuffer zero(kBlockSize);
  ASSERT_TRUE(tp.media[0]->Write(BlockNo{kSuperblockSlot0}, zero.span()));
  ASSERT_TRUE(tp.media[0]->Write(BlockNo{kSuperblockSlot0 + 1}, zero.span()));
  auto db = tp.Open();
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), Code::kCorruption);
  EXPECT_NE(db.error().message().find("no valid superblock"), std::string::npos);
}

}  // namespace
}  // namespace tessera::testing
