#include "core/util/io_stats.h"

#include <bit>
#include <chrono>
#include <cmath>
#include <limits>

namespace tessera {

uint32_t LatencyBucket(uint64_t ns) {
  uint64_t us = ns / 1000;
  if (us == 0) return 0;
  uint32_t msb = static_cast<uint32_t>(std::bit_width(us)) - 1;
  // The two bits after the leading one pick the quarter of [2^msb, 2^(msb+1)).
  uint32_t quarter = msb >= 2 ? static_cast<uint32_t>((us >> (msb - 2)) & 3)
                              : static_cast<uint32_t>((us << (2 - msb)) & 3);
  uint64_t bucket = 1 + uint64_t{msb} * 4 + quarter;
  return bucket >= kLatencyBuckets ? kLatencyBuckets - 1 : static_cast<uint32_t>(bucket);
}

double LowerUs(uint32_t bucket) {
  if (bucket == 0) return 0;
  uint32_t msb = (bucket - 1) / 4;
  uint32_t quarter = (bucket - 1) % 4;
  return std::ldexp(4.0 + quarter, static_cast<int>(msb) - 2);
}

double UpperUs(uint32_t bucket) {
  if (bucket + 1 >= kLatencyBuckets) return std::numeric_limits<double>::infinity();
  return LowerUs(bucket + 1);
}

double IoStats::PercentileUs(double p) const {
  uint64_t in_buckets = 0;
  for (uint64_t n : buckets) in_buckets += n;
  if (in_buckets == 0) return 0;
  uint64_t want = static_cast<uint64_t>(std::ceil(p * static_cast<double>(in_buckets)));
  if (want == 0) want = 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i < kLatencyBuckets; i++) {
    seen += buckets[i];
    // The last bucket has no upper bound: report where it starts.
    if (seen >= want) return i + 1 == kLatencyBuckets ? LowerUs(i) : UpperUs(i);
  }
  return LowerUs(kLatencyBuckets - 1);
}

IoStats IoStats::Since(const IoStats& earlier) const {
  IoStats out;
  out.ops = ops - earlier.ops;
  out.bytes = bytes - earlier.bytes;
  out.total_ns = total_ns - earlier.total_ns;
  for (uint32_t i = 0; i < kLatencyBuckets; i++) out.buckets[i] = buckets[i] - earlier.buckets[i];
  return out;
}

IoStats& IoStats::operator+=(const IoStats& other) {
  ops += other.ops;
  bytes += other.bytes;
  total_ns += other.total_ns;
  for (uint32_t i = 0; i < kLatencyBuckets; i++) buckets[i] += other.buckets[i];
  return *this;
}

IoTotals ToTotals(const IoStats& stats) {
  IoTotals out{.ops = stats.ops, .bytes = stats.bytes, .total_ns = stats.total_ns};
  for (uint32_t i = 0; i < kLatencyBuckets; i++) {
    if (stats.buckets[i] != 0) out.latency.push_back({.bucket = i, .count = stats.buckets[i]});
  }
  return out;
}

IoStats FromTotals(const IoTotals& totals) {
  IoStats out{.ops = totals.ops, .bytes = totals.bytes, .total_ns = totals.total_ns};
  for (const LatencyCount& c : totals.latency) {
    if (c.bucket < kLatencyBuckets) out.buckets[c.bucket] += c.count;
  }
  return out;
}

void IoCounter::Record(uint64_t ops, uint64_t bytes, uint64_t ns) {
  ops_.fetch_add(ops, std::memory_order_relaxed);
  bytes_.fetch_add(bytes, std::memory_order_relaxed);
  total_ns_.fetch_add(ns * ops, std::memory_order_relaxed);
  buckets_[LatencyBucket(ns)].fetch_add(ops, std::memory_order_relaxed);
}

IoStats IoCounter::Snapshot() const {
  IoStats out;
  out.ops = ops_.load(std::memory_order_relaxed);
  out.bytes = bytes_.load(std::memory_order_relaxed);
  out.total_ns = total_ns_.load(std::memory_order_relaxed);
  for (uint32_t i = 0; i < kLatencyBuckets; i++) out.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

uint64_t MonotonicNs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace tessera
