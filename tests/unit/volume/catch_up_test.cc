// A vdev that comes back catches up on the writes it missed
// (core/volume/storage_catch_up.cc): vdev online repairs exactly the rows
// noted while it was away, so a scrub afterwards finds nothing to repair.
// An rs:4+2 volume over six file vdevs (in FaultVdevs) of the slow tier,
// with the metadata on a fastest-tier vdev.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <thread>

#include "core/pool/vdev_kinds.h"
#include "core/util/uuid.h"
#include "core/vdev/fault_vdev.h"
#include "core/volume/storage.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing::Pattern;

constexpr uint64_t kVolumeBytes = 32ull << 20;
constexpr uint64_t kDataBytes = 8ull << 20;

class CatchUp : public ::testing::Test {
 protected:
  CatchUp() {
    dir_ = (fs::temp_directory_path() / fmt::format("tessera-catch-up-test-{}", RandomU64())).string();
    config_.vdevs.push_back(VdevConfig{.name = "meta", .path = dir_ + "/meta.img", .size_bytes = 64ull << 20,
                                       .tier = Tier::kFastest});
    for (uint32_t i = 0; i < 6; i++) {
      config_.vdevs.push_back(VdevConfig{.name = fmt::format("d{}", i), .path = fmt::format("{}/d{}.img", dir_, i),
                                         .size_bytes = 48ull << 20, .tier = Tier::kSlow, .index = i});
    }
  }
  ~CatchUp() override { fs::remove_all(dir_); }

  StorageOptions Options() {
    StorageOptions options;
    options.metadata_cache_bytes = 32 << 20;
    options.catch_up_interval = std::chrono::milliseconds(50);
    options.open_devices = [this](const PoolConfig& config, bool create) -> Result<std::vector<std::shared_ptr<Vdev>>> {
      auto files = TRY(OpenVdevs(config, {.create = create, .allow_missing = !create}));
      std::vector<std::shared_ptr<Vdev>> out;
      for (size_t i = 0; i < files.size(); i++) {
        auto fault = files[i] ? std::make_shared<FaultVdev>(files[i]) : nullptr;
        if (fault) faults_[config.vdevs[i].name] = fault;
        out.push_back(fault);
      }
      return out;
    };
    return options;
  }

  std::unique_ptr<Storage> Create() {
    auto storage = Storage::Create(dir_, config_, Options());
    EXPECT_TRUE(storage) << storage.error().ToString();
    EXPECT_TRUE((*storage)->CreateVolume(VolumeSpec{.name = "vol", .size = kVolumeBytes, .layout = "rs:4+2"}));
    Write(**storage, 1);
    return std::move(*storage);
  }

  std::unique_ptr<Storage> Reopen() {
    auto storage = Storage::Open(dir_, Options());
    EXPECT_TRUE(storage) << storage.error().ToString();
    return storage ? std::move(*storage) : nullptr;
  }

  // Writes the first kDataBytes of "vol" (pattern `seed`), flushes, and
  // closes it, so that reads come from the vdevs.
  void Write(Storage& storage, int seed) {
    data_ = Pattern(kDataBytes, seed);
    auto volume = storage.OpenVolume("vol");
    ASSERT_TRUE(volume) << volume.error().ToString();
    ASSERT_TRUE((*volume)->Write(0, data_, false));
    auto flushed = (*volume)->Flush();
    ASSERT_TRUE(flushed) << flushed.error().ToString();
    volume->reset();
    ASSERT_TRUE(storage.CloseIdleVolumes());
  }

  void ExpectData(Storage& storage) {
    auto volume = storage.OpenVolume("vol");
    ASSERT_TRUE(volume) << volume.error().ToString();
    std::vector<std::byte> got(kDataBytes);
    ASSERT_TRUE((*volume)->Read(0, got));
    EXPECT_TRUE(got == data_);
  }

  std::string dir_;
  PoolConfig config_;
  std::map<std::string, std::shared_ptr<FaultVdev>> faults_;  // by vdev name
  std::vector<std::byte> data_;
};

