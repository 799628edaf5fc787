// Self-healing at the Storage level: inspect --repair, scrub, vdev
// offline/online/replace and degraded open, on an rs:4+2 volume over file
// vdevs wrapped in FaultVdevs (one metadata vdev + 7 data vdevs, so a row
// of 6 can move a block to the spare). The SelfHealingLayouts tests run for
// a mirror:3 volume too, which survives as many lost copies (2).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

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

class SelfHealing : public ::testing::Test {
 public:
  std::string layout_ = "rs:4+2";  // of the volume CreateWithData makes

 protected:
  SelfHealing() {
    dir_ = (fs::temp_directory_path() / fmt::format("tessera-heal-test-{}", RandomU64())).string();
    config_.vdevs.push_back(VdevConfig{.name = "meta", .path = dir_ + "/meta.img", .size_bytes = 64ull << 20,
                                       .tier = Tier::kFastest});
    for (uint32_t i = 0; i < 7; i++) {
      config_.vdevs.push_back(VdevConfig{.name = fmt::format("d{}", i), .path = fmt::format("{}/d{}.img", dir_, i),
                                         .size_bytes = 48ull << 20, .tier = Tier::kSlow, .index = i});
    }
  }
  ~SelfHealing() override { fs::remove_all(dir_); }

  // File vdevs in FaultVdevs, remembered by path (vdev online/replace open
  // single vdevs through here too).
  StorageOptions Options() {
    StorageOptions options;
    options.metadata_cache_bytes = 32 << 20;
    options.open_devices = [this](const PoolConfig& config, bool create) -> Result<std::vector<std::shared_ptr<Vdev>>> {
      auto files = TRY(OpenVdevs(config, {.create = create, .allow_missing = !create}));
      std::vector<std::shared_ptr<Vdev>> out;
      for (size_t i = 0; i < files.size(); i++) {
        if (!files[i]) {
          out.push_back(nullptr);
          continue;
        }
        if (plain_files_) {
          out.push_back(files[i]);
          continue;
        }
        auto fault = std::make_shared<FaultVdev>(files[i]);
        faults_[fs::path(config.vdevs[i].path).filename().string()] = fault;
        out.push_back(fault);
      }
      return out;
    };
    return options;
  }

  std::unique_ptr<Storage> CreateWithData() {
    auto storage = Storage::Create(dir_, config_, Options());
    EXPECT_TRUE(storage) << storage.error().ToString();
    auto info = (*storage)->CreateVolume(VolumeSpec{.name = "vol", .size = kVolumeBytes, .layout = layout_});
    EXPECT_TRUE(info) << info.error().ToString();
    auto volume = (*storage)->OpenVolume("vol");
    EXPECT_TRUE(volume);
    EXPECT_TRUE((*volume)->Write(0, data_, false));
    EXPECT_TRUE((*volume)->Flush());
    volume->reset();
    EXPECT_TRUE((*storage)->CloseIdleVolumes());  // reads now come from the vdevs, not the cache
    return std::move(*storage);
  }

  std::unique_ptr<Storage> Reopen() {
    auto storage = Storage::Open(dir_, Options());
    EXPECT_TRUE(storage) << storage.error().ToString();
    return storage ? std::move(*storage) : nullptr;
  }

  // The volume reads back exactly the data written.
  void ExpectData(Storage& storage) {
    auto volume = storage.OpenVolume("vol");
    ASSERT_TRUE(volume) << volume.error().ToString();
    std::vector<std::byte> got(kDataBytes);
    auto read = (*volume)->Read(0, got);
    ASSERT_TRUE(read) << read.error().ToString();
    EXPECT_TRUE(got == data_);
  }

  // Snapshot "vol@s" reads back exactly the data written.
  void ExpectSnapshotData(Storage& storage) {
    auto snap = storage.OpenVolume("vol@s");
    ASSERT_TRUE(snap) << snap.error().ToString();
    std::vector<std::byte> got(kDataBytes);
    ASSERT_TRUE((*snap)->Read(0, got));
    EXPECT_TRUE(got == data_);
  }

