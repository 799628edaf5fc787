// A metadata scrub brings every node below the pool's copies up to it,
// snapshot trees included (core/db/snapshot_recopy.cc, core/tree/tree_recopy.cc):
// afterwards the scrub reports none under-replicated, Check is clean, every
// snapshot reads what it held, snapshot deletion in any order still frees
// exactly what it should, and a crash in the middle leaves a pool that
// opens, checks clean and reads the same.
#include <gtest/gtest.h>

#include <set>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

std::string Key(int i) { return fmt::format("key{:06}", i); }

// Every node of `tree` has at least `copies` copies, on distinct vdevs.
void ExpectCopies(Tree& tree, size_t copies) {
  size_t nodes = 0;
  ASSERT_TRUE(tree.ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
    nodes++;
    auto all = p.CopyAddresses();
    EXPECT_GE(all.size(), copies);
    std::set<uint32_t> vdevs;
    for (uint64_t a : all) vdevs.insert(DiskAddress{a}.vdev());
    EXPECT_EQ(vdevs.size(), all.size()) << "two copies on one vdev";
    return Ok();
  }));
  EXPECT_GT(nodes, 0u);
}

// Dataset "a": four snapshots with writes and range deletes between them,
// each round in its own quarter of the keys; dataset "b": one snapshot. All
// with two copies per node.
struct Content {
  std::map<std::string, Model> snapshots;  // "a@s0".. "b@s"
  Model a, b;
};

Content Build(Database& db) {
  Content c;
  Tree& a = (*db.CreateDataset("a"))->tree();
  for (int i = 0; i < 4000; i++) {
    std::string v(30 + i % 50, static_cast<char>('a' + i % 26));
    EXPECT_TRUE(a.Insert(Key(i), v));
    c.a[Key(i)] = v;
  }
  for (int s = 0; s < 4; s++) {
    EXPECT_TRUE(db.CreateSnapshot("a", fmt::format("s{}", s)));
    c.snapshots[fmt::format("a@s{}", s)] = c.a;
    // One quarter of the keys per round: the leaves of the others stay
    // shared by several snapshots (and their births matter when deleting).
    for (int i = 1000 * s; i < 1000 * (s + 1); i += 5 + s) {
      std::string v = fmt::format("round{}-{}", s, i);
      EXPECT_TRUE(a.Insert(Key(i), v));
      c.a[Key(i)] = v;
    }
    EXPECT_TRUE(a.RangeDelete(Key(100 * s), Key(100 * s + 40)));
    for (int i = 100 * s; i < 100 * s + 40; i++) c.a.erase(Key(i));
    EXPECT_TRUE(db.Commit());
  }
  Tree& b = (*db.CreateDataset("b"))->tree();
  for (int i = 0; i < 1500; i++) {
    EXPECT_TRUE(b.Insert(Key(i), "b" + std::to_string(i)));
    c.b[Key(i)] = "b" + std::to_string(i);
  }
  EXPECT_TRUE(db.CreateSnapshot("b", "s"));
  c.snapshots["b@s"] = c.b;
  EXPECT_TRUE(b.Insert(Key(7), "after"));
  c.b[Key(7)] = "after";
  EXPECT_TRUE(db.Commit());
  return c;
}

void ExpectContent(Database& db, const Content& c) {
  EXPECT_TRUE(ReadAll((*db.OpenDataset("a"))->tree()) == c.a);
  EXPECT_TRUE(ReadAll((*db.OpenDataset("b"))->tree()) == c.b);
  for (const auto& [ref, model] : c.snapshots) {
    auto at = ref.find('@');
    auto snap = db.OpenSnapshot(ref.substr(0, at), ref.substr(at + 1));
    ASSERT_TRUE(snap) << ref << ": " << snap.error().ToString();
    EXPECT_TRUE(ReadAll(**snap) == model) << ref;
  }
}

void ExpectAllCopies(Database& db, const Content& c, size_t copies) {
  ExpectCopies((*db.OpenDataset("a"))->tree(), copies);
  ExpectCopies((*db.OpenDataset("b"))->tree(), copies);
  for (const auto& [ref, model] : c.snapshots) {
    auto at = ref.find('@');
    ExpectCopies(**db.OpenSnapshot(ref.substr(0, at), ref.substr(at + 1)), copies);
  }
}

