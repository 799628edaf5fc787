#include <gtest/gtest.h>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

TEST(Extent, RecordedCheckedAndFreedWithDataset) {
  TestPool tp(2);
  auto db = std::move(*tp.Create());
  Dataset* ds = *db->CreateDataset("vol");
  auto a = db->AllocateExtent(ds, Tier::kFastest, 1, BlockCount{256});
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->vdev(), 1u);
  auto b = db->AllocateExtent(ds, Tier::kFastest, 0, BlockCount{128});
  ASSERT_TRUE(b);
  ExpectClean(*db);  // extents count as referenced: no leak reported
  ASSERT_EQ(db->ExtentsOf(ds)->size(), 2u);
  ASSERT_TRUE(db->FreeExtent(ds, *b));
  EXPECT_EQ(db->FreeExtent(ds, *b).error().code(), Code::kNotFound);
  ExpectClean(*db);
  db.reset();
  tp.Reboot();
  db = std::move(*tp.Open());
  ds = *db->OpenDataset("vol");
  auto extents = db->ExtentsOf(ds);
  ASSERT_TRUE(extents);
  ASSERT_EQ(extents->size(), 1u);
  EXPECT_EQ((*extents)[0].address, *a);
  EXPECT_TRUE(db->allocator().IsAllocated(*a, BlockCount{256}));
  ExpectClean(*db);
  ASSERT_TRUE(db->DeleteDataset("vol"));
  EXPECT_FALSE(db->allocator().IsAllocated(*a, BlockCount{1}));
  ExpectClean(*db);
}

TEST(Extent, UncommittedExtentVanishesAfterCrash) {
  TestPool tp(1);
  DiskAddress a;
  {
    auto db = std::move(*tp.Create());
    Dataset* ds = *db->CreateDataset("vol");
    ASSERT_TRUE(db->Commit());
    a = *db->AllocateExtent(ds, Tier::kFastest, 0, BlockCount{64});
  }
  tp.PowerLossAll();
  tp.Reboot();
  auto db = std::move(*tp.Open());
  EXPECT_FALSE(db->allocator().IsAllocated(a, BlockCount{64}));
  EXPECT_TRUE(db->ExtentsOf(*db->OpenDataset("vol"))->empty());
  ExpectClean(*db);
}

}  // namespace
}  // namespace tessera::testing