  // Snapshots "vol" as "vol@s", takes the vdev of its first row (`lost`)
  // offline, and has inspect --repair move the rows' blocks off it.
  void RepairUnderASnapshot(Storage& storage, std::string* lost) {
    ASSERT_TRUE(storage.CreateSnapshot("vol", "s"));
    *lost = VdevOfFirstRow(storage);
    ASSERT_TRUE(storage.OfflineVdev(*lost));
    auto repaired = storage.InspectVolume("vol", InspectDepth::kScan, /*repair=*/true);
    ASSERT_TRUE(repaired) << repaired.error().ToString();
    ASSERT_GT(repaired->replaced_blocks, 0u);
  }

  // A vdev holding the first row block of `volume` (its name).
  std::string VdevOfFirstRow(Storage& storage, const std::string& volume = "vol") {
    std::string text = *storage.ExnodeText(volume);
    size_t at = text.find("vdev=");
    return text.substr(at + 5, text.find('\n', at) - at - 5);
  }

  std::string dir_;
  PoolConfig config_;
  std::map<std::string, std::shared_ptr<FaultVdev>> faults_;
  // File vdevs as the server has them, without FaultVdevs (whose undo log
  // reads each block before it is written).
  bool plain_files_ = false;
  const std::vector<std::byte> data_ = Pattern(kDataBytes, 42);
};

class SelfHealingLayouts : public SelfHealing, public ::testing::WithParamInterface<const char*> {
 protected:
  SelfHealingLayouts() { layout_ = GetParam(); }
};

INSTANTIATE_TEST_SUITE_P(Layouts, SelfHealingLayouts, ::testing::Values("rs:4+2", "mirror:3"),
                         [](const auto& info) { return std::string(info.param[0] == 'r' ? "rs" : "mirror"); });

TEST_P(SelfHealingLayouts, InspectRepairMovesBlocksOffAnOfflineVdevAndRebuildsThem) {
  auto storage = CreateWithData();
  std::string lost = VdevOfFirstRow(*storage);
  ASSERT_TRUE(storage->OfflineVdev(lost));
  ExpectData(*storage);  // degraded reads

  auto before = storage->InspectVolume("vol", InspectDepth::kScan, /*repair=*/false);
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_GT(before->bad, 0u);
  EXPECT_EQ(before->repaired, 0u);

  uint64_t progress_calls = 0;
  auto repaired = storage->InspectVolume("vol", InspectDepth::kScan, /*repair=*/true,
                                         [&](const Progress&) { progress_calls++; });
  ASSERT_TRUE(repaired) << repaired.error().ToString();
  EXPECT_GT(repaired->replaced_blocks, 0u);
  EXPECT_GT(repaired->repaired, 0u);
  EXPECT_EQ(repaired->unrecoverable, 0u);
  EXPECT_GT(progress_calls, 0u);
  EXPECT_EQ(storage->ExnodeText("vol")->find("vdev=" + lost + "\n"), std::string::npos)
      << "a row still uses the offline vdev";

  auto after = storage->InspectVolume("vol", InspectDepth::kFull, /*repair=*/false);
  ASSERT_TRUE(after) << after.error().ToString();
  EXPECT_TRUE(after->clean()) << after->bad << " bad: " << (after->problems.empty() ? "" : after->problems[0]);
  ExpectData(*storage);
  auto status = storage->GetPoolStatus();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->health, "degraded");  // the vdev itself is still offline ...
  EXPECT_TRUE(status->degraded_volumes.empty());  // ... but holds nothing of the volume
  ASSERT_TRUE(storage->Close());
  storage.reset();

  storage = Reopen();  // the offline state persisted; the data did not need it
  ASSERT_TRUE(storage);
  auto vdevs = storage->ListVdevs();
  ASSERT_TRUE(vdevs);
  for (const auto& v : *vdevs) EXPECT_EQ(v.state, v.name == lost ? "offline" : "online") << v.name;
  ExpectData(*storage);
  ASSERT_TRUE(storage->OnlineVdev(lost));
  EXPECT_EQ(storage->GetPoolStatus()->health, "online");
}

