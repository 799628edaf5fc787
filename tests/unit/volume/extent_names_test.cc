// Storage::Check compares each volume's extents with the data blocks its
// exNodes name (Database::Check's data_blocks, check.cc note 6): a leak
// (an extent no exNode names) and a block named but not owned are found,
// and a pool made by the volume layer's own paths checks clean.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "core/db/database.h"
#include "core/pool/config.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/units.h"
#include "core/volume/volume_impl.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

// The pool's database, opened without Storage, to plant what no code path
// of Storage should make.
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& dir) {
  PoolConfig config = TRY(LoadPoolConfig(dir + "/pool.conf"));
  auto devices = TRY(OpenVdevs(config, {}));
  auto pool = TRY(Pool::Open(config, std::move(devices)));
  return Database::Open(std::move(pool), {});
}

// A volume "v" with data, two snapshots, a clone of the newer one, data
// written after, a rollback and more data: rows pinned by snapshots, rows
// freed by the cleaner and by the rollback, rows of a clone.
void MakeVolumes(Storage& storage) {
  ASSERT_TRUE(storage.CreateVolume({.name = "v", .size = 8 << 20}));
  {
    auto v = std::move(*storage.OpenVolume("v"));
    for (uint64_t round = 0; round < 3; round++) ASSERT_TRUE(v->Write(0, Pattern(8 << 20, round), false));
    ASSERT_TRUE(v->Flush());
  }
  ASSERT_TRUE(storage.CreateSnapshot("v", "a"));
  {
    auto v = std::move(*storage.OpenVolume("v"));
    ASSERT_TRUE(v->Write(1 << 20, Pattern(2 << 20, 7), false));
    ASSERT_TRUE(v->Flush());
  }
  ASSERT_TRUE(storage.CreateSnapshot("v", "b"));
  ASSERT_TRUE(storage.CloneSnapshot("v", "b", "c"));
  {
    auto c = std::move(*storage.OpenVolume("c"));
    ASSERT_TRUE(c->Write(0, Pattern(1 << 20, 8), false));
    ASSERT_TRUE(c->Flush());
    auto v = std::move(*storage.OpenVolume("v"));
    for (uint64_t round = 0; round < 3; round++) ASSERT_TRUE(v->Write(0, Pattern(8 << 20, 10 + round), false));
    ASSERT_TRUE(v->Flush());
  }
  ASSERT_TRUE(storage.RollbackSnapshot("v", "b", false));
  auto v = std::move(*storage.OpenVolume("v"));
  ASSERT_TRUE(v->Write(4 << 20, Pattern(2 << 20, 20), false));
  ASSERT_TRUE(v->Flush());
}

TEST(ExtentNames, APoolWithSnapshotsClonesAndCleaningChecksClean) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  MakeVolumes(*storage);
  auto report = storage->Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << CheckDetails(*report);
  ASSERT_TRUE(storage->DeleteSnapshot("v", "a"));
  report = storage->Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << CheckDetails(*report);
}

// MakeVolumes' pool, changed by `plant` through its database directly (no
// Storage open), then reopened and checked into `report`.
void CheckAfterPlanting(const std::function<void(Database&)>& plant, CheckReport* report) {
  PoolDir pd;
  {
    auto storage = std::move(*pd.Create());
    MakeVolumes(*storage);
  }
  {
    auto db = OpenDatabase(pd.dir());
    ASSERT_TRUE(db) << db.error().ToString();
    plant(**db);
    ASSERT_TRUE((*db)->Commit());
  }
  auto storage = std::move(*pd.Open());
  auto checked = storage->Check();
  ASSERT_TRUE(checked) << checked.error().ToString();
  *report = *checked;
}

TEST(ExtentNames, AnExtentNoExnodeNamesIsALeak) {
  DiskAddress planted;
  CheckReport report;
  ASSERT_NO_FATAL_FAILURE(CheckAfterPlanting(
      [&](Database& db) {
        auto address = db.AllocateExtent(*db.OpenDataset("v"), Tier::kFastest, 0, BlockCount{16});
        ASSERT_TRUE(address) << address.error().ToString();
        planted = *address;
      },
      &report));
  ASSERT_EQ(report.leaks.size(), 1u) << CheckDetails(report);
  EXPECT_EQ(report.leaks[0], fmt::format("extent {} +16 of dataset v is named by no exNode", planted.ToString()));
  EXPECT_TRUE(report.unallocated_references.empty()) << CheckDetails(report);
}

TEST(ExtentNames, ABlockAnExnodeNamesButTheVolumeDoesNotOwnIsReported) {
  DiskAddress freed;
  CheckReport report;
  ASSERT_NO_FATAL_FAILURE(CheckAfterPlanting(
      [&](Database& db) {
        Dataset* c = *db.OpenDataset("c");
        auto named = ExnodeDataBlocks(c->tree());
        ASSERT_TRUE(named) << named.error().ToString();
        ASSERT_FALSE(named->empty());
        freed = named->front().address;
        ASSERT_TRUE(db.FreeExtent(c, freed));
      },
      &report));
  ASSERT_FALSE(report.unallocated_references.empty()) << CheckDetails(report);
  EXPECT_NE(report.unallocated_references[0].find(fmt::format("volume c names data block {}", freed.ToString())),
            std::string::npos)
      << CheckDetails(report);
}

// Checks run while writes make the volume grow rows and the cleaner free
// them: each check commits and reads that commit while the volume changes,
// and must find nothing wrong. (The windows the commit holds close are too
// narrow for this to reach reliably; tests/unit/db/commit_hold_test.cc
// shows the hold itself.)
TEST(ExtentNames, ChecksWhileRowsComeAndGoFindNothingWrong) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 4 << 20}));
  auto v = std::move(*storage->OpenVolume("v"));
  std::atomic<bool> stop = false;
  std::atomic<int> checks = 0;
  std::atomic<bool> failed = false;
  std::vector<std::string> bad;  // the checker's; read after the join
  std::thread checker([&] {
    while (!stop && bad.size() < 3) {
      auto report = storage->Check();
      if (!report) {
        bad.push_back(report.error().ToString());
      } else if (!report->clean()) {
        bad.push_back(CheckDetails(*report));
      }
      checks++;
      failed = !bad.empty();
    }
  });
  std::mt19937_64 rng(5);
  Status written = Ok();
  for (int i = 0; i < 4000 && written && !failed; i++) {
    uint64_t block = rng() % 1024;
    written = v->Write(block * 4096, Pattern(4096, i), false);
    if (written && i % 16 == 0) written = v->Flush();
  }
  stop = true;
  checker.join();
  ASSERT_TRUE(written) << written.error().ToString();
  fmt::print("{} checks ran during the writes\n", checks.load());
  EXPECT_TRUE(bad.empty()) << bad.size() << " checks failed; the first: " << bad.front();
  v.reset();
  ExpectClean(*storage);
}

}  // namespace
}  // namespace tessera::testing
