// I/O counters for `tessera pool iostat` and `tessera metrics`: operations,
// bytes and a latency histogram, kept by vdev slots and volumes while the
// pool is open.
//
// Contract
//  1. IoCounter::Record is lock-free (relaxed atomic adds) and callable from
//     any thread; a Snapshot taken meanwhile may see a record's operation
//     without its bytes or latency, never a torn number.
//  2. Latency buckets are log-linear: bucket 0 holds latencies under 1 us;
//     bucket i >= 1 holds [LowerUs(i), LowerUs(i + 1)), four buckets per
//     power of two; the last bucket holds everything from 2^24 us (16.7 s)
//     on. So a percentile is known within 19% (PercentileUs reports the
//     bucket's upper bound: never less than the true value).
//  3. IoStats values subtract (Since) counter by counter: the activity
//     between two snapshots of one counter.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace tessera {

inline constexpr uint32_t kLatencyBuckets = 1 + 24 * 4 + 1;

struct IoStats {
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t total_ns = 0;  // summed latency
  std::array<uint64_t, kLatencyBuckets> buckets{};

  // The mean latency, in microseconds with their fraction: writes absorbed
  // by a cache take well under one.
  double AverageUs() const { return ops == 0 ? 0 : static_cast<double>(total_ns) / static_cast<double>(ops) / 1000; }
  // The upper bound of the bucket holding the p-th fraction (0 < p <= 1) of
  // the operations; 0 without operations (contract 2).
  double PercentileUs(double p) const;
  // `this` minus `earlier` (contract 3).
  IoStats Since(const IoStats& earlier) const;
  IoStats& operator+=(const IoStats& other);
};

// IoStats as reports carry it: the latency buckets that are not empty.
struct LatencyCount {
  uint32_t bucket = 0;
  uint64_t count = 0;
};
struct IoTotals {
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t total_ns = 0;
  std::vector<LatencyCount> latency;
};
IoTotals ToTotals(const IoStats& stats);
// Buckets past the last are dropped.
IoStats FromTotals(const IoTotals& totals);

// The bucket a latency falls in, and a bucket's lower bound (contract 2);
// UpperUs of the last bucket is infinity.
uint32_t LatencyBucket(uint64_t ns);
double LowerUs(uint32_t bucket);
double UpperUs(uint32_t bucket);

class IoCounter {
 public:
  void Record(uint64_t ops, uint64_t bytes, uint64_t ns);
  IoStats Snapshot() const;

 private:
  std::atomic<uint64_t> ops_{0}, bytes_{0}, total_ns_{0};
  std::array<std::atomic<uint64_t>, kLatencyBuckets> buckets_{};
};

// Nanoseconds on the monotonic clock, for latencies.
uint64_t MonotonicNs();

}  // namespace tessera