// The blocks a repair moves rows off stay while a snapshot names them
// (storage_repair.cc note 2b): the snapshot still reads, the pool checks
// clean, and deleting the snapshot frees them (volume_clean.cc note 7).
// Freeing them at the repair left the snapshot naming free blocks.
TEST_P(SelfHealingLayouts, RepairKeepsTheBlocksASnapshotNamesUntilItIsDeleted) {
  auto storage = CreateWithData();
  std::string lost;
  ASSERT_NO_FATAL_FAILURE(RepairUnderASnapshot(*storage, &lost));
  {
    SCOPED_TRACE("after the repair");
    testing::ExpectClean(*storage);
  }
  ExpectSnapshotData(*storage);
  ASSERT_TRUE(storage->DeleteSnapshot("vol", "s"));
  {
    SCOPED_TRACE("after the snapshot's delete");
    testing::ExpectClean(*storage);
  }
  ExpectData(*storage);
}

// Those blocks, on a vdev that is then lost and replaced, are not lost
// data: the snapshot reads around them (storage_vdevs.cc note 3c).
TEST_P(SelfHealingLayouts, ReplacingAVdevWithBlocksOnlyASnapshotNamesLosesNothing) {
  auto storage = CreateWithData();
  std::string lost;
  ASSERT_NO_FATAL_FAILURE(RepairUnderASnapshot(*storage, &lost));
  ASSERT_TRUE(storage->Close());
  storage.reset();
  fs::remove(dir_ + "/" + lost + ".img");
  storage = Reopen();
  ASSERT_TRUE(storage);
  auto replaced = storage->ReplaceVdev(lost, "new.img");
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u) << (replaced->problems.empty() ? "" : replaced->problems[0]);
  ExpectSnapshotData(*storage);
  ExpectData(*storage);
  testing::ExpectClean(*storage);
}

TEST_P(SelfHealingLayouts, ScrubRepairsCorruptChunksOnceAndCountsThem) {
  auto storage = CreateWithData();
  std::string victim = VdevOfFirstRow(*storage);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  // Corrupt a data byte in each of the first 10 chunks of the victim's first
  // row block (chunks of 68 KiB from block 3: a 4 KiB header, then data).
  int fd = ::open((dir_ + "/" + victim + ".img").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  for (int k = 0; k < 10; k++) {
    off_t at = 3 * 4096 + k * 69632 + 4096 + 1000;
    unsigned char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, at), 1);
    b ^= 0xa5;
    ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
  }
  ::close(fd);

  storage = Reopen();
  ASSERT_TRUE(storage);
  auto scrub = storage->Scrub();
  ASSERT_TRUE(scrub) << scrub.error().ToString();
  EXPECT_EQ(scrub->volumes, 1u);
  EXPECT_EQ(scrub->repaired, 10u);
  EXPECT_EQ(scrub->unrecoverable, 0u);
  EXPECT_TRUE(scrub->clean());
  auto vdevs = storage->ListVdevs();
  ASSERT_TRUE(vdevs);
  for (const auto& v : *vdevs) EXPECT_EQ(v.checksum_errors, v.name == victim ? 10u : 0u) << v.name;
  auto again = storage->Scrub();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->repaired, 0u);
  EXPECT_TRUE(again->clean());
  ExpectData(*storage);
}

