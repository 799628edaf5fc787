// Database contract 9: no commit starts while a CommitHold lives, whether
// it is a plain Commit or a call that commits inside (a snapshot, a check),
// so a change made of several calls under one hold is durable whole or not
// at all. Holds do not wait for one another. The checks are orders: the
// committing call must not have returned while the hold lives (a short
// wait gives it the chance to), and must return once the hold ends.
#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

using namespace std::chrono_literals;

// Runs `call` in another thread while `hold` lives; expects it to wait for
// the hold's end, then to succeed.
void ExpectWaitsForTheHold(Database::CommitHold& hold, const std::function<Status()>& call) {
  auto running = std::async(std::launch::async, call);
  EXPECT_EQ(running.wait_for(200ms), std::future_status::timeout) << "it committed during the hold";
  hold.Release();
  Status result = running.get();
  EXPECT_TRUE(result) << result.error().ToString();
}

TEST(CommitHold, ACommitWaitsAndThenMakesTheWholeChangeDurable) {
  TestPool tp(2);
  auto db = std::move(*tp.Create());
  Dataset* ds = *db->CreateDataset("vol");
  ASSERT_TRUE(db->Commit());
  auto hold = db->HoldCommits();
  auto extent = db->AllocateExtent(ds, Tier::kFastest, 0, BlockCount{8});
  ASSERT_TRUE(extent) << extent.error().ToString();
  auto running = std::async(std::launch::async, [&] { return db->Commit(); });
  EXPECT_EQ(running.wait_for(200ms), std::future_status::timeout) << "it committed during the hold";
  // The second half of the change: what names the extent.
  ASSERT_TRUE(ds->tree().Insert("names", extent->ToString()));
  hold.Release();
  auto txg = running.get();
  ASSERT_TRUE(txg) << txg.error().ToString();
  // Nothing more is committed: after a power loss both halves are there.
  tp.PowerLossAll();
  db.reset();
  tp.Reboot();
  db = std::move(*tp.Open());
  ds = *db->OpenDataset("vol");
  ASSERT_EQ(db->ExtentsOf(ds)->size(), 1u);
  EXPECT_EQ(*ds->tree().Get("names"), std::optional<std::string>(extent->ToString()));
  ExpectClean(*db);
}

TEST(CommitHold, CallsThatCommitInsideWaitToo) {
  TestPool tp(2);
  auto db = std::move(*tp.Create());
  ASSERT_TRUE(db->CreateDataset("vol"));
  ASSERT_TRUE(db->Commit());
  {
    SCOPED_TRACE("snapshot");
    auto hold = db->HoldCommits();
    ExpectWaitsForTheHold(hold, [&] { return db->CreateSnapshot("vol", "s"); });
  }
  {
    SCOPED_TRACE("check");
    auto hold = db->HoldCommits();
    ExpectWaitsForTheHold(hold, [&]() -> Status {
      TRY(db->Check());
      return Ok();
    });
  }
  {
    SCOPED_TRACE("dataset delete");
    auto hold = db->HoldCommits();
    ExpectWaitsForTheHold(hold, [&] { return db->DeleteDataset("vol"); });
  }
}

TEST(CommitHold, HoldsDoNotWaitForOneAnother) {
  TestPool tp(1);
  auto db = std::move(*tp.Create());
  Dataset* ds = *db->CreateDataset("vol");
  auto first = db->HoldCommits();
  auto other = std::async(std::launch::async, [&]() -> Status {
    auto second = db->HoldCommits();
    TRY(db->AllocateExtent(ds, Tier::kFastest, 0, BlockCount{1}));
    return Ok();
  });
  ASSERT_EQ(other.wait_for(10s), std::future_status::ready) << "a second hold waited for the first";
  EXPECT_TRUE(other.get());
  first.Release();
  EXPECT_TRUE(db->Commit());
}

}  // namespace
}  // namespace tessera::testing