TEST(SnapshotRecopy, ScrubBringsSnapshotsUpToTheRaisedCopies) {
  TestPool tp(4);
  Content c;
  {
    auto db = std::move(*tp.Create());
    c = Build(*db);
    ASSERT_TRUE(db->RequireMetadataCopies(3));
    auto before = db->ScrubMetadata();
    ASSERT_TRUE(before) << before.error().ToString();
    EXPECT_EQ(before->under_replicated, 0u) << before->Summary();
    EXPECT_GT(before->recopied, 0u) << before->Summary();
    EXPECT_TRUE(before->clean()) << before->Summary();
    EXPECT_TRUE(before->errors.empty()) << before->errors.front();
    ExpectAllCopies(*db, c, 3);
    ExpectClean(*db);
    ExpectContent(*db, c);
    auto again = db->ScrubMetadata();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->under_replicated, 0u) << again->Summary();
    EXPECT_EQ(again->recopied, 0u) << again->Summary();
  }
  tp.Reboot();
  auto db = std::move(*tp.Open());
  ExpectClean(*db);
  ExpectContent(*db, c);
  ExpectAllCopies(*db, c, 3);
  // Births were kept: after a rollback the live tree shares the newest
  // snapshot's recopied nodes again, and writes that drop them must hand
  // them to the dead list, not free them (Check would see the snapshot
  // reference free blocks).
  ASSERT_TRUE(db->RollbackDataset("a", "s3", {}, {}));
  c.a = c.snapshots["a@s3"];
  Tree& a = (*db->OpenDataset("a"))->tree();
  for (int i = 0; i < 4000; i += 3) {
    ASSERT_TRUE(a.Insert(Key(i), "rolled"));
    c.a[Key(i)] = "rolled";
  }
  ASSERT_TRUE(db->Commit());
  ExpectClean(*db);
  ExpectContent(*db, c);
  // Deleting the snapshots, middle ones first, frees exactly what only each
  // held (a leak or a double free shows in Check).
  for (const char* s : {"s2", "s0", "s3", "s1"}) {
    ASSERT_TRUE(db->DeleteSnapshot("a", s)) << s;
    c.snapshots.erase(fmt::format("a@{}", s));
    ExpectClean(*db);
    ExpectContent(*db, c);
  }
  ASSERT_TRUE(db->DeleteDataset("b"));
  ExpectClean(*db);
}

// A snapshot tree open during the scrub (a VOL@SNAP export, a clone's base)
// keeps reading the nodes it was opened at: the recopy frees them held, so
// however much is written and committed meanwhile, nothing reuses them. Its
// dataset is brought up all the same, and the blocks come back once the
// tree is closed (snapshot_recopy.cc note 5).
TEST(SnapshotRecopy, OpenSnapshotTreesKeepReadingTheOldNodesUntilClosed) {
  TestPool tp(4);
  // A small node cache, so the reader reads its nodes from the devices
  // again after the writes below.
  DatabaseOptions options = TestPool::SmallOptions();
  options.cache_bytes = 256 << 10;
  Content c;
  {
    auto db = std::move(*tp.Create(options));
    c = Build(*db);
    ASSERT_TRUE(db->RequireMetadataCopies(3));
    auto reader = std::move(*db->OpenSnapshot("a", "s1"));
    auto scrub = db->ScrubMetadata();
    ASSERT_TRUE(scrub) << scrub.error().ToString();
    EXPECT_EQ(scrub->under_replicated, 0u) << scrub->Summary();
    EXPECT_GT(scrub->recopied, 0u) << scrub->Summary();
    EXPECT_TRUE(scrub->errors.empty()) << scrub->errors.front();
    ExpectAllCopies(*db, c, 3);  // trees opened after the recopy read the new nodes
    const uint64_t held = db->allocator().HeldBlocks();
    EXPECT_GT(held, 0u) << "the old nodes of a@s1 were not held";
    // Writes and commits that take the lowest free blocks first: without
    // the hold they would land on the old nodes the reader still reads.
    Tree& b = (*db->OpenDataset("b"))->tree();
    for (int round = 0; round < 6; round++) {
      for (int i = 0; i < 1500; i++) {
        std::string v = fmt::format("{}-{}", round, std::string(150 + i % 100, 'x'));
        ASSERT_TRUE(b.Insert(Key(i), v));
        c.b[Key(i)] = v;
      }
      ASSERT_TRUE(db->Commit());
    }
    EXPECT_EQ(db->allocator().HeldBlocks(), held) << "a commit ended the hold while the tree was open";
    EXPECT_TRUE(ReadAll(*reader) == c.snapshots["a@s1"]);
    ExpectClean(*db);
    reader.reset();
    ASSERT_TRUE(db->Commit());
    EXPECT_EQ(db->allocator().HeldBlocks(), 0u) << "the hold outlived the tree";
    ExpectClean(*db);
    ExpectContent(*db, c);
  }
  tp.Reboot();
  auto db = std::move(*tp.Open(options));
  ExpectClean(*db);
  ExpectContent(*db, c);
  ExpectAllCopies(*db, c, 3);
}