// A vdev file cut short while the pool is open (an admin's mistake, a full
// filesystem under a sparse file): reads of what it held fail with IOError
// and are rebuilt from parity, nothing crashes, scrub names the damage and
// a replace makes the pool whole again.
TEST_P(SelfHealingLayouts, AVdevFileTruncatedWhileOpenCostsOnlyErrors) {
  plain_files_ = true;
  auto storage = CreateWithData();
  std::string victim = VdevOfFirstRow(*storage);
  fs::resize_file(fmt::format("{}/{}.img", dir_, victim), 1 << 20);  // labels at its start survive
  ExpectData(*storage);
  auto scrub = storage->Scrub();
  ASSERT_TRUE(scrub) << scrub.error().ToString();
  EXPECT_GT(scrub->checked, 0u);
  EXPECT_EQ(scrub->unrecoverable, 0u) << "parity covers one lost vdev";
  EXPECT_GT(scrub->repaired + scrub->degraded, 0u) << "scrub did not notice the cut vdev";
  ExpectData(*storage);
  auto replaced = storage->ReplaceVdev(victim, victim + "-new.img");
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u);
  auto again = storage->Scrub();
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->repaired + again->unrecoverable + again->degraded, 0u) << "the replace left damage behind";
  ASSERT_TRUE(storage->Close());
  storage.reset();
  auto reopened = Reopen();
  ASSERT_TRUE(reopened);
  ExpectData(*reopened);
  auto check = reopened->Check();
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_TRUE(check->clean()) << check->Summary();
}

// A volume without parity whose data is partly on a missing vdev: the pool
// opens degraded, and pool status, the snapshot list (which opens the
// volume to count its space) and closing the pool still work; reads of what
// the missing vdev held fail with IOError.
TEST_F(SelfHealing, AVolumeWithDataOnAMissingVdevStillCloses) {
  std::string lost;
  {
    auto storage = Storage::Create(dir_, config_, Options());
    ASSERT_TRUE(storage) << storage.error().ToString();
    ASSERT_TRUE((*storage)->CreateVolume(VolumeSpec{.name = "plain", .size = kVolumeBytes, .layout = "stripe:2"}));
    auto volume = std::move(*(*storage)->OpenVolume("plain"));
    ASSERT_TRUE(volume->Write(0, data_, false));
    volume.reset();
    ASSERT_TRUE((*storage)->CreateSnapshot("plain", "s"));
    lost = VdevOfFirstRow(**storage, "plain");
    ASSERT_TRUE((*storage)->Close());
  }
  fs::remove(fmt::format("{}/{}.img", dir_, lost));
  auto storage = Reopen();
  ASSERT_TRUE(storage);
  auto status = storage->GetPoolStatus();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(status->health, "degraded");
  auto snapshots = storage->ListSnapshots("plain");
  ASSERT_TRUE(snapshots) << snapshots.error().ToString();
  EXPECT_EQ(snapshots->size(), 1u);
  {
    auto volume = storage->OpenVolume("plain");
    ASSERT_TRUE(volume) << volume.error().ToString();
    std::vector<std::byte> got(kDataBytes);
    auto read = (*volume)->Read(0, got);
    ASSERT_FALSE(read) << "data of a missing vdev was read";
    EXPECT_EQ(read.error().code(), Code::kIOError);
  }
  ASSERT_TRUE(storage->CloseIdleVolumes());
  auto closed = storage->Close();
  EXPECT_TRUE(closed) << closed.error().ToString();
}

TEST_P(SelfHealingLayouts, ReplaceRebuildsAMissingVdevFromParity) {
  auto storage = CreateWithData();
  std::string lost = VdevOfFirstRow(*storage);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  fs::remove(dir_ + "/" + lost + ".img");

  storage = Reopen();  // degraded open
  ASSERT_TRUE(storage);
  auto status = storage->GetPoolStatus();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->health, "degraded");
  ASSERT_EQ(status->degraded_volumes.size(), 1u);
  EXPECT_EQ(status->degraded_volumes[0].state, "degraded");
  ExpectData(*storage);

  EXPECT_FALSE(storage->ReplaceVdev(lost, dir_ + "/d0.img"));  // an existing file
  EXPECT_EQ(storage->ReplaceVdev("nope", "x.img").error().code(), Code::kNotFound);
  auto replaced = storage->ReplaceVdev(lost, "new.img");
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_GT(replaced->rebuilt_chunks, 0u);
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u);
  EXPECT_EQ(replaced->copied_blocks, 0u);
  EXPECT_EQ(storage->GetPoolStatus()->health, "online");
  auto scrub = storage->Scrub();
  ASSERT_TRUE(scrub);
  EXPECT_EQ(scrub->repaired, 0u);
  EXPECT_TRUE(scrub->clean());
  ASSERT_TRUE(storage->Close());
  storage.reset();

  storage = Reopen();
  ASSERT_TRUE(storage);
  EXPECT_EQ(storage->GetPoolStatus()->health, "online");
  // Nothing else can serve the data: take two other vdevs of the row away.
  int offline = 0;
  auto listed = *storage->ListVdevs();
  for (const auto& v : listed) {
    if (v.tier == "slow" && v.name != lost && offline < 2 && storage->OfflineVdev(v.name)) offline++;
  }
  ExpectData(*storage);
}

