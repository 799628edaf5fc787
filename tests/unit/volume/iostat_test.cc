// Storage::GetIoReport: what `pool iostat` and `tessera metrics` show
// (core/volume/storage_iostat.cc).
#include <gtest/gtest.h>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

const VolumeIoReport* VolumeIo(const PoolIoReport& report, const std::string& name) {
  for (const VolumeIoReport& v : report.volumes) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

TEST(Iostat, CountsClientAndDeviceIo) {
  PoolDir pd(2, 64ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 8 << 20}));
  auto before = storage->GetIoReport();
  ASSERT_TRUE(before) << before.error().ToString();
  EXPECT_EQ(before->vdevs.size(), 2u);
  EXPECT_GE(before->sampled_ns, before->opened_ns);
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    const auto block = Pattern(4096, 3);
    for (uint64_t i = 0; i < 16; i++) ASSERT_TRUE(volume->Write(i * 8192, block, false));
    ASSERT_TRUE(volume->Flush());
    std::vector<std::byte> got(64 << 10);
    ASSERT_TRUE(volume->Read(0, got));
    ASSERT_TRUE(volume->Read(0, got));  // from the cache now
    ASSERT_TRUE(volume->Trim(1 << 20, 1 << 20, false));
  }
  auto after = storage->GetIoReport();
  ASSERT_TRUE(after) << after.error().ToString();
  const VolumeIoReport* v = VolumeIo(*after, "v");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->writes.ops, 16u);
  EXPECT_EQ(v->writes.bytes, 16u * 4096);
  EXPECT_EQ(v->flushes.ops, 1u);
  EXPECT_EQ(v->reads.ops, 2u);
  EXPECT_EQ(v->reads.bytes, 2u * (64 << 10));
  EXPECT_EQ(v->discards.ops, 1u);
  EXPECT_EQ(v->discards.bytes, 1u << 20);
  EXPECT_GE(v->cache_hit_pages, 16u) << "the second read found its pages cached";
  uint64_t latency_ops = 0;
  for (const LatencyCount& c : v->writes.latency) latency_ops += c.count;
  EXPECT_EQ(latency_ops, 16u);
  uint64_t device_write_bytes = 0, device_flushes = 0;
  for (size_t i = 0; i < after->vdevs.size(); i++) {
    device_write_bytes += after->vdevs[i].writes.bytes - before->vdevs[i].writes.bytes;
    device_flushes += after->vdevs[i].flushes.ops - before->vdevs[i].flushes.ops;
  }
  EXPECT_GE(device_write_bytes, 16u * 4096) << "the data reached the devices";
  EXPECT_GT(device_flushes, 0u);

  // A deleted volume leaves the report; a new one of the same name starts at zero.
  ASSERT_TRUE(storage->CloseIdleVolumes());
  ASSERT_TRUE(storage->DeleteVolume("v"));
  EXPECT_EQ(VolumeIo(*storage->GetIoReport(), "v"), nullptr);
}

// The cleaner's work: random rewrites of a small volume make it relocate
// and free rows (volume_clean.cc), counted per volume.
TEST(Iostat, CountsTheCleanersWork) {
  PoolDir pd(2, 64ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 4 << 20}));
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    std::mt19937_64 rng(3);
    for (int i = 0; i < 6000; i++) {
      ASSERT_TRUE(volume->Write((rng() % 1024) * 4096, Pattern(4096, i), false));
      if (i % 256 == 0) {
        ASSERT_TRUE(volume->Flush());
      }
    }
    ASSERT_TRUE(volume->Flush());
  }
  auto report = storage->GetIoReport();
  ASSERT_TRUE(report) << report.error().ToString();
  const VolumeIoReport* v = VolumeIo(*report, "v");
  ASSERT_NE(v, nullptr);
  EXPECT_GT(v->cleaner_freed.ops, 0u);
  EXPECT_EQ(v->cleaner_freed.bytes % (v->cleaner_freed.ops), 0u) << "whole rows";
  EXPECT_GT(v->cleaner_moved.ops, 0u);
  EXPECT_GT(v->cleaner_moved.bytes, 0u);
  EXPECT_LE(v->cleaner_moved.ops, v->cleaner_freed.ops) << "each relocated row is freed";
}

TEST(Iostat, SnapshotExportsCountOnTheirOwn) {
  PoolDir pd(1, 64ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 4 << 20}));
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  {
    auto snapshot = std::move(*storage->OpenVolume("v@s"));
    std::vector<std::byte> got(8192);
    ASSERT_TRUE(snapshot->Read(0, got));
  }
  auto report = storage->GetIoReport();
  ASSERT_TRUE(report);
  const VolumeIoReport* s = VolumeIo(*report, "v@s");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->reads.ops, 1u);
  const VolumeIoReport* v = VolumeIo(*report, "v");
  EXPECT_TRUE(v == nullptr || v->reads.ops == 0);
}

}  // namespace
}  // namespace tessera::testing
