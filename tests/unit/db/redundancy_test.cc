// Metadata redundancy: ditto copies of tree nodes on distinct vdevs,
// superblocks on two vdevs, self-repairing reads, and ScrubMetadata. Every
// test damages one vdev (fails it, or flips bits in its blocks) below a
// multi-vdev pool and checks that nothing is lost, that bad copies are
// repaired and counted, and that two bad copies give Corruption, never data.
#include <gtest/gtest.h>

#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"
#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

struct Expected {
  Model a, b, snap;  // datasets "a" and "b", snapshot a@s1
};

std::string Key(int i) { return fmt::format("key{:06}", i); }

// Two datasets, a snapshot of one of them, then more changes; all committed.
Expected Populate(Database& db) {
  Expected e;
  Tree& a = (*db.CreateDataset("a"))->tree();
  Tree& b = (*db.CreateDataset("b"))->tree();
  for (int i = 0; i < 3000; i++) {
    std::string v(20 + i % 50, static_cast<char>('a' + i % 26));
    EXPECT_TRUE(a.Insert(Key(i), v));
    e.a[Key(i)] = v;
    EXPECT_TRUE(b.Insert(Key(i * 7), "b" + v));
    e.b[Key(i * 7)] = "b" + v;
  }
  EXPECT_TRUE(db.CreateSnapshot("a", "s1"));
  e.snap = e.a;
  for (int i = 0; i < 3000; i += 3) {
    EXPECT_TRUE(a.Insert(Key(i), "changed"));
    e.a[Key(i)] = "changed";
  }
  EXPECT_TRUE(a.RangeDelete(Key(1000), Key(1500)));
  e.a.erase(e.a.lower_bound(Key(1000)), e.a.lower_bound(Key(1500)));
  EXPECT_TRUE(db.Commit());
  return e;
}

// Reads every dataset and the snapshot and compares with the model.
void ExpectContent(Database& db, const Expected& e) {
  auto a = db.OpenDataset("a");
  auto b = db.OpenDataset("b");
  ASSERT_TRUE(a) << a.error().ToString();
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_TRUE(ReadAll((*a)->tree()) == e.a);
  EXPECT_TRUE(ReadAll((*b)->tree()) == e.b);
  auto snap = db.OpenSnapshot("a", "s1");
  ASSERT_TRUE(snap) << snap.error().ToString();
  EXPECT_TRUE(ReadAll(**snap) == e.snap);
}

// Allocated blocks of one vdev outside its reserved blocks: in these pools
// (no data extents) exactly the tree node copies on it.
std::vector<uint64_t> NodeBlocksOn(Database& db, uint32_t vdev) {
  std::vector<uint64_t> out;
  const PoolVdev& v = db.pool().vdevs()[vdev];
  db.allocator().ForEachAllocatedRun([&](DiskAddress a, uint64_t n) {
    if (a.tier() != v.config.tier || a.vdev() != v.config.index) return;
    for (uint64_t b = a.block(); b < a.block() + n; b++) {
      if (b >= v.first && b < v.end) out.push_back(b);
    }
  });
  return out;
}

// XORs a bit into byte 8 (inside every node's header) of each block.
void FlipBlocks(MemoryVdev& media, const std::vector<uint64_t>& blocks) {
  AlignedBuffer buf(kBlockSize);
  for (uint64_t b : blocks) {
    ASSERT_TRUE(media.Read(BlockNo{b}, buf.span()));
    buf.data()[8] ^= std::byte{0x04};
    ASSERT_TRUE(media.Write(BlockNo{b}, buf.span()));
  }
}

