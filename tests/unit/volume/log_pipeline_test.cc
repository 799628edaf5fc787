// The log's append pipeline (design note 1 of log_segment.cc): batches of
// several writers are written at the same time and applied in sequence
// order. Device latency keeps several batches in flight at once.
//  - Concurrent writers end up with exactly their data, also after a power
//    loss that leaves only the flushed log to replay.
//  - A batch whose write fails fails every later batch in flight, the log
//    goes on afterwards, and every acknowledged write survives a power loss
//    (replay would stop at a gap left by the failed batch).
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "core/util/checksum.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kRegionBytes = 4 << 20;  // one writer's part of the volume
constexpr int kWriters = 4;
constexpr uint64_t kVolumeBytes = kRegionBytes * kWriters;

// Per 4 KiB block: checksums of the contents it may hold. A failed write
// leaves its blocks undefined between the old content and the new one.
struct BlockModel {
  std::vector<std::set<uint64_t>> allowed;
  BlockModel() : allowed(kVolumeBytes / 4096) {
    std::vector<std::byte> zero(4096);
    for (auto& s : allowed) s.insert(Checksum64(zero));
  }
  void Record(uint64_t offset, std::span<const std::byte> data, bool acknowledged) {
    for (uint64_t i = 0; i < data.size() / 4096; i++) {
      uint64_t sum = Checksum64(data.subspan(i * 4096, 4096));
      auto& s = allowed[offset / 4096 + i];
      if (acknowledged) s.clear();
      s.insert(sum);
    }
  }
};

// Each writer writes random runs (4 KiB to 1 MiB, so both through the cache
// and around it) inside its own region, with a flush now and then.
void Writer(Volume& volume, int index, uint64_t seed, int ops, BlockModel& model, std::mutex& model_mu,
            std::atomic<int>& failures) {
  std::mt19937_64 rng(seed);
  for (int op = 0; op < ops; op++) {
    uint64_t blocks = rng() % 3 == 0 ? 64 + rng() % 193 : 1 + rng() % 16;
    uint64_t first = rng() % (kRegionBytes / 4096 - blocks);
    uint64_t offset = index * kRegionBytes + first * 4096;
    auto data = Pattern(blocks * 4096, rng());
    bool ok = static_cast<bool>(volume.Write(offset, data, false));
    if (!ok) failures++;
    {
      std::lock_guard lock(model_mu);
      model.Record(offset, data, ok);
    }
    if (rng() % 8 == 0 && !volume.Flush()) failures++;
  }
}

// Runs kWriters writers at once (seeds seed, seed + 1, ...); returns how many
// of their writes and flushes failed.
int RunWriters(Volume& volume, uint64_t seed, int ops, BlockModel& model) {
  std::mutex model_mu;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < kWriters; i++) {
    writers.emplace_back(Writer, std::ref(volume), i, seed + i, ops, std::ref(model), std::ref(model_mu),
                         std::ref(failures));
  }
  for (auto& t : writers) t.join();
  return failures.load();
}

void ExpectModel(PoolDir& pd, const BlockModel& model) {
  ExpectBlocksThenCheck(pd, kVolumeBytes, [&](uint64_t block, uint64_t sum) { return model.allowed[block].count(sum) > 0; });
}

TEST(LogPipeline, ConcurrentWritersSurvivePowerLossAfterFlush) {
  PoolDir pd(2, 256ull << 20);
  BlockModel model;
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kVolumeBytes}));
    auto volume = std::move(*storage->OpenVolume("v"));
    for (auto& f : pd.faults()) f->SetLatency(std::chrono::microseconds(300));
    EXPECT_EQ(RunWriters(*volume, 100, 60, model), 0);
    ASSERT_TRUE(volume->Flush());
    pd.PowerLossAll(7);  // nothing unflushed; the log after the last commit replays
  }
  ExpectModel(pd, model);
}

TEST(LogPipeline, FailedBatchFailsLaterOnesAndTheLogGoesOn) {
  // Tree nodes (and their ditto copies) live on the two metadata vdevs, so
  // the injected failure hits the log's data, never a commit. The volume is
  // large enough for 32 MiB rows, so no new row (and no commit) comes
  // between the failure and the power loss: replay must cross the failed
  // batch's place.
  PoolDir pd;
  PoolConfig config;
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("meta{}", i), .path = fmt::format("{}/meta{}.img", pd.dir(), i),
                                      .size_bytes = 64ull << 20, .tier = Tier::kFastest, .index = i});
  }
  config.vdevs.push_back(VdevConfig{.name = "data", .path = pd.dir() + "/data.img", .size_bytes = 1ull << 30,
                                    .tier = Tier::kSlow});
  BlockModel model;
  {
    std::filesystem::create_directories(pd.dir());
    auto created = Storage::Create(pd.dir(), config, pd.Options());
    ASSERT_TRUE(created) << created.error().ToString();
    auto storage = std::move(*created);
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 512ull << 20, .tier = Tier::kSlow}));
    auto volume = std::move(*storage->OpenVolume("v"));
    FaultVdev& data = *pd.faults()[2];
    for (auto& f : pd.faults()) f->SetLatency(std::chrono::microseconds(2000));
    // Round 1: one write request of the data vdev fails mid-run.
    data.FailNth(12, /*persistent=*/false, FaultOpKind::kWrite);
    EXPECT_GT(RunWriters(*volume, 200, 20, model), 0);
    // Round 2: no more faults; the log takes writes again.
    data.ClearFailures();
    EXPECT_EQ(RunWriters(*volume, 300, 4, model), 0);
    ASSERT_TRUE(volume->Flush());
    pd.PowerLossAll(11);
  }
  ExpectModel(pd, model);
}

}  // namespace
}  // namespace tessera::testing