// A new path pool.conf cannot hold (a line past its length limit) is
// refused before anything is made: replacing to it would leave a pool that
// does not open again.
TEST_F(SelfHealing, ReplaceRefusesAPathPoolConfCannotHold) {
  auto storage = CreateWithData();
  std::string old = VdevOfFirstRow(*storage);
  const std::string conf = dir_ + "/pool.conf";
  std::ifstream before_in(conf);
  std::string before((std::istreambuf_iterator<char>(before_in)), std::istreambuf_iterator<char>());
  std::string deep = dir_ + "/" + std::string(120, 'a') + "/" + std::string(120, 'b');
  fs::create_directories(deep);
  auto replaced = storage->ReplaceVdev(old, deep + "/new.img");
  ASSERT_FALSE(replaced);
  EXPECT_EQ(replaced.error().code(), Code::kInvalidArgument);
  EXPECT_NE(replaced.error().message().find("pool.conf"), std::string::npos) << replaced.error().ToString();
  EXPECT_FALSE(fs::exists(deep + "/new.img"));
  std::ifstream after_in(conf);
  std::string after((std::istreambuf_iterator<char>(after_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, before);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  storage = Reopen();
  ASSERT_TRUE(storage);
  ExpectData(*storage);
}

TEST_P(SelfHealingLayouts, OnlineReplaceCopiesTheOldDevice) {
  auto storage = CreateWithData();
  std::string old = VdevOfFirstRow(*storage);
  auto replaced = storage->ReplaceVdev(old, "fresh.img");
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_GT(replaced->copied_blocks, 0u);
  EXPECT_EQ(replaced->rebuilt_chunks, 0u);
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u);
  ExpectData(*storage);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  storage = Reopen();
  ASSERT_TRUE(storage);
  ExpectData(*storage);
  EXPECT_TRUE(storage->Scrub()->clean());
}

TEST_F(SelfHealing, ReplaceWorksInTheMetadataTierAndRefusesOpenVolumesWithoutParity) {
  auto storage = CreateWithData();
  // The metadata tier can be replaced (its node copies and superblocks have
  // other copies; database.h contract 6).
  auto meta = storage->ReplaceVdev("meta", "meta2.img");
  ASSERT_TRUE(meta) << meta.error().ToString();
  EXPECT_TRUE(meta->problems.empty()) << meta->problems.front();
  ExpectData(*storage);
  ASSERT_TRUE(storage->CreateVolume(VolumeSpec{.name = "plain", .size = 8 << 20}));
  std::string vdev = VdevOfFirstRow(*storage, "plain");
  auto plain = storage->OpenVolume("plain");
  ASSERT_TRUE(plain);
  auto bytes = Pattern(1 << 20, 7);
  ASSERT_TRUE((*plain)->Write(0, bytes, true));
  auto busy = storage->ReplaceVdev(vdev, "busy.img");
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), Code::kBusy) << busy.error().ToString();
  EXPECT_FALSE(fs::exists(dir_ + "/busy.img"));
  plain->reset();
  auto replaced = storage->ReplaceVdev(vdev, "idle.img");
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  EXPECT_GT(replaced->copied_blocks, 0u);
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u);
  auto again = storage->OpenVolume("plain");
  ASSERT_TRUE(again);
  std::vector<std::byte> got(bytes.size());
  ASSERT_TRUE((*again)->Read(0, got));
  EXPECT_TRUE(got == bytes);
  ExpectData(*storage);
}

