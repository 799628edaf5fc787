#include "core/util/io_stats.h"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

namespace tessera {
namespace {

TEST(IoStats, BucketsAreContiguousLogLinearRanges) {
  EXPECT_EQ(LatencyBucket(0), 0u);
  EXPECT_EQ(LatencyBucket(999), 0u);
  for (uint32_t i = 1; i + 1 < kLatencyBuckets; i++) {
    SCOPED_TRACE(i);
    EXPECT_LT(LowerUs(i), UpperUs(i));
    EXPECT_EQ(UpperUs(i), LowerUs(i + 1));
    EXPECT_LE(UpperUs(i) / LowerUs(i), 1.5 + 1e-9) << "more than a quarter of a power of two wide";
    // Whole microseconds at the bucket's ends fall in it (below 4 us the
    // buckets are narrower than a microsecond and some are empty).
    if (LowerUs(i) >= 4) {
      auto lower_ns = static_cast<uint64_t>(LowerUs(i) * 1000);
      EXPECT_EQ(LatencyBucket(lower_ns), i);
      EXPECT_EQ(LatencyBucket(static_cast<uint64_t>(UpperUs(i) * 1000) - 1000), i);
    }
  }
  EXPECT_EQ(LatencyBucket(uint64_t{1} << 62), kLatencyBuckets - 1);
  EXPECT_TRUE(std::isinf(UpperUs(kLatencyBuckets - 1)));
}

// Against a model: the reported percentile is the upper bound of the bucket
// holding the true one, so never below it and at most a quarter-power of
// two above (contract 2).
TEST(IoStats, PercentilesBoundTheTrueOnesAgainstAModel) {
  std::mt19937_64 rng(5);
  for (int round = 0; round < 50; round++) {
    IoCounter counter;
    std::vector<uint64_t> model;
    std::lognormal_distribution<double> latency(std::log(200'000.0), 1.5);  // around 200 us
    size_t n = 1 + rng() % 2000;
    for (size_t i = 0; i < n; i++) {
      auto ns = static_cast<uint64_t>(std::min(latency(rng), 1e10)) + 4000;
      counter.Record(1, 4096, ns);
      model.push_back(ns);
    }
    std::sort(model.begin(), model.end());
    IoStats stats = counter.Snapshot();
    ASSERT_EQ(stats.ops, n);
    EXPECT_EQ(stats.bytes, n * 4096);
    for (double p : {0.5, 0.9, 0.99, 1.0}) {
      SCOPED_TRACE(fmt::format("round {} p{}", round, p));
      double truth_us = static_cast<double>(model[static_cast<size_t>(std::ceil(p * n)) - 1]) / 1000;
      double got = stats.PercentileUs(p);
      EXPECT_GE(got, truth_us);
      EXPECT_LE(got, truth_us * 1.26 + 1);
    }
  }
}

TEST(IoStats, SnapshotsSubtractAndTotalsRoundTrip) {
  IoCounter counter;
  counter.Record(3, 12288, 50'000);
  IoStats first = counter.Snapshot();
  counter.Record(2, 8192, 2'000'000);
  IoStats second = counter.Snapshot();
  IoStats delta = second.Since(first);
  EXPECT_EQ(delta.ops, 2u);
  EXPECT_EQ(delta.bytes, 8192u);
  EXPECT_DOUBLE_EQ(delta.AverageUs(), 2000);
  counter.Record(1, 4096, 300);
  EXPECT_DOUBLE_EQ(counter.Snapshot().Since(second).AverageUs(), 0.3) << "a sub-microsecond mean is not zero";
  EXPECT_GE(delta.PercentileUs(0.99), 2000);
  IoTotals totals = ToTotals(second);
  EXPECT_EQ(totals.latency.size(), 2u) << "only the buckets that are not empty";
  IoStats back = FromTotals(totals);
  EXPECT_EQ(back.ops, second.ops);
  EXPECT_EQ(back.buckets, second.buckets);
}

TEST(IoStats, ConcurrentRecordsAllCount) {
  IoCounter counter;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&counter, t] {
      for (int i = 0; i < 10000; i++) counter.Record(1, 512, 1000 * (1 + (i + t) % 300));
    });
  }
  for (auto& t : threads) t.join();
  IoStats stats = counter.Snapshot();
  EXPECT_EQ(stats.ops, 40000u);
  EXPECT_EQ(stats.bytes, 40000u * 512);
  uint64_t in_buckets = 0;
  for (uint64_t b : stats.buckets) in_buckets += b;
  EXPECT_EQ(in_buckets, 40000u);
}

}  // namespace
}  // namespace tessera
