// Missed-write notes (core/db/missed_writes.cc): kept per vdev, durable
// with the next commit, and forgotten only as listed.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/unit/db/db_test_util.h"

namespace tessera {
namespace {

using testing::TestPool;

// (dataset, row) pairs of a vdev's notes, sorted.
std::vector<std::pair<uint64_t, uint64_t>> Rows(Database& db, uint64_t vdev) {
  auto notes = db.MissedWritesOn(vdev);
  EXPECT_TRUE(notes) << notes.error().ToString();
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& n : notes.value_or(std::vector<Database::MissedWrite>{})) out.push_back({n.dataset_id, n.row});
  return out;
}

TEST(MissedWrites, KeptPerVdevAndDurableWithTheNextCommit) {
  TestPool pool(2);
  auto db = std::move(*pool.Create());
  const uint64_t a = Database::MissedVdev(Tier::kSlow, 3), b = Database::MissedVdev(Tier::kFastest, 3);
  db->NoteMissedWrite(a, 7, 1 << 20);
  db->NoteMissedWrite(a, 7, 0);
  db->NoteMissedWrite(a, 7, 0);  // once per row
  db->NoteMissedWrite(a, 9, 4 << 20);
  db->NoteMissedWrite(b, 7, 2 << 20);
  // Listed before the commit too.
  using Pairs = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(Rows(*db, a), (Pairs{{7, 0}, {7, 1 << 20}, {9, 4 << 20}}));
  EXPECT_EQ(Rows(*db, b), (Pairs{{7, 2 << 20}}));
  EXPECT_TRUE(Rows(*db, Database::MissedVdev(Tier::kSlow, 4)).empty());

  ASSERT_TRUE(db->Commit());
  db.reset();
  pool.Reboot();
  db = std::move(*pool.Open());
  EXPECT_EQ(Rows(*db, a), (Pairs{{7, 0}, {7, 1 << 20}, {9, 4 << 20}}));
  EXPECT_EQ(Rows(*db, b), (Pairs{{7, 2 << 20}}));
  auto check = db->Check();
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_TRUE(check->clean()) << check->Summary();

  ASSERT_TRUE(db->ForgetMissedWritesOn(b));
  EXPECT_TRUE(Rows(*db, b).empty());
  EXPECT_EQ(Rows(*db, a).size(), 3u);
}

// A row noted again after it was listed keeps its note when the listed
// notes are forgotten: it missed a write the catch-up may not have seen.
TEST(MissedWrites, ForgettingKeepsRowsNotedAgainSinceTheyWereListed) {
  TestPool pool(1);
  auto db = std::move(*pool.Create());
  const uint64_t v = Database::MissedVdev(Tier::kSlow, 0);
  db->NoteMissedWrite(v, 1, 0);
  db->NoteMissedWrite(v, 1, 4096);
  db->NoteMissedWrite(v, 2, 0);
  ASSERT_TRUE(db->Commit());  // committed notes ...
  auto listed = db->MissedWritesOn(v);
  ASSERT_TRUE(listed);
  db->NoteMissedWrite(v, 2, 0);  // ... one noted again and committed,
  ASSERT_TRUE(db->Commit());
  db->NoteMissedWrite(v, 1, 4096);  // ... one noted again, still pending,
  db->NoteMissedWrite(v, 3, 0);     // and a new one
  ASSERT_TRUE(db->ForgetMissedWrites(v, *listed));
  using Pairs = std::vector<std::pair<uint64_t, uint64_t>>;
  EXPECT_EQ(Rows(*db, v), (Pairs{{1, 4096}, {2, 0}, {3, 0}}));
  ASSERT_TRUE(db->Commit());
  db.reset();
  pool.Reboot();
  db = std::move(*pool.Open());
  EXPECT_EQ(Rows(*db, v), (Pairs{{1, 4096}, {2, 0}, {3, 0}}));
}

// A row stored by one commit and noted again since is listed with its new
// note; forgetting that listing forgets the row, the stored note included.
TEST(MissedWrites, ForgettingAPendingNoteForgetsTheOneStoredBeforeIt) {
  TestPool pool(1);
  auto db = std::move(*pool.Create());
  const uint64_t v = Database::MissedVdev(Tier::kSlow, 1);
  db->NoteMissedWrite(v, 4, 8192);
  ASSERT_TRUE(db->Commit());
  db->NoteMissedWrite(v, 4, 8192);
  auto listed = db->MissedWritesOn(v);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  ASSERT_TRUE(db->ForgetMissedWrites(v, *listed));
  EXPECT_TRUE(Rows(*db, v).empty());
  ASSERT_TRUE(db->Commit());
  db.reset();
  pool.Reboot();
  db = std::move(*pool.Open());
  EXPECT_TRUE(Rows(*db, v).empty());
}

}  // namespace
}  // namespace tessera