// A volume without parity that a client has open, with no data on the vdev
// when its replace starts, keeps writing during the copy: its new rows stay
// off that vdev (RowPlacement; core/volume/storage_vdevs.cc, design note
// 6). A row placed there would take writes behind the copy and lose them
// with the old device.
TEST_F(SelfHealing, RowsAnOpenVolumeWithoutParityGetsDuringAReplaceCopyAvoidTheVdev) {
  auto storage = CreateWithData();
  const std::string victim = VdevOfFirstRow(*storage);
  ASSERT_TRUE(storage->OfflineVdev(victim));  // "plain" starts with no row there
  ASSERT_TRUE(storage->CreateVolume(VolumeSpec{.name = "plain", .size = 16 << 20}));
  ASSERT_TRUE(storage->OnlineVdev(victim));
  ASSERT_EQ(storage->ExnodeText("plain")->find("vdev=" + victim + "\n"), std::string::npos);
  auto plain = std::move(*storage->OpenVolume("plain"));
  std::vector<std::byte> model(16 << 20);
  bool wrote = false;
  auto replaced = storage->ReplaceVdev(victim, "fresh.img", [&](const Progress&) {
    if (wrote) return;
    wrote = true;
    // Rows of 4 MiB: three passes over the volume need a dozen new ones.
    for (int pass = 0; pass < 3; pass++) {
      model = Pattern(model.size(), 100 + pass);
      auto written = plain->Write(0, model, false);
      ASSERT_TRUE(written) << written.error().ToString();
      ASSERT_TRUE(plain->Flush());
    }
  });
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  ASSERT_TRUE(wrote) << "the copy reported no progress";
  EXPECT_EQ(storage->ExnodeText("plain")->find("vdev=" + victim + "\n"), std::string::npos)
      << "a row written during the copy is on the replaced vdev";
  std::vector<std::byte> got(model.size());
  auto read = plain->Read(0, got);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(got == model) << "writes during the copy were lost";
  plain.reset();
  ExpectData(*storage);
}

// An rs:4+2 volume written while two vdevs are offline and a third is being
// replaced: each new row takes at most two of those three (volume_impl.cc,
// design note 4d). A row with all three would lose the chunk written to the
// old device behind the copy with two others missing: the replace could not
// rebuild it, and acknowledged writes would be gone.
TEST_F(SelfHealing, RowsWrittenDuringAReplaceCopyWithVdevsOfflineKeepTheirParity) {
  auto storage = CreateWithData();
  std::vector<std::string> slow;
  auto vdevs = storage->ListVdevs();
  ASSERT_TRUE(vdevs);
  for (const auto& v : *vdevs) {
    if (v.tier == "slow") slow.push_back(v.name);
  }
  ASSERT_EQ(slow.size(), 7u);
  ASSERT_TRUE(storage->OfflineVdev(slow[1]));
  ASSERT_TRUE(storage->OfflineVdev(slow[2]));
  auto volume = std::move(*storage->OpenVolume("vol"));
  std::vector<std::byte> model(kVolumeBytes);
  bool wrote = false;
  auto replaced = storage->ReplaceVdev(slow[0], "fresh.img", [&](const Progress&) {
    if (wrote) return;
    wrote = true;
    for (int pass = 0; pass < 3; pass++) {  // rows of 4 MiB: two dozen new ones
      model = Pattern(model.size(), 200 + pass);
      ASSERT_TRUE(volume->Write(0, model, false));
      auto flushed = volume->Flush();
      ASSERT_TRUE(flushed) << flushed.error().ToString();
    }
  });
  ASSERT_TRUE(replaced) << replaced.error().ToString();
  ASSERT_TRUE(wrote) << "the copy reported no progress";
  EXPECT_EQ(replaced->unrecoverable_blocks, 0u) << "the replace lost rows written during its copy";
  ASSERT_TRUE(storage->OnlineVdev(slow[1]));
  ASSERT_TRUE(storage->OnlineVdev(slow[2]));
  std::vector<std::byte> got(model.size());
  auto read = volume->Read(0, got);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_TRUE(got == model) << "writes during the copy were lost";
  volume.reset();
  auto check = storage->Check();
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean()) << check->Summary();
}

