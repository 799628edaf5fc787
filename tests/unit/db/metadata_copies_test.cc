// The pool's metadata copies setting (database.h contract 5,
// core/db/metadata_copies.cc) and the on-disk forms it brings: version-2
// superblocks and nodes while the pool keeps two copies, version 3 after.
#include <gtest/gtest.h>

#include <set>

#include "core/db/root_keys.h"
#include "core/util/aligned_buffer.h"
#include "core/util/endian.h"
#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

std::string Key(int i) { return fmt::format("key{:06}", i); }

Model Fill(Database& db, const std::string& name, int n) {
  Model m;
  Tree& t = (*db.CreateDataset(name))->tree();
  for (int i = 0; i < n; i++) {
    std::string v(40 + i % 30, static_cast<char>('a' + i % 26));
    EXPECT_TRUE(t.Insert(Key(i), v));
    m[Key(i)] = v;
  }
  EXPECT_TRUE(db.Commit());
  return m;
}

// The version field of the newest superblock on vdev 0.
uint32_t SuperblockVersion(TestPool& tp, uint64_t txg) {
  AlignedBuffer block(kBlockSize);
  EXPECT_TRUE(tp.media[0]->Read(BlockNo{kSuperblockSlot0 + txg % 2}, block.span()));
  return GetU32(block.data() + 8);
}

// Every node of `tree` has `copies` copies, each on its own vdev.
void ExpectCopies(Tree& tree, size_t copies) {
  size_t nodes = 0;
  ASSERT_TRUE(tree.ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
    nodes++;
    auto all = p.CopyAddresses();
    EXPECT_EQ(all.size(), copies);
    std::set<uint32_t> vdevs;
    for (uint64_t a : all) vdevs.insert(DiskAddress{a}.vdev());
    EXPECT_EQ(vdevs.size(), all.size()) << "two copies on one vdev";
    return Ok();
  }));
  EXPECT_GT(nodes, 0u);
}

TEST(MetadataCopies, RaisingRewritesLiveTreesAndSwitchesTheFormat) {
  TestPool tp(4);
  Model a, b;
  {
    auto db = std::move(*tp.Create());
    EXPECT_EQ(db->metadata_copies_setting(), 2u);
    a = Fill(*db, "a", 3000);
    ASSERT_TRUE(db->CreateSnapshot("a", "s"));
    b = Fill(*db, "b", 1000);
    // Two copies: the pool stays in format version 2 (older builds read it).
    EXPECT_EQ(SuperblockVersion(tp, db->txg()), 2u);
    ExpectCopies((*db->OpenDataset("a"))->tree(), 2);

    ASSERT_TRUE(db->RequireMetadataCopies(3));
    EXPECT_EQ(db->metadata_copies_setting(), 3u);
    EXPECT_EQ(db->metadata_copies(), 3u);
    EXPECT_EQ(SuperblockVersion(tp, db->txg()), 3u);
    ExpectCopies((*db->OpenDataset("a"))->tree(), 3);
    ExpectCopies((*db->OpenDataset("b"))->tree(), 3);
    // The snapshot's nodes keep their two copies until a scrub writes them
    // anew (core/db/snapshot_recopy.cc).
    ExpectCopies(**db->OpenSnapshot("a", "s"), 2);
    auto scrub = db->ScrubMetadata();
    ASSERT_TRUE(scrub);
    EXPECT_EQ(scrub->under_replicated, 0u) << scrub->Summary();
    EXPECT_GT(scrub->recopied, 0u) << scrub->Summary();
    EXPECT_TRUE(scrub->clean()) << scrub->Summary();
    ExpectCopies(**db->OpenSnapshot("a", "s"), 3);
    ExpectClean(*db);
    // Never lowered; a value above the maximum is clamped.
    ASSERT_TRUE(db->RequireMetadataCopies(2));
    EXPECT_EQ(db->metadata_copies_setting(), 3u);
    ASSERT_TRUE(db->DeleteSnapshot("a", "s"));
    ASSERT_TRUE(db->Commit());
  }
  tp.Reboot();
  {
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    EXPECT_EQ((*db)->metadata_copies_setting(), 3u);
    EXPECT_TRUE(ReadAll((*(*db)->OpenDataset("a"))->tree()) == a);
    EXPECT_TRUE(ReadAll((*(*db)->OpenDataset("b"))->tree()) == b);
    auto scrub = (*db)->ScrubMetadata();
    ASSERT_TRUE(scrub);
    EXPECT_EQ(scrub->under_replicated, 0u) << scrub->Summary();
    ExpectClean(**db);
  }
  // Three copies on four vdevs: any two may go.
  for (size_t x = 0; x < 4; x++) {
    for (size_t y = x + 1; y < 4; y++) {
      SCOPED_TRACE(fmt::format("vdevs {} and {} dead", x, y));
      tp.Reboot();
      tp.faults[x]->FailNth(1, /*persistent=*/true);
      tp.faults[y]->FailNth(1, /*persistent=*/true);
      auto db = tp.Open();
      ASSERT_TRUE(db) << db.error().ToString();
      EXPECT_TRUE(ReadAll((*(*db)->OpenDataset("a"))->tree()) == a);
      EXPECT_TRUE(ReadAll((*(*db)->OpenDataset("b"))->tree()) == b);
    }
  }
}

