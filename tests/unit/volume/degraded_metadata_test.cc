// The default pool shape (every vdev in the fastest tier, which holds the
// superblocks and the tree nodes) loses vdev files and still opens, serves
// its volumes, and heals with replace and scrub (database.h contracts 5, 6).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/util/uuid.h"
#include "core/volume/storage.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using testing::Pattern;

constexpr uint64_t kVolumeBytes = 32ull << 20;
constexpr uint64_t kDataBytes = 8ull << 20;

class DegradedMetadata : public ::testing::Test {
 protected:
  DegradedMetadata() {
    dir_ = (fs::temp_directory_path() / fmt::format("tessera-degraded-meta-{}", RandomU64())).string();
  }
  ~DegradedMetadata() override { fs::remove_all(dir_); }

  StorageOptions Options() {
    StorageOptions options;
    options.metadata_cache_bytes = 32 << 20;
    return options;
  }

  // A default pool of `vdevs` vdevs with volume "vol" (`layout`) holding data_.
  void CreatePool(uint32_t vdevs, const std::string& layout) {
    auto storage = Storage::Create(dir_, Storage::DefaultConfig(dir_, vdevs, 64ull << 20), Options());
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto info = (*storage)->CreateVolume(VolumeSpec{.name = "vol", .size = kVolumeBytes, .layout = layout});
    ASSERT_TRUE(info) << info.error().ToString();
    // More metadata than one node: a second volume with its own tree.
    ASSERT_TRUE((*storage)->CreateVolume(VolumeSpec{.name = "other", .size = kVolumeBytes, .layout = layout}));
    auto volume = (*storage)->OpenVolume("vol");
    ASSERT_TRUE(volume);
    ASSERT_TRUE((*volume)->Write(0, data_, false));
    ASSERT_TRUE((*volume)->Flush());
    volume->reset();
    ASSERT_TRUE((*storage)->CreateSnapshot("vol", "s"));
    ASSERT_TRUE((*storage)->Close());
  }

  std::unique_ptr<Storage> Open() {
    auto storage = Storage::Open(dir_, Options());
    EXPECT_TRUE(storage) << storage.error().ToString();
    return storage ? std::move(*storage) : nullptr;
  }

  void ExpectData(Storage& storage) {
    for (std::string name : {"vol", "vol@s"}) {
      auto volume = storage.OpenVolume(name);
      ASSERT_TRUE(volume) << name << ": " << volume.error().ToString();
      std::vector<std::byte> got(kDataBytes);
      auto read = (*volume)->Read(0, got);
      ASSERT_TRUE(read) << name << ": " << read.error().ToString();
      EXPECT_TRUE(got == data_) << name;
    }
  }

  std::string VdevFile(uint32_t i) { return fmt::format("{}/vdev{}.img", dir_, i); }

  std::string dir_;
  const std::vector<std::byte> data_ = Pattern(kDataBytes, 99);
};

// Two vdevs: either one may go, the other holds a copy of everything.
TEST_F(DegradedMetadata, TwoVdevDefaultPoolLosesEitherVdev) {
  CreatePool(2, "simple");
  fs::copy_file(VdevFile(0), dir_ + "/saved0");
  fs::copy_file(VdevFile(1), dir_ + "/saved1");
  for (uint32_t victim : {0u, 1u}) {
    SCOPED_TRACE(fmt::format("vdev{} removed", victim));
    fs::remove(VdevFile(victim));
    auto storage = Open();
    ASSERT_TRUE(storage);
    EXPECT_EQ(storage->GetPoolStatus()->health, "degraded");
    // The volume's data rows were on one vdev or the other; the metadata
    // (its tree, the snapshot) is all there either way.
    auto snapshots = storage->ListSnapshots("vol");
    ASSERT_TRUE(snapshots) << snapshots.error().ToString();
    EXPECT_EQ(snapshots->size(), 1u);
    auto volumes = storage->ListVolumes();
    ASSERT_TRUE(volumes) << volumes.error().ToString();
    EXPECT_EQ(volumes->size(), 2u);
    // A simple volume whose rows were on the lost vdev cannot flush its log
    // head: closing may report that; it is the data's loss, not the pool's.
    (void)storage->Close();
    storage.reset();
    fs::copy_file(dir_ + "/saved" + std::to_string(victim), VdevFile(victim));
  }
}

// The shape `pool create --vdevs 6` makes, with an rs:4+2 volume: two vdev
// files go, the pool opens degraded and serves every byte; two replaces and
// a scrub make it healthy again.
TEST_F(DegradedMetadata, SixVdevDefaultPoolLosesTwoVdevsAndHeals) {
  for (auto [first, second] : {std::pair{0u, 1u}, {2u, 5u}, {3u, 4u}}) {
    SCOPED_TRACE(fmt::format("vdev{} and vdev{} removed", first, second));
    fs::remove_all(dir_);
    CreatePool(6, "rs:4+2");
    fs::remove(VdevFile(first));
    fs::remove(VdevFile(second));
    auto storage = Open();
    ASSERT_TRUE(storage);
    auto status = storage->GetPoolStatus();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->health, "degraded");
    ExpectData(*storage);
    for (uint32_t lost : {first, second}) {
      auto replaced = storage->ReplaceVdev(fmt::format("vdev{}", lost), fmt::format("new{}.img", lost));
      ASSERT_TRUE(replaced) << replaced.error().ToString();
      EXPECT_EQ(replaced->unrecoverable_blocks, 0u);
      EXPECT_TRUE(replaced->problems.empty()) << replaced->problems.front();
      EXPECT_GT(replaced->metadata_copies_rebuilt, 0u);
    }
    EXPECT_EQ(storage->GetPoolStatus()->health, "online");
    auto scrub = storage->Scrub();
    ASSERT_TRUE(scrub) << scrub.error().ToString();
    EXPECT_TRUE(scrub->clean()) << scrub->metadata.Summary();
    ExpectData(*storage);
    ASSERT_TRUE(storage->Close());
    storage.reset();
    // Healthy on disk: every vdev opens and the data reads back.
    storage = Open();
    ASSERT_TRUE(storage);
    EXPECT_EQ(storage->GetPoolStatus()->health, "online");
    ExpectData(*storage);
    ASSERT_TRUE(storage->Close());
  }
}

}  // namespace
}  // namespace tessera