TEST(Redundancy, EveryNodeHasTwoCopiesOnDistinctVdevs) {
  TestPool tp(3);
  auto db = std::move(*tp.Create());
  EXPECT_EQ(db->metadata_copies(), 2u);
  Populate(*db);
  Tree& a = (*db->OpenDataset("a"))->tree();
  size_t nodes = 0;
  std::set<uint32_t> first_vdevs;
  ASSERT_TRUE(a.ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
    nodes++;
    EXPECT_TRUE(p.HasCopy());
    EXPECT_NE(DiskAddress{p.address}.vdev(), DiskAddress{p.copy_address}.vdev());
    first_vdevs.insert(DiskAddress{p.address}.vdev());
    return Ok();
  }));
  EXPECT_GT(nodes, 3u);
  EXPECT_EQ(first_vdevs.size(), 3u) << "first copies rotate over every vdev";
  ExpectClean(*db);
  auto scrub = db->ScrubMetadata();
  ASSERT_TRUE(scrub);
  EXPECT_EQ(scrub->copies_checked, 2 * scrub->checked);
  EXPECT_EQ(scrub->superblocks_checked, 3u);
  EXPECT_EQ(scrub->single_copy, 0u);
  EXPECT_TRUE(scrub->clean()) << scrub->Summary();
}

TEST(Redundancy, OneVdevPoolKeepsOneCopy) {
  TestPool tp(1);
  auto db = std::move(*tp.Create());
  EXPECT_EQ(db->metadata_copies(), 1u);
  Populate(*db);
  ASSERT_TRUE((*db->OpenDataset("a"))->tree().ForEachNode([](const BlockPtr& p, uint32_t) -> Status {
    EXPECT_FALSE(p.HasCopy());
    return Ok();
  }));
  EXPECT_EQ(db->metadata_stats().single_copy_writes, 0u);
  ExpectClean(*db);
  auto scrub = db->ScrubMetadata();
  ASSERT_TRUE(scrub);
  EXPECT_EQ(scrub->single_copy, scrub->checked);
  EXPECT_EQ(scrub->copies_checked, scrub->checked);
  EXPECT_EQ(scrub->superblocks_checked, 1u);
  EXPECT_TRUE(scrub->clean()) << scrub->Summary();
}

// A whole vdev fails (every I/O errors, labels included): the pool opens with
// it faulted, every tree reads, Check is clean, and new commits work.
TEST(Redundancy, PoolOpensAndChecksCleanWithOneVdevFailed) {
  for (size_t victim : {0u, 1u}) {
    SCOPED_TRACE(fmt::format("vdev {} failed", victim));
    TestPool tp(2);
    Expected e;
    {
      auto db = std::move(*tp.Create());
      e = Populate(*db);
    }
    tp.Reboot();
    tp.faults[victim]->FailNth(1, /*persistent=*/true);
    {
      auto db = tp.Open();
      ASSERT_TRUE(db) << db.error().ToString();
      EXPECT_TRUE((*db)->pool().vdevs()[victim].faulted());
      // The pool still keeps two copies; new nodes get one while the vdev
      // is away (counted).
      EXPECT_EQ((*db)->metadata_copies(), 2u);
      ExpectContent(**db, e);
      ExpectClean(**db);
      // Still writable: new nodes go to the healthy vdev only.
      Tree& b = (*(*db)->OpenDataset("b"))->tree();
      ASSERT_TRUE(b.Insert("after", "failure"));
      e.b["after"] = "failure";
      ASSERT_TRUE((*db)->Commit());
      auto scrub = (*db)->ScrubMetadata();
      ASSERT_TRUE(scrub);
      EXPECT_EQ(scrub->unrecoverable, 0u) << scrub->Summary();
      EXPECT_GT(scrub->unavailable, 0u);
      EXPECT_GT(scrub->single_copy, 0u);  // the nodes written since the failure
    }
    // Reopen, still degraded, then with the device back.
    tp.Reboot();
    tp.faults[victim]->FailNth(1, true);
    {
      auto db = tp.Open();
      ASSERT_TRUE(db) << db.error().ToString();
      ExpectContent(**db, e);
      ExpectClean(**db);
    }
    tp.Reboot();
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    ExpectContent(**db, e);
    ExpectClean(**db);
    EXPECT_EQ((*db)->metadata_stats().checksum_errors, 0u);
  }
}

