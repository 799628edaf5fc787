// Volume crash tests through FaultVdevs under a real Storage, of two
// guarantees (docs/architecture.md, Guarantees):
//  Durability: every write completed before a successful Flush (and every
//      FUA write) survives power loss.
//  Crash consistency: after a crash at any device write, each block reads one
//      of the values it could have (its durable value or a later write), and
//      the pool checks clean.
#include <gtest/gtest.h>

#include <set>

#include "core/util/checksum.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kVolumeBytes = 4 << 20;
constexpr uint64_t kBlocks = kVolumeBytes / 4096;

// Per block, the checksums of the contents it may hold after a crash.
struct Allowed {
  std::vector<std::set<uint64_t>> sets;
  Allowed() : sets(kBlocks) {
    std::vector<std::byte> zero(4096);
    for (auto& s : sets) s.insert(Checksum64(zero));
  }
  void Wrote(uint64_t block, uint64_t sum) { sets[block].insert(sum); }
  void Durable(uint64_t block, uint64_t sum) { sets[block] = {sum}; }
};

struct Workload {
  std::vector<uint64_t> current;  // checksum of the latest content per block
  Allowed allowed;
  Workload() {
    std::vector<std::byte> zero(4096);
    current.assign(kBlocks, Checksum64(zero));
  }
};

// Runs random writes/trims/flushes until an operation fails (the device died)
// or `ops` are done. Returns true if it crashed.
bool RunWorkload(Volume& v, Workload& w, uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> zero(4096);
  uint64_t zero_sum = Checksum64(zero);
  for (int op = 0; op < ops; op++) {
    uint64_t block = rng() % kBlocks;
    uint64_t n = 1 + rng() % std::min<uint64_t>(64, kBlocks - block);
    uint32_t kind = rng() % 10;
    if (kind < 6) {
      auto data = Pattern(n * 4096, rng());
      bool fua = rng() % 6 == 0;
      for (uint64_t i = 0; i < n; i++) w.allowed.Wrote(block + i, Checksum64(std::span(data).subspan(i * 4096, 4096)));
      if (!v.Write(block * 4096, data, fua)) return true;
      for (uint64_t i = 0; i < n; i++) {
        w.current[block + i] = Checksum64(std::span(data).subspan(i * 4096, 4096));
        if (fua) w.allowed.Durable(block + i, w.current[block + i]);
      }
    } else if (kind < 8) {
      for (uint64_t i = 0; i < n; i++) w.allowed.Wrote(block + i, zero_sum);
      if (!v.Trim(block * 4096, n * 4096, false)) return true;
      for (uint64_t i = 0; i < n; i++) w.current[block + i] = zero_sum;
    } else {
      if (!v.Flush()) return true;
      for (uint64_t b = 0; b < kBlocks; b++) w.allowed.Durable(b, w.current[b]);
    }
  }
  return false;
}

void Verify(PoolDir& pd, const Workload& w) {
  ExpectBlocksThenCheck(pd, kVolumeBytes, [&](uint64_t block, uint64_t sum) { return w.allowed.sets[block].count(sum) > 0; });
}

TEST(VolumeCrash, FlushedWritesSurvivePowerLoss) {
  for (uint64_t seed = 1; seed <= 6; seed++) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    PoolDir pd(2, 64ull << 20);
    Workload w;
    {
      auto storage = std::move(*pd.Create());
      ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kVolumeBytes}));
      auto volume = std::move(*storage->OpenVolume("v"));
      ASSERT_FALSE(RunWorkload(*volume, w, seed, 300));
      // Power fails with a random subset of the unflushed writes landing.
      pd.PowerLossAll(seed);
    }
    Verify(pd, w);
    if (HasFailure()) return;
  }
}

TEST(VolumeCrash, CrashAtEveryNthDeviceWrite) {
  uint64_t total = 0;
  {
    PoolDir pd(1, 64ull << 20);
    Workload w;
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kVolumeBytes}));
    auto volume = std::move(*storage->OpenVolume("v"));
    uint64_t before = pd.faults()[0]->Counters().writes;
    ASSERT_FALSE(RunWorkload(*volume, w, 42, 120));
    total = pd.faults()[0]->Counters().writes - before;
  }
  ASSERT_GT(total, 30u);
  uint64_t step = std::max<uint64_t>(1, total / 60);
  for (uint64_t n = 0; n < total; n += step) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes", n, total));
    PoolDir pd(1, 64ull << 20);
    Workload w;
    {
      auto storage = std::move(*pd.Create());
      ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kVolumeBytes}));
      auto volume = std::move(*storage->OpenVolume("v"));
      pd.faults()[0]->CrashAfterWrites(n, n % 2 ? std::optional<uint64_t>(n) : std::nullopt);
      RunWorkload(*volume, w, 42, 120);
      pd.PowerLossAll();
    }
    Verify(pd, w);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace tessera::testing
