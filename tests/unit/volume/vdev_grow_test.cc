// vdev grow (PoolApi::GrowVdev, core/volume/storage_vdev_grow.cc): the pool
// uses the new space at once, under a volume being written and after a
// reopen; refusals change nothing; a crash at each device write of the
// grow (FaultVdev) opens with the vdev at its old size or its new one and
// checks clean, both outcomes occurring, for a vdev that ends inside a
// segment and one that ends on a segment boundary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/alloc/segment_bitmap.h"
#include "core/pool/vdev_kinds.h"
#include "tests/unit/volume/vdev_change_test_util.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;




TEST(VdevGrow, OnlineUnderWritesThenTheNewSpaceIsUsedAndReopens) {
  PoolDir pd(1, 32 * kMiB);
  Bytes model(20 * kMiB, std::byte{0});
  {
    auto storage = std::move(*pd.Create());
    storage->StartBackground(std::chrono::milliseconds(20));
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = model.size()}));
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(WriteRounds(*volume, model, 20, 1, 5));
    std::atomic<bool> stop{false};
    Status written = Ok();
    std::thread writer([&] {
      for (uint64_t round = 0; written && !stop; round++)
        written = WriteRounds(*volume, model, 4, 100 + round * 4, 5);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto grown = storage->GrowVdev("vdev0", 128 * kMiB);
    stop = true;
    writer.join();
    ASSERT_TRUE(grown) << grown.error().ToString();
    ASSERT_TRUE(written) << written.error().ToString();
    EXPECT_EQ(grown->size_bytes, 128 * kMiB);
    EXPECT_EQ(fs::file_size(pd.dir() + "/vdev0.img"), 128 * kMiB);
    // More live data than the old vdev could hold: rows beyond its old end.
    ASSERT_TRUE(storage->CreateVolume({.name = "w", .size = 48 * kMiB}));
    auto w = std::move(*storage->OpenVolume("w"));
    Bytes w_model(48 * kMiB, std::byte{0});
    ASSERT_TRUE(WriteRounds(*w, w_model, 48, 5000, 5));
    w.reset();
    EXPECT_GT(Named(*storage->ListVdevs(), "vdev0")->used_bytes, 64 * kMiB);
    Bytes now(model.size());
    ASSERT_TRUE(volume->Read(0, now));
    EXPECT_TRUE(now == model);
    volume.reset();
    ExpectClean(*storage);
    ASSERT_TRUE(storage->Close());
  }
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  EXPECT_EQ(Named(*(*storage)->ListVdevs(), "vdev0")->size_bytes, 128 * kMiB);
  auto read = ReadAll(**storage, "v");
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == model);
  ExpectClean(**storage);
}

TEST(VdevGrow, ToTheFileSizeAndRefusals) {
  PoolDir pd(2, 32 * kMiB);
  auto storage = std::move(*pd.Create());
  auto conf = [&] {
    std::ifstream in(pd.dir() + "/pool.conf");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string before = conf();
  auto unknown = storage->GrowVdev("nope", 64 * kMiB);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Code::kNotFound);
  for (uint64_t size : {uint64_t{0}, 16 * kMiB, 32 * kMiB}) {
    auto refused = storage->GrowVdev("vdev1", size);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kInvalidArgument) << refused.error().ToString();
    EXPECT_NE(refused.error().message().find("give a larger size"), std::string::npos);
  }
  ASSERT_TRUE(storage->OfflineVdev("vdev1"));
  auto offline = storage->GrowVdev("vdev1", 64 * kMiB);
  ASSERT_FALSE(offline);
  EXPECT_NE(offline.error().message().find("bring it online first"), std::string::npos);
  ASSERT_TRUE(storage->OnlineVdev("vdev1"));
  EXPECT_EQ(conf(), before);
  EXPECT_EQ(fs::file_size(pd.dir() + "/vdev1.img"), 32 * kMiB);
  // The admin extended the file: the vdev takes its size.
  fs::resize_file(pd.dir() + "/vdev1.img", 48 * kMiB);
  auto smaller = storage->GrowVdev("vdev1", 40 * kMiB);
  ASSERT_FALSE(smaller);
  EXPECT_NE(smaller.error().message().find("more than the"), std::string::npos);
  auto grown = storage->GrowVdev("vdev1", 0);
  ASSERT_TRUE(grown) << grown.error().ToString();
  EXPECT_EQ(grown->size_bytes, 48 * kMiB);
  EXPECT_NE(conf().find("size = " + std::to_string(48 * kMiB)), std::string::npos);
  ExpectClean(*storage);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  auto reopened = pd.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ(Named(*(*reopened)->ListVdevs(), "vdev1")->size_bytes, 48 * kMiB);
  ExpectClean(**reopened);
}



void CrashDuringGrow(uint64_t old_bytes, uint64_t new_bytes) {
  auto create = [&](PoolDir& pd, CrashPlan& plan) {
    return std::move(
        *Storage::Create(pd.dir(), Storage::DefaultConfig(pd.dir(), 2, old_bytes), plan.Options()));
  };
  uint64_t total = 0;
  {
    PoolDir pd;
    CrashPlan plan;
    auto storage = create(pd, plan);
    SetUpPool(*storage, 5);
    uint64_t before = plan.writes();
    ASSERT_TRUE(storage->GrowVdev("vdev0", new_bytes));
    total = plan.writes() - before;
  }
  ASSERT_GT(total, 3u);
  int grown = 0, not_grown = 0;
  for (uint64_t n = 0; n <= total; n++) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes of the grow", n, total));
    PoolDir pd;
    Bytes model;
    bool ok = false;
    {
      CrashPlan plan;
      auto storage = create(pd, plan);
      model = SetUpPool(*storage, 5);
      plan.Arm(n);
      ok = static_cast<bool>(storage->GrowVdev("vdev0", new_bytes));
      plan.PowerLoss();
      (void)storage->Close();
    }
    auto storage = ReopenPlain(pd.dir());
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto read = ReadAll(**storage, "v");
    ASSERT_TRUE(read) << read.error().ToString();
    EXPECT_TRUE(*read == model);
    ExpectClean(**storage);
    uint64_t size = Named(*(*storage)->ListVdevs(), "vdev0")->size_bytes;
    if (ok) {
      EXPECT_EQ(size, new_bytes) << "the grow returned Ok";
    }
    if (size == new_bytes) {
      grown++;
    } else {
      ASSERT_EQ(size, old_bytes);
      not_grown++;
      auto retry = (*storage)->GrowVdev("vdev0", new_bytes);  // the file may be longer already
      ASSERT_TRUE(retry) << retry.error().ToString();
    }
    // Either way the pool writes on and checks clean.
    auto volume = std::move(*(*storage)->OpenVolume("v"));
    ASSERT_TRUE(WriteRounds(*volume, model, 16, 500, 5));
    volume.reset();
    ExpectClean(**storage);
    ASSERT_TRUE((*storage)->Close());
  }
  EXPECT_GT(grown, 0);
  EXPECT_GT(not_grown, 0);
}

TEST(VdevGrow, CrashAtEachDeviceWriteOfAVdevEndingInsideASegment) {
  CrashDuringGrow(32 * kMiB, 48 * kMiB);
}

// The old end label is the last block of a whole segment, which stays a
// segment of the grown vdev.
TEST(VdevGrow, CrashAtEachDeviceWriteOfAVdevEndingOnASegmentBoundary) {
  CrashDuringGrow(kSegmentBlocks * kBlockSize, kSegmentBlocks * kBlockSize + 64 * kMiB);
}

}  // namespace
}  // namespace tessera::testing