// A vdev dies while the database is open: reads go on from the other copy;
// the next commit fails and changes nothing on disk; a reopen faults the
// vdev and sees the last commit.
TEST(Redundancy, VdevFailingWhileOpenFailsTheCommitNotTheReads) {
  TestPool tp(2);
  Expected e;
  {
    auto db = std::move(*tp.Create());
    e = Populate(*db);
  }
  tp.Reboot();
  {
    auto db = std::move(*tp.Open());
    tp.faults[0]->FailNth(1, /*persistent=*/true);
    ExpectContent(*db, e);
    EXPECT_GT(db->metadata_stats().read_errors, 0u);
    EXPECT_GT(db->metadata_stats().repair_failures, 0u);
    ASSERT_TRUE((*db->OpenDataset("b"))->tree().Insert("lost", "x"));
    EXPECT_FALSE(db->Commit());
  }
  tp.Reboot();
  tp.faults[0]->FailNth(1, true);
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  ExpectContent(**db, e);
  ExpectClean(**db);
}

// Every node copy on one vdev is corrupted in the device itself: reads
// succeed from the other copy and repair the bad one; ScrubMetadata repairs
// the rest; a second open sees no error at all.
TEST(Redundancy, CorruptCopiesOnOneVdevAreRepairedAndCounted) {
  TestPool tp(2);
  Expected e;
  std::vector<uint64_t> blocks;
  uint64_t nodes = 0;
  {
    auto db = std::move(*tp.Create());
    e = Populate(*db);
    auto scrub = db->ScrubMetadata();
    ASSERT_TRUE(scrub && scrub->clean());
    nodes = scrub->checked;  // with two vdevs, each node has one copy on vdev 1
    blocks = NodeBlocksOn(*db, 1);
  }
  ASSERT_GT(blocks.size(), 10u);
  FlipBlocks(*tp.media[1], blocks);
  tp.Reboot();
  {
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    ExpectContent(**db, e);
    MetadataStats read = (*db)->metadata_stats();
    EXPECT_GT(read.checksum_errors, 0u);
    EXPECT_EQ(read.repaired, read.checksum_errors);
    EXPECT_EQ(read.unrecoverable, 0u);
    ExpectClean(**db);
    auto scrub = (*db)->ScrubMetadata();
    ASSERT_TRUE(scrub) << scrub.error().ToString();
    EXPECT_EQ(scrub->unrecoverable, 0u) << scrub->Summary();
    EXPECT_GT(scrub->repaired, 0u);
    // Every corrupted copy of a node still referenced was repaired exactly
    // once, by a read or by the scrub. (Check's commit rewrites nothing: no
    // change was made.)
    EXPECT_EQ((*db)->metadata_stats().repaired, nodes);
  }
  tp.Reboot();
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  ExpectContent(**db, e);
  auto scrub = (*db)->ScrubMetadata();
  ASSERT_TRUE(scrub);
  EXPECT_TRUE(scrub->clean()) << scrub->Summary();
  EXPECT_EQ(scrub->checked, nodes);
  MetadataStats after = (*db)->metadata_stats();
  EXPECT_EQ(after.checksum_errors, 0u);
  EXPECT_EQ(after.read_errors, 0u);
  EXPECT_EQ(after.repaired, 0u);
}

// Bit flips injected on read (FaultVdev) on every node block of one vdev:
// the reads fall back to the other copy, and the flips are counted.
TEST(Redundancy, FlipBitsOnReadFallsBackToTheOtherCopy) {
  TestPool tp(2);
  Expected e;
  std::vector<uint64_t> blocks;
  {
    auto db = std::move(*tp.Create());
    e = Populate(*db);
    blocks = NodeBlocksOn(*db, 0);
  }
  tp.Reboot();
  for (uint64_t b : blocks) tp.faults[0]->FlipBitsOnRead(BlockNo{b}, 8, 0x01);
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  ExpectContent(**db, e);
  EXPECT_GT((*db)->metadata_stats().checksum_errors, 0u);
  EXPECT_EQ((*db)->metadata_stats().unrecoverable, 0u);
}

