// Snapshot guids (the identity diff streams check) and the node space a
// snapshot holds.
#include <gtest/gtest.h>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

TEST(SnapshotGuid, RandomOrGivenAndDurable) {
  TestPool tp;
  uint64_t a = 0;
  {
    auto db = std::move(*tp.Create());
    Tree& t = (*db->CreateDataset("vol"))->tree();
    ASSERT_TRUE(t.Insert("k", "v"));
    ASSERT_TRUE(db->CreateSnapshot("vol", "a"));
    ASSERT_TRUE(db->CreateSnapshot("vol", "b", 0x1234));
    auto list = db->ListSnapshots("vol");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 2u);
    a = (*list)[0].guid;
    EXPECT_NE(a, 0u);
    EXPECT_EQ((*list)[1].guid, 0x1234u);
  }
  tp.Reboot();
  auto db = std::move(*tp.Open());
  auto list = db->ListSnapshots("vol");
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0].guid, a);
  EXPECT_EQ((*list)[1].guid, 0x1234u);
}

TEST(SnapshotGuid, RecordsWithoutGuidGetAStableOne) {
  SnapshotRecord r{
      .name = "s", .txg = 7, .created_unix = 9, .root = {.address = 5, .checksum = 77}};
  std::string encoded = EncodeSnapshotRecord(r);
  std::string old = encoded.substr(0, encoded.size() - 8);  // the record before guids
  auto a = DecodeSnapshotRecord(old);
  auto b = DecodeSnapshotRecord(old);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->name, "s");
  EXPECT_NE(a->guid, 0u);
  EXPECT_EQ(a->guid, b->guid);
  EXPECT_EQ(DecodeSnapshotRecord(old + "x").error().code(), Code::kCorruption);
}

TEST(SnapshotSpace, UniqueNodesAreTheOnesDeleteFrees) {
  TestPool tp;
  auto db = std::move(*tp.Create());
  Tree& t = (*db->CreateDataset("vol"))->tree();
  for (int i = 0; i < 3000; i++)
    ASSERT_TRUE(t.Insert(fmt::format("k{:05}", i), std::string(100, 'a')));
  ASSERT_TRUE(db->CreateSnapshot("vol", "s1"));
  for (int i = 0; i < 3000; i++)
    ASSERT_TRUE(t.Insert(fmt::format("k{:05}", i), std::string(100, 'b')));
  ASSERT_TRUE(db->CreateSnapshot("vol", "s2"));
  for (int i = 0; i < 3000; i++)
    ASSERT_TRUE(t.Insert(fmt::format("k{:05}", i), std::string(100, 'c')));
  ASSERT_TRUE(db->Commit());
  auto s2 = db->SnapshotSpace("vol", "s2");
  ASSERT_TRUE(s2) << s2.error().ToString();
  EXPECT_GT(s2->node_bytes, 300000u);
  EXPECT_GT(s2->unique_node_bytes, 0u);
  EXPECT_GT(*db->DeadListBytes(), 0u);
  uint64_t before = db->allocator().UsageOfTier(Tier::kFastest).allocated_blocks;
  ASSERT_TRUE(db->DeleteSnapshot("vol", "s2"));
  uint64_t after = db->allocator().UsageOfTier(Tier::kFastest).allocated_blocks;
  EXPECT_GT(s2->unique_node_bytes, 64u * 1024);
  EXPECT_EQ((before - after) * 4096, s2->unique_node_bytes);
  EXPECT_EQ(db->SnapshotSpace("vol", "s2").error().code(), Code::kNotFound);
  ExpectClean(*db);
}

}  // namespace
}  // namespace tessera::testing
