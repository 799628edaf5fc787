#include "core/control/metrics_text.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace tessera {
namespace {

PoolIoReport Sample() {
  IoCounter reads, writes;
  for (uint64_t us : {3, 40, 40, 900, 5000}) reads.Record(1, 4096, us * 1000);
  writes.Record(7, 7 * 65536, 250'000);
  PoolIoReport report{.pool = "p\"1", .opened_ns = 1'000'000'000, .sampled_ns = 3'500'000'000};
  report.vdevs.push_back(VdevIoReport{.name = "d0", .tier = "slow", .reads = ToTotals(reads.Snapshot()),
                                      .writes = ToTotals(writes.Snapshot())});
  report.volumes.push_back(VolumeIoReport{.name = "v@s", .reads = ToTotals(reads.Snapshot()),
                                          .cache_hit_pages = 12, .cache_miss_pages = 4});
  return report;
}

// name{labels} -> value, for the sample lines.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

TEST(MetricsText, CountersAndHistogramsInThePrometheusFormat) {
  std::string text = FormatPrometheus(Sample());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  auto samples = Samples(text);
  const std::string vdev = "pool=\"p\\\"1\",vdev=\"d0\",tier=\"slow\"";
  EXPECT_EQ(samples["tessera_uptime_seconds{pool=\"p\\\"1\"}"], "2.5");
  EXPECT_EQ(samples["tessera_vdev_read_ops_total{" + vdev + "}"], "5");
  EXPECT_EQ(samples["tessera_vdev_write_bytes_total{" + vdev + "}"], std::to_string(7 * 65536));
  EXPECT_EQ(samples["tessera_vdev_read_latency_seconds_count{" + vdev + "}"], "5");
  EXPECT_EQ(samples["tessera_vdev_read_latency_seconds_bucket{" + vdev + ",le=\"+Inf\"}"], "5");
  // Cumulative buckets at powers of two of microseconds.
  EXPECT_EQ(samples["tessera_vdev_read_latency_seconds_bucket{" + vdev + ",le=\"4e-06\"}"], "1");
  EXPECT_EQ(samples["tessera_vdev_read_latency_seconds_bucket{" + vdev + ",le=\"6.4e-05\"}"], "3");
  EXPECT_EQ(samples["tessera_vdev_read_latency_seconds_bucket{" + vdev + ",le=\"0.001024\"}"], "4");
  uint64_t previous = 0;
  for (const auto& [key, value] : samples) {
    if (key.starts_with("tessera_vdev_read_latency_seconds_bucket{")) {
      // std::map orders le= as text, so only check each is within the total.
      EXPECT_LE(std::stoull(value), 5u) << key;
      previous = std::max<uint64_t>(previous, std::stoull(value));
    }
  }
  EXPECT_EQ(previous, 5u);
  const std::string volume = "pool=\"p\\\"1\",volume=\"v@s\"";
  EXPECT_EQ(samples["tessera_volume_cache_hit_pages_total{" + volume + "}"], "12");
  EXPECT_EQ(samples["tessera_volume_discard_ops_total{" + volume + "}"], "0");
  EXPECT_NE(text.find("# TYPE tessera_volume_read_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE tessera_vdev_write_ops_total counter\n"), std::string::npos);
}

}  // namespace
}  // namespace tessera