// Power is lost after the N-th device write of the scrub, for many N: the
// pool reopens clean with every tree as it was, and a scrub then completes
// the work.
TEST(SnapshotRecopy, CrashInTheMiddleLeavesACleanPool) {
  uint64_t writes_in_full_scrub = 0;
  int crashes = 0;
  for (uint64_t n = 0;; n = n < 8 ? n + 1 : n * 4 / 3) {
    SCOPED_TRACE(fmt::format("crash after {} writes", n));
    TestPool tp(4);
    Content c;
    {
      auto db = std::move(*tp.Create());
      c = Build(*db);
      ASSERT_TRUE(db->RequireMetadataCopies(3));
      uint64_t before = 0;
      for (auto& f : tp.faults) before += f->Counters().writes;
      tp.faults[n % 4]->CrashAfterWrites(n);
      (void)db->ScrubMetadata();
      uint64_t after = 0;
      for (auto& f : tp.faults) after += f->Counters().writes;
      if (!tp.faults[n % 4]->IsDead()) {
        writes_in_full_scrub = after - before;
        break;  // the scrub finished before the crash point
      }
      tp.PowerLossAll();
      crashes++;
    }
    tp.Reboot();
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    ExpectClean(**db);
    ExpectContent(**db, c);
    auto scrub = (*db)->ScrubMetadata();
    ASSERT_TRUE(scrub) << scrub.error().ToString();
    EXPECT_EQ(scrub->under_replicated, 0u) << scrub->Summary();
    EXPECT_EQ(scrub->unrecoverable, 0u) << scrub->Summary();
    ExpectAllCopies(**db, c, 3);
    ExpectClean(**db);
    if (HasFailure()) break;
  }
  std::printf("%d crash points; a whole scrub writes %lu times\n", crashes,
              static_cast<unsigned long>(writes_in_full_scrub));
  EXPECT_GT(writes_in_full_scrub, 20u);
}

// A write that fails during the scrub (the N-th of one vdev, for many N):
// either the database failed (a commit or a root-tree change failed) and
// reopens clean at its last commit, or the dataset being rewritten was left
// as it was, its new blocks given back, and the pool checks clean as it runs.
TEST(SnapshotRecopy, WriteErrorInTheMiddleLeavesACleanPool) {
  int survived = 0, left_as_it_was = 0;
  for (uint64_t n = 1; n < 60; n = n < 8 ? n + 1 : n * 4 / 3) {
    SCOPED_TRACE(fmt::format("write {} fails", n));
    TestPool tp(4);
    Content c;
    {
      auto db = std::move(*tp.Create());
      c = Build(*db);
      ASSERT_TRUE(db->RequireMetadataCopies(3));
      tp.faults[n % 4]->FailNth(n, /*persistent=*/false, FaultOpKind::kWrite);
      auto scrub = db->ScrubMetadata();
      if (scrub) {
        for (const auto& e : scrub->errors) left_as_it_was += e.find("left as it is") != std::string::npos;
      }
      tp.faults[n % 4]->ClearFailures();
      if (db->Commit()) {
        survived++;
        ExpectClean(*db);
        ExpectContent(*db, c);
      }
    }
    tp.Reboot();
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    ExpectClean(**db);
    ExpectContent(**db, c);
    if (HasFailure()) break;
  }
  std::printf("the database survived %d of the write errors; %d left a dataset as it was\n", survived,
              left_as_it_was);
  EXPECT_GT(left_as_it_was, 0) << "no write error reached the snapshot nodes";
}

}  // namespace
}  // namespace tessera::testing