// d2 goes away as a depot does: its flush fails (so the pool faults it)
// while the volume is rewritten, it loses power, undoing what had landed
// there unflushed, and the volume is rewritten again without it. It is
// taken offline and the pool restarts (the notes are in the root tree).
// vdev online repairs the rows it missed; a scrub then repairs nothing, and
// the data reads back. (jerasure_missed_test.cc checks which rows the
// segment notes.)
TEST_F(CatchUp, OnlineRepairsTheRowsTheVdevMissedSoAScrubFindsNothing) {
  auto storage = Create();
  std::shared_ptr<FaultVdev> d2 = faults_.at("d2");
  d2->FailNth(1, /*persistent=*/true, FaultOpKind::kFlush);
  Write(*storage, 2);
  ASSERT_GT(d2->UnflushedMutations(), 0u);
  ASSERT_TRUE(d2->SimulatePowerLoss());
  Write(*storage, 3);
  ASSERT_TRUE(storage->OfflineVdev("d2"));
  ASSERT_TRUE(storage->Close());
  storage.reset();
  storage = Reopen();
  ASSERT_TRUE(storage);
  ExpectData(*storage);  // degraded: decoded around d2

  auto online = storage->OnlineVdev("d2");
  ASSERT_TRUE(online) << online.error().ToString();
  EXPECT_FALSE(online->was_online);
  EXPECT_GT(online->rows, 0u);
  EXPECT_GT(online->rebuilt_chunks, 0u);
  EXPECT_EQ(online->unrecoverable_chunks, 0u);
  EXPECT_EQ(online->rows_left, 0u);
  EXPECT_EQ(online->volumes, std::vector<std::string>{"vol"});
  EXPECT_TRUE(online->problems.empty()) << online->problems[0];

  auto scrub = storage->Scrub();
  ASSERT_TRUE(scrub) << scrub.error().ToString();
  EXPECT_EQ(scrub->repaired, 0u) << "vdev online left stale chunks on d2";
  EXPECT_EQ(scrub->unrecoverable, 0u);
  ExpectData(*storage);

  auto again = storage->OnlineVdev("d2");
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->was_online);
  ASSERT_TRUE(storage->OfflineVdev("d2"));  // nothing missed since: nothing to catch up on
  auto quiet = storage->OnlineVdev("d2");
  ASSERT_TRUE(quiet) << quiet.error().ToString();
  EXPECT_EQ(quiet->rows, 0u);
  EXPECT_EQ(quiet->rebuilt_chunks, 0u);
}

// d3 is faulted (its flush fails) while the volume is rewritten, and the
// pool closes so; when it opens again, d3 is back and online at once, as a
// depot that answers again is. The server's background work catches it up
// without a vdev online; vdev online of an online vdev would too.
TEST_F(CatchUp, AVdevOnlineAtOpenIsCaughtUpInTheBackground) {
  auto storage = Create();
  faults_.at("d3")->FailNth(1, /*persistent=*/true, FaultOpKind::kFlush);
  Write(*storage, 5);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  storage = Reopen();  // new devices: d3 answers again
  ASSERT_TRUE(storage);
  auto vdevs = storage->ListVdevs();
  ASSERT_TRUE(vdevs);
  for (const auto& v : *vdevs) ASSERT_EQ(v.state, "online") << v.name;
  auto before = storage->InspectVolume("vol", InspectDepth::kScan, /*repair=*/false);
  ASSERT_TRUE(before) << before.error().ToString();
  ASSERT_GT(before->bad, 0u) << "d3 missed nothing: the test proves nothing";

  storage->StartBackground(std::chrono::milliseconds(20));
  uint64_t bad = before->bad;
  for (int i = 0; i < 500 && bad > 0; i++) {  // 10 s at most
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto inspect = storage->InspectVolume("vol", InspectDepth::kScan, /*repair=*/false);
    ASSERT_TRUE(inspect) << inspect.error().ToString();
    bad = inspect->bad;
  }
  storage->StopBackground();
  EXPECT_EQ(bad, 0u) << "the background left d3's stale chunks";
  auto online = storage->OnlineVdev("d3");
  ASSERT_TRUE(online) << online.error().ToString();
  EXPECT_TRUE(online->was_online);
  EXPECT_EQ(online->rows, 0u) << "the background caught up, but left its notes";
  ExpectData(*storage);
}

// Notes of a volume deleted while the vdev was away are dropped by its
// catch-up without work; a replace, which rebuilds everything on the vdev,
// forgets the vdev's notes.
TEST_F(CatchUp, NotesOfDeletedVolumesAndReplacedVdevsAreForgotten) {
  auto storage = Create();
  faults_.at("d1")->FailNth(1, /*persistent=*/true, FaultOpKind::kFlush);
  Write(*storage, 3);
  ASSERT_TRUE(storage->OfflineVdev("d1"));
  ASSERT_TRUE(storage->DeleteVolume("vol"));
  auto online = storage->OnlineVdev("d1");
  ASSERT_TRUE(online) << online.error().ToString();
  EXPECT_EQ(online->rows, 0u);
  EXPECT_EQ(online->rows_left, 0u);
  EXPECT_TRUE(online->volumes.empty());

  ASSERT_TRUE(storage->CreateVolume(VolumeSpec{.name = "vol", .size = kVolumeBytes, .layout = "rs:4+2"}));
  faults_.at("d4")->FailNth(1, /*persistent=*/true, FaultOpKind::kFlush);
  Write(*storage, 4);
  auto replaced = storage->ReplaceVdev("d4", "new-d4.img");
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u);
  ASSERT_TRUE(storage->OfflineVdev("d4"));
  auto after = storage->OnlineVdev("d4");
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_EQ(after->rows, 0u) << "the replace left notes behind";
  ExpectData(*storage);
}

}  // namespace
}  // namespace tessera