// Both copies of one leaf are bad: the read is Corruption, never data; Check
// and the scrub report it.
TEST(Redundancy, BothCopiesBadIsCorruption) {
  TestPool tp(2);
  BlockPtr leaf;
  {
    auto db = std::move(*tp.Create());
    Populate(*db);
    ASSERT_TRUE((*db->OpenDataset("b"))->tree().ForEachNode([&](const BlockPtr& p, uint32_t level) -> Status {
      if (level == 0 && leaf.IsNull()) leaf = p;
      return Ok();
    }));
  }
  ASSERT_FALSE(leaf.IsNull());
  ASSERT_TRUE(leaf.HasCopy());
  tp.Reboot();
  for (uint64_t address : {leaf.address, leaf.copy_address}) {
    DiskAddress d{address};
    tp.faults[d.vdev()]->FlipBitsOnRead(BlockNo{d.block()}, 8, 0x01);
  }
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  Tree& b = (*(*db)->OpenDataset("b"))->tree();
  auto scanned = b.Scan("", "", [](std::string_view, std::string_view) { return true; });
  ASSERT_FALSE(scanned) << "a node with no good copy returned data";
  EXPECT_EQ(scanned.error().code(), Code::kCorruption) << scanned.error().ToString();
  EXPECT_GE((*db)->metadata_stats().unrecoverable, 1u);
  auto report = (*db)->Check();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->checksum_failures.empty());
  auto scrub = (*db)->ScrubMetadata();
  ASSERT_TRUE(scrub);
  EXPECT_GE(scrub->unrecoverable, 1u);
  EXPECT_FALSE(scrub->errors.empty());
  EXPECT_EQ(scrub->repaired, 0u);
}

// ScrubMetadata finds corruption that no read has touched (a snapshot-only
// node, second copies), repairs it, reports progress, then finds nothing.
TEST(Scrub, RepairsInjectedCorruptionThenFindsNothing) {
  TestPool tp(2);
  std::vector<BlockPtr> victims;
  {
    auto db = std::move(*tp.Create());
    Populate(*db);
    // The snapshot's nodes and the live tree's differ after the changes; take
    // every node of the snapshot not in the live tree, and the dataset b's.
    std::set<uint64_t> live;
    ASSERT_TRUE((*db->OpenDataset("a"))->tree().ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
      live.insert(p.address);
      return Ok();
    }));
    auto snap = std::move(*db->OpenSnapshot("a", "s1"));
    ASSERT_TRUE(snap->ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
      if (!live.count(p.address)) victims.push_back(p);
      return Ok();
    }));
    ASSERT_TRUE((*db->OpenDataset("b"))->tree().ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
      victims.push_back(p);
      return Ok();
    }));
  }
  ASSERT_GT(victims.size(), 4u);
  // Alternate which copy is damaged.
  for (size_t i = 0; i < victims.size(); i++) {
    DiskAddress d{i % 2 ? victims[i].copy_address : victims[i].address};
    FlipBlocks(*tp.media[d.vdev()], {d.block()});
  }
  // And vdev 1 loses both superblock slots (open uses vdev 0's).
  AlignedBuffer zero(kBlockSize);
  for (uint64_t slot = 0; slot < 2; slot++) {
    ASSERT_TRUE(tp.media[1]->Write(BlockNo{kSuperblockSlot0 + slot}, zero.span()));
  }
  tp.Reboot();
  auto db = std::move(*tp.Open());
  std::vector<std::pair<uint64_t, std::string>> calls;
  auto scrub = db->ScrubMetadata([&](const MetadataScrubReport& so_far, std::string_view tree) {
    calls.emplace_back(so_far.checked, std::string(tree));
  });
  ASSERT_TRUE(scrub) << scrub.error().ToString();
  EXPECT_EQ(scrub->repaired, victims.size()) << scrub->Summary();
  EXPECT_EQ(scrub->unrecoverable, 0u);
  EXPECT_EQ(scrub->superblocks_checked, 2u);
  EXPECT_EQ(scrub->superblocks_repaired, 1u);
  EXPECT_EQ(scrub->copies_checked, 2 * scrub->checked);
  ASSERT_GE(calls.size(), 5u);  // root tree, a, a@s1, b, superblocks at least
  for (size_t i = 1; i < calls.size(); i++) EXPECT_GE(calls[i].first, calls[i - 1].first);
  EXPECT_EQ(calls.back().first, scrub->checked);
  auto report = db->Check();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->nodes, scrub->checked);
  auto again = db->ScrubMetadata();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->clean()) << again->Summary();
  EXPECT_EQ(again->checked, scrub->checked);
  // The rewritten superblock alone opens the pool.
  db.reset();
  for (uint64_t slot = 0; slot < 2; slot++) {
    ASSERT_TRUE(tp.media[0]->Write(BlockNo{kSuperblockSlot0 + slot}, zero.span()));
  }
  tp.Reboot();
  auto reopened = tp.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
}

