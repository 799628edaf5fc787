// Crash tests (docs/architecture.md, Recovery; database.h contract 2):
// power is lost at every Nth device write of a small workload, and at random
// points with a random subset of unflushed writes surviving. After
// reopening, the state is exactly that of the last completed commit (or of
// the commit in flight, if its superblock landed), and Check finds no leak
// and no double allocation.
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

constexpr int kRounds = 40;

struct Outcome {
  bool crashed = false;
  Model committed;  // state of the last commit that returned Ok
  Model in_flight;  // state the failed commit was writing
};

// Runs rounds of random changes, each ending in a commit, until the device
// fails. Snapshots are taken and deleted along the way so that dead lists
// and delayed frees are part of what crashes.
Outcome RunWorkload(Database& db, uint32_t seed, int rounds) {
  std::mt19937 rng(seed);
  Outcome out;
  Model live;
  auto ds = db.CreateDataset("vol");
  if (!ds) return {.crashed = true};
  if (!db.Commit()) return {.crashed = true};
  for (int round = 0; round < rounds; round++) {
    for (int op = 0; op < 80; op++) {
      std::string k = fmt::format("k{:05}", rng() % 3000);
      if (rng() % 4 == 0) {
        if (!(*ds)->tree().Delete(k)) return {.crashed = true, .committed = out.committed};
        live.erase(k);
      } else {
        std::string v(1 + rng() % 200, static_cast<char>('a' + round % 26));
        if (!(*ds)->tree().Insert(k, v)) return {.crashed = true, .committed = out.committed};
        live[k] = v;
      }
    }
    Status step = Ok();
    if (round == 2) step = db.CreateSnapshot("vol", "s1");
    if (round == 4) step = db.DeleteSnapshot("vol", "s1");
    if (round == 20) step = db.CreateSnapshot("vol", "s2");
    if (round == 30) step = db.DeleteSnapshot("vol", "s2");
    if (step && db.Commit()) {
      out.committed = live;
      continue;
    }
    out.crashed = true;
    out.in_flight = live;
    return out;
  }
  return out;
}

void VerifyAfterCrash(TestPool& tp, const Outcome& outcome) {
  tp.PowerLossAll();
  tp.Reboot();
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  auto ds = (*db)->OpenDataset("vol");
  Model got;
  if (ds) got = ReadAll((*ds)->tree());
  EXPECT_TRUE(got == outcome.committed || got == outcome.in_flight)
      << "recovered " << got.size() << " keys; committed " << outcome.committed.size()
      << ", in flight " << outcome.in_flight.size();
  ExpectClean(**db);
}

TEST(Crash, PowerLossAtEveryNthWrite) {
  uint64_t total_writes = 0;
  {
    TestPool tp(2, 4096);
    auto db = tp.Create();
    ASSERT_TRUE(db);
    uint64_t before = tp.faults[0]->Counters().writes;
    Outcome clean = RunWorkload(**db, 7, kRounds);
    ASSERT_FALSE(clean.crashed);
    total_writes = tp.faults[0]->Counters().writes - before;
  }
  ASSERT_GT(total_writes, 20u);
  uint64_t crashes = 0;
  for (uint64_t n = 0; n <= total_writes; n++) {
    SCOPED_TRACE(fmt::format("crash after {} writes of {}", n, total_writes));
    TestPool tp(2, 4096);
    auto db = tp.Create();
    ASSERT_TRUE(db);
    tp.faults[0]->CrashAfterWrites(n);
    Outcome outcome = RunWorkload(**db, 7, kRounds);
    db->reset();
    if (!outcome.crashed) continue;
    crashes++;
    VerifyAfterCrash(tp, outcome);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(crashes, total_writes / 2);
  fmt::print("crash points exercised: {} of {} writes\n", crashes, total_writes);
}

TEST(Crash, RandomPointsRandomSurvivors) {
  for (uint32_t seed = 1; seed <= 40; seed++) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    std::mt19937 rng(seed);
    TestPool tp(2, 4096);
    auto db = tp.Create();
    ASSERT_TRUE(db);
    size_t victim = rng() % 2;
    tp.faults[victim]->CrashAfterWrites(rng() % 400, /*subset_seed=*/seed);
    Outcome outcome = RunWorkload(**db, seed, kRounds);
    db->reset();
    if (!outcome.crashed) continue;
    // The other device loses a random subset of its unflushed writes too.
    (void)tp.faults[1 - victim]->SimulatePowerLoss(seed * 7919);
    VerifyAfterCrash(tp, outcome);
    if (::testing::Test::HasFailure()) return;
  }
}

