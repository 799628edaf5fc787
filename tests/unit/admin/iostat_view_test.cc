#include "admin/iostat_view.h"

#include <gtest/gtest.h>

namespace tessera {
namespace {

IoTotals Totals(uint64_t ops, uint64_t bytes, uint64_t ns_each) {
  IoCounter c;
  if (ops > 0) c.Record(ops, bytes, ns_each);
  return ToTotals(c.Snapshot());
}

PoolIoReport Report(uint64_t sampled_s, uint64_t scale) {
  PoolIoReport r{.pool = "p", .opened_ns = 0, .sampled_ns = sampled_s * 1'000'000'000};
  r.vdevs.push_back({.name = "a", .tier = "slow", .reads = Totals(10 * scale, 40960 * scale, 100'000),
                     .writes = Totals(scale, 4096 * scale, 2'000'000)});
  r.vdevs.push_back({.name = "m", .tier = "fastest", .reads = Totals(0, 0, 0), .writes = Totals(scale, 512 * scale, 1'000'000)});
  r.volumes.push_back({.name = "v", .reads = Totals(5 * scale, 20480 * scale, 300'000),
                       .cache_hit_pages = 3 * scale, .cache_miss_pages = scale,
                       .cleaner_moved = Totals(scale, (1 << 20) * scale, 1'000'000),
                       .cleaner_freed = Totals(2 * scale, (4 << 20) * scale, 0)});
  return r;
}

TEST(IostatView, RatesOverTheIntervalOrSinceTheOpen) {
  PoolIoReport first = Report(2, 1);
  IostatView since_open = ComputeIostat(first, nullptr, false);
  ASSERT_EQ(since_open.rows.size(), 1u);
  EXPECT_DOUBLE_EQ(since_open.seconds, 2);
  EXPECT_DOUBLE_EQ(since_open.rows[0].read_ops, 5);     // 10 reads in 2 s
  EXPECT_DOUBLE_EQ(since_open.rows[0].write_ops, 1);    // 2 writes in 2 s
  EXPECT_DOUBLE_EQ(since_open.rows[0].write_bytes, 2304);

  PoolIoReport second = Report(6, 3);  // 4 s later, everything tripled
  IostatView interval = ComputeIostat(second, &first, true);
  EXPECT_DOUBLE_EQ(interval.seconds, 4);
  ASSERT_EQ(interval.rows.size(), 6u);  // pool, 2 tiers with a vdev each, 1 volume
  EXPECT_EQ(interval.rows[0].kind, "pool");
  EXPECT_DOUBLE_EQ(interval.rows[0].read_ops, 5);  // 20 more reads in 4 s
  EXPECT_EQ(interval.rows[1].kind, "tier");
  EXPECT_EQ(interval.rows[1].name, "fastest");
  EXPECT_EQ(interval.rows[2].name, "m");
  EXPECT_EQ(interval.rows[3].name, "slow");
  EXPECT_DOUBLE_EQ(interval.rows[4].read_avg_us, 100);
  EXPECT_GE(interval.rows[4].write_p99_us, 2000);
  const IostatRow& volume = interval.rows[5];
  EXPECT_EQ(volume.kind, "volume");
  EXPECT_DOUBLE_EQ(volume.read_ops, 2.5);
  ASSERT_TRUE(volume.cache_hit_ratio);
  EXPECT_DOUBLE_EQ(*volume.cache_hit_ratio, 0.75);
  std::string text = FormatIostat(interval);
  EXPECT_NE(text.find("  volume v"), std::string::npos) << text;
  EXPECT_NE(text.find("75%"), std::string::npos) << text;
  Json json = IostatJson(interval);
  EXPECT_EQ(json["rows"].size(), 6u);
  EXPECT_EQ(json["rows"][5]["cache_hit_ratio"], 0.75);
  // The cleaner: 2 MiB more moved and 8 MiB more freed in 4 s.
  ASSERT_TRUE(volume.cleaner_moved_bytes && volume.cleaner_freed_bytes);
  EXPECT_DOUBLE_EQ(*volume.cleaner_moved_bytes, 512 * 1024);
  EXPECT_DOUBLE_EQ(*volume.cleaner_freed_bytes, 2 << 20);
  EXPECT_NE(text.find("CLEAN MOVED/s"), std::string::npos) << text;
  EXPECT_EQ(json["rows"][5]["cleaner_freed_bytes_per_s"], 2 << 20);
  EXPECT_FALSE(json["rows"][0].contains("cleaner_freed_bytes_per_s"));
}

}  // namespace
}  // namespace tessera