// Superblocks live on two vdevs: wiping both slots of one vdev loses nothing.
// With one fastest-tier vdev, the second copy goes to the next tier.
TEST(Redundancy, SuperblockSurvivesLossOfOneVdevsSlots) {
  TestPool tp(2);
  tp.config.vdevs[1].tier = Tier::kSlow;
  tp.config.vdevs[1].index = 0;
  Expected e;
  uint64_t txg = 0;
  {
    auto db = std::move(*tp.Create());
    e = Populate(*db);
    txg = db->txg();
  }
  AlignedBuffer zero(kBlockSize);
  for (size_t wiped : {0u, 1u}) {
    SCOPED_TRACE(fmt::format("slots of vdev {} wiped", wiped));
    AlignedBuffer save0(kBlockSize), save1(kBlockSize);
    ASSERT_TRUE(tp.media[wiped]->Read(BlockNo{kSuperblockSlot0}, save0.span()));
    ASSERT_TRUE(tp.media[wiped]->Read(BlockNo{kSuperblockSlot0 + 1}, save1.span()));
    ASSERT_TRUE(tp.media[wiped]->Write(BlockNo{kSuperblockSlot0}, zero.span()));
    ASSERT_TRUE(tp.media[wiped]->Write(BlockNo{kSuperblockSlot0 + 1}, zero.span()));
    tp.Reboot();
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    EXPECT_EQ((*db)->txg(), txg);
    ExpectContent(**db, e);
    db->reset();
    ASSERT_TRUE(tp.media[wiped]->Write(BlockNo{kSuperblockSlot0}, save0.span()));
    ASSERT_TRUE(tp.media[wiped]->Write(BlockNo{kSuperblockSlot0 + 1}, save1.span()));
  }
}

// A pool written in format version 1 (or any other) is refused with a clear
// error rather than read as garbage or skipped.
TEST(Redundancy, OtherFormatVersionIsRefused) {
  TestPool tp(2);
  ASSERT_TRUE(tp.Create());
  AlignedBuffer block(kBlockSize);
  for (auto& media : tp.media) {
    for (uint64_t slot = 0; slot < 2; slot++) {
      ASSERT_TRUE(media->Read(BlockNo{kSuperblockSlot0 + slot}, block.span()));
      if (GetU32(block.data() + 8) == 0) continue;  // never written
      PutU32(block.data() + 8, 1);
      PutU64(block.data() + kBlockSize - 8, Checksum64(block.data(), kBlockSize - 8));
      ASSERT_TRUE(media->Write(BlockNo{kSuperblockSlot0 + slot}, block.span()));
    }
  }
  tp.Reboot();
  auto db = tp.Open();
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code(), Code::kInvalidArgument);
  EXPECT_NE(db.error().message().find("format version 1 is not supported"), std::string::npos)
      << db.error().message();
}

}  // namespace
}  // namespace tessera::testing