TEST(MetadataCopies, BoundedByTheVdevsOfTheMetadataTiers) {
  TestPool tp(2);
  auto db = std::move(*tp.Create());
  Model a = Fill(*db, "a", 500);
  ASSERT_TRUE(db->RequireMetadataCopies(20));
  EXPECT_EQ(db->metadata_copies_setting(), kMaxNodeCopies);
  EXPECT_EQ(db->metadata_copies(), 2u);
  EXPECT_EQ(db->metadata_stats().single_copy_writes, 0u);
  ExpectCopies((*db->OpenDataset("a"))->tree(), 2);
  ExpectClean(*db);
}

TEST(MetadataCopies, BlockPointerFormsRoundTripAndRefuseBadCopies) {
  BlockPtr p{.address = 11, .copy_address = 22, .stored_bytes = 4096, .checksum = 7, .birth = 3};
  const uint64_t five[] = {11, 22, 33, 44, 55};
  p.SetCopies(five);
  EXPECT_EQ(p.CopyCount(), 5u);
  std::byte raw[kBlockPtrEncodedSize];
  EncodeBlockPtr(p, raw);
  EXPECT_EQ(DecodeBlockPtr(raw), p);
  EXPECT_TRUE(CopiesWellFormed(p));
  // The version-2 form keeps the first two copies.
  BlockPtr two = DecodeBlockPtrV2(raw);
  EXPECT_EQ(two.CopyAddresses(), (std::vector<uint64_t>{11, 22}));
  BlockPtr bad = p;
  bad.more_copies[1] = 22;  // twice
  EXPECT_FALSE(CopiesWellFormed(bad));
  bad = p;
  bad.copy_address = 0;  // later copies without a second
  EXPECT_FALSE(CopiesWellFormed(bad));
  bad = p;
  bad.more_copies[0] = 0;  // a hole
  EXPECT_FALSE(CopiesWellFormed(bad));

  // Root-tree records: the short form without a third copy, the long one with.
  DatasetRecord r{.id = 5, .created_txg = 2, .root = p};
  auto back = DecodeDatasetRecord(EncodeDatasetRecord(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->root, p);
  r.root = two;
  EXPECT_EQ(EncodeDatasetRecord(r).size(), 24 + kBlockPtrV2EncodedSize);
  SnapshotRecord snap{.name = "s", .txg = 9, .root = p, .guid = 77};
  auto snap_back = DecodeSnapshotRecord(EncodeSnapshotRecord(snap));
  ASSERT_TRUE(snap_back);
  EXPECT_EQ(snap_back->root, p);
  EXPECT_EQ(snap_back->guid, 77u);
  DeadEntry dead{.birth = 1, .blocks = 1, .copy_address = 22, .more_copies = p.more_copies};
  auto dead_back = DecodeDeadEntry(EncodeDeadEntry(dead));
  ASSERT_TRUE(dead_back);
  EXPECT_EQ(dead_back->CopyAddresses(11), p.CopyAddresses());
}

}  // namespace
}  // namespace tessera::testing