// Deleting a dataset with snapshots is one commit: power lost at any write
// of the delete leaves either the whole dataset with every snapshot, or
// nothing of it, and no leaked or doubly used block either way.
TEST(Crash, DeleteDatasetIsAllOrNothing) {
  auto build = [](Database& db) {
    auto ds = db.CreateDataset("vol");
    ASSERT_TRUE(ds);
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 400; i++) {
        ASSERT_TRUE((*ds)->tree().Insert(fmt::format("k{:05}", i * 7 + round), std::string(100, 'a' + round)));
      }
      ASSERT_TRUE(db.CreateSnapshot("vol", fmt::format("s{}", round)));
      ASSERT_TRUE(db.Commit());
    }
  };
  uint64_t delete_writes = 0;
  {
    TestPool tp(2, 4096);
    auto db = tp.Create();
    ASSERT_TRUE(db);
    build(**db);
    uint64_t before = tp.faults[0]->Counters().writes;
    ASSERT_TRUE((*db)->DeleteDataset("vol"));
    delete_writes = tp.faults[0]->Counters().writes - before;
  }
  ASSERT_GT(delete_writes, 1u);
  for (uint64_t n = 0; n < delete_writes; n++) {
    SCOPED_TRACE(fmt::format("crash after {} of the delete's {} writes", n, delete_writes));
    TestPool tp(2, 4096);
    {
      auto db = tp.Create();
      ASSERT_TRUE(db);
      build(**db);
      tp.faults[0]->CrashAfterWrites(n);
      (void)(*db)->DeleteDataset("vol");
    }
    tp.PowerLossAll();
    tp.Reboot();
    auto db = tp.Open();
    ASSERT_TRUE(db) << db.error().ToString();
    auto snapshots = (*db)->ListSnapshots("vol");
    if (snapshots) {
      EXPECT_EQ(snapshots->size(), 3u) << "the volume survived without some of its snapshots";
      auto ds = (*db)->OpenDataset("vol");
      ASSERT_TRUE(ds);
      EXPECT_EQ(ReadAll((*ds)->tree()).size(), 1200u);
    }
    ExpectClean(**db);
    if (::testing::Test::HasFailure()) return;
  }
}

TEST(Corruption, FlippedBitInNodeIsCorruptionNotData) {
  TestPool tp(1);
  uint64_t node_block;
  {
    auto db = std::move(*tp.Create());
    auto ds = *db->CreateDataset("d");
    for (int i = 0; i < 3000; i++) ASSERT_TRUE(ds->tree().Insert(fmt::format("k{:05}", i), "value"));
    ASSERT_TRUE(db->Commit());
    node_block = DiskAddress{ds->tree().root().address}.block();
  }
  tp.Reboot();
  tp.faults[0]->FlipBitsOnRead(BlockNo{node_block}, 100, 0x10);
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  auto ds = (*db)->OpenDataset("d");
  Result<std::optional<std::string>> got = ds ? (*ds)->tree().Get("k00042") : Err(ds.error());
  ASSERT_FALSE(got) << "a corrupt node returned data";
  EXPECT_EQ(got.error().code(), Code::kCorruption) << got.error().ToString();
  auto report = (*db)->Check();
  // Check reports it rather than failing outright.
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->checksum_failures.empty());
}

}  // namespace
}  // namespace tessera::testing