TEST_F(SelfHealing, BeyondParityReadsFailWithIOErrorNeverWrongData) {
  auto storage = CreateWithData();
  auto vdevs = *storage->ListVdevs();
  // Two vdevs offline and a third failing every read: some row loses 3.
  std::vector<std::string> slow;
  for (const auto& v : vdevs) {
    if (v.tier == "slow") slow.push_back(v.name);
  }
  ASSERT_TRUE(storage->OfflineVdev(slow[0]));
  ASSERT_TRUE(storage->OfflineVdev(slow[1]));
  faults_[slow[2] + ".img"]->FailNth(1, /*persistent=*/true, FaultOpKind::kRead);
  auto volume = storage->OpenVolume("vol");
  ASSERT_TRUE(volume);
  uint64_t failed = 0;
  constexpr size_t kPiece = 256 << 10;
  for (uint64_t at = 0; at < kDataBytes; at += kPiece) {
    std::vector<std::byte> got(kPiece);
    auto read = (*volume)->Read(at, got);
    if (!read) {
      EXPECT_EQ(read.error().code(), Code::kIOError) << read.error().ToString();
      failed++;
      continue;
    }
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data_.begin() + at)) << "wrong data at " << at;
  }
  EXPECT_GT(failed, 0u);
  auto counted = *storage->ListVdevs();
  for (const auto& v : counted) {
    if (v.name == slow[2]) {
      EXPECT_GT(v.read_errors, 0u);
    }
  }
  auto inspect = storage->InspectVolume("vol", InspectDepth::kScan, /*repair=*/true);
  ASSERT_TRUE(inspect) << inspect.error().ToString();
  EXPECT_GT(inspect->unrecoverable, 0u);
  faults_[slow[2] + ".img"]->ClearFailures();
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// A vdev that is offline when the pool opens: an rs:4+2 volume keeps taking
// writes that need new rows (degraded rows may use it), and once the vdev is
// online again it takes new rows and metadata like any other (it used to
// stay unusable until the pool was reopened).
TEST_F(SelfHealing, VdevOfflineAtOpenIsUsedAgainOnceOnline) {
  auto storage = CreateWithData();
  ASSERT_TRUE(storage->OfflineVdev("d0"));
  ASSERT_TRUE(storage->OfflineVdev("d1"));
  ASSERT_TRUE(storage->Close());
  storage.reset();
  storage = Reopen();  // d0 and d1 are offline from the start
  ASSERT_TRUE(storage);
  auto more = Pattern(kVolumeBytes - kDataBytes, 7);
  {
    auto volume = std::move(*storage->OpenVolume("vol"));
    // Rows of 2 MiB per device: this needs several new ones.
    auto written = volume->Write(kDataBytes, more, false);
    ASSERT_TRUE(written) << written.error().ToString();
    ASSERT_TRUE(volume->Flush());
  }
  ASSERT_TRUE(storage->OnlineVdev("d0"));
  ASSERT_TRUE(storage->OnlineVdev("d1"));
  {
    auto volume = std::move(*storage->OpenVolume("vol"));
    for (int pass = 0; pass < 3; pass++) {  // overwrites: the log grows into new rows
      ASSERT_TRUE(volume->Write(0, Pattern(kVolumeBytes, 10 + pass), false));
      ASSERT_TRUE(volume->Flush());
    }
    ASSERT_TRUE(storage->Commit());
  }
  std::string exnode = *storage->ExnodeText("vol");
  EXPECT_NE(exnode.find("vdev=d0\n"), std::string::npos) << "no new row uses d0 after it came back";
  auto report = storage->Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << report->Summary();
}

}  // namespace
}  // namespace tessera
