// Automatic tiering (Storage::TierStep, storage_tiering.cc and
// volume_retier.cc), over FaultVdevs whose slow tier has added latency, with
// the rows' heat on a clock the test moves:
//  T1: a hot set of a slow volume moves up, the cold rows of a fast volume
//      move down, each volume reads as before, also after a reopen, and the
//      pool checks clean;
//  T2: moving up stops at the faster tier's limit;
//  T3: rows a snapshot names stay, and move once it is deleted;
//  T4: without `tiering = on` nothing counts heat and nothing moves;
//  T5: a crash at any device write of a row's move leaves the volume whole
//      and the pool clean;
//  T6: heat outlives the clients that made it (a volume closes between
//      them) and is forgotten with the volume.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

using Bytes = std::vector<std::byte>;
constexpr uint64_t kSize = 64ull << 20;  // rows of 4 MiB
constexpr uint64_t kRow = 4ull << 20;
constexpr uint64_t kSecond = 1'000'000'000;

// Two fast vdevs and two slow ones; tiering on, the heat halving every 10 s.
PoolConfig TieredPool(const PoolDir& pd, uint32_t limit_percent = 0, bool tiering = true) {
  PoolConfig config;
  config.tiering = tiering;
  config.tiering_half_life_s = 10;
  config.tiering_limit_percent = limit_percent;
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("f{}", i), .path = fmt::format("{}/f{}.img", pd.dir(), i),
                                      .size_bytes = 128ull << 20, .tier = Tier::kFast, .index = i});
  }
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("s{}", i), .path = fmt::format("{}/s{}.img", pd.dir(), i),
                                      .size_bytes = 256ull << 20, .tier = Tier::kSlow, .index = i});
  }
  return config;
}

// The pool's options with a small page cache (reads of a few MiB reach the
// rows) and the test's clock for the heat.
class Clocked {
 public:
  explicit Clocked(PoolDir& pd) : pd_(pd) {}
  StorageOptions Options() {
    StorageOptions options = pd_.Options();
    options.data_cache_bytes = 2ull << 20;
    options.dirty_bytes_max = 1ull << 20;
    options.tiering.clock = [this] { return now_.load(); };
    return options;
  }
  void Advance(uint64_t seconds) { now_ += seconds * kSecond; }
  Result<std::unique_ptr<Storage>> Create(PoolConfig config) {
    std::filesystem::create_directories(pd_.dir());
    auto storage = TRY(Storage::Create(pd_.dir(), config, Options()));
    pd_.fault("s0")->SetLatency(std::chrono::microseconds(200));
    pd_.fault("s1")->SetLatency(std::chrono::microseconds(200));
    return storage;
  }
  Result<std::unique_ptr<Storage>> Open() { return Storage::Open(pd_.dir(), Options()); }

 private:
  PoolDir& pd_;
  std::atomic<uint64_t> now_{kSecond};
};

// Creates `name` on `tier` and writes its first `bytes` with pattern `seed`;
// the model of the whole volume.
Bytes Fill(Storage& storage, const std::string& name, Tier tier, uint64_t bytes, uint64_t seed) {
  Bytes model(kSize);
  EXPECT_TRUE(storage.CreateVolume({.name = name, .size = kSize, .tier = tier}));
  auto volume = storage.OpenVolume(name);
  EXPECT_TRUE(volume);
  if (!volume) return model;
  Bytes data = Pattern(bytes, seed);
  EXPECT_TRUE((*volume)->Write(0, data, false));
  EXPECT_TRUE((*volume)->Flush());
  std::memcpy(model.data(), data.data(), bytes);
  return model;
}

// Reads [0, bytes) of `name` `times` times.
void ReadTimes(Storage& storage, const std::string& name, uint64_t bytes, int times) {
  auto volume = storage.OpenVolume(name);
  ASSERT_TRUE(volume);
  Bytes out(bytes);
  for (int i = 0; i < times; i++) ASSERT_TRUE((*volume)->Read(0, out));
}

uint64_t BytesOn(Storage& storage, const std::string& name, const std::string& tier) {
  auto info = storage.GetVolumeInfo(name);
  EXPECT_TRUE(info);
  if (!info) return 0;
  auto it = info->tier_bytes.find(tier);
  return it == info->tier_bytes.end() ? 0 : it->second;
}

void ExpectReads(Storage& storage, const std::string& name, const Bytes& model) {
  auto volume = storage.OpenVolume(name);
  ASSERT_TRUE(volume);
  Bytes out(kSize);
  ASSERT_TRUE((*volume)->Read(0, out));
  EXPECT_TRUE(out == model) << name << " changed";
}

// Steps until a step moves nothing; the moves.
std::vector<TieringMove> StepAll(Storage& storage) {
  std::vector<TieringMove> moves;
  for (int i = 0; i < 200; i++) {
    auto step = storage.TierStep();
    EXPECT_TRUE(step) << step.error().ToString();
    if (!step || !step->moved) break;
    moves.push_back(*step);
  }
  return moves;
}

TEST(Tiering, AHotSetMovesUpAndColdRowsMoveDown) {  // T1
  PoolDir pd;
  Clocked clock(pd);
  auto storage = clock.Create(TieredPool(pd));
  ASSERT_TRUE(storage) << storage.error().ToString();
  Storage& s = **storage;
  Bytes hot_model = Fill(s, "hot", Tier::kSlow, 32ull << 20, 1);
  Bytes cold_model = Fill(s, "cold", Tier::kFast, 32ull << 20, 2);
  ASSERT_TRUE(s.Commit());  // the written rows lie before the recorded head
  clock.Advance(30);  // the writes' heat is down to an eighth; nothing idle for four half-lives yet
  ReadTimes(s, "hot", 2 * kRow, 4);
  std::vector<TieringMove> moves = StepAll(s);
  ASSERT_EQ(moves.size(), 2u) << "only the hot rows move: nothing has been idle for four half-lives";
  for (const TieringMove& m : moves) {
    EXPECT_EQ(m.volume, "hot");
    EXPECT_EQ(m.from, "slow");
    EXPECT_EQ(m.to, "fast");
    EXPECT_LT(m.row_offset, 2 * kRow);
    EXPECT_GE(m.heat, 2.0);
  }
  EXPECT_EQ(BytesOn(s, "hot", "fast"), 2 * kRow);

  clock.Advance(60);  // 90 s since the writes: the cold volume's rows are cold now
  ReadTimes(s, "hot", 2 * kRow, 1);  // and the hot set is still read
  moves = StepAll(s);
  ASSERT_GE(moves.size(), 7u) << "the cold volume's settled rows move down";
  for (const TieringMove& m : moves) {
    EXPECT_EQ(m.volume, "cold");
    EXPECT_EQ(m.from, "fast");
    EXPECT_EQ(m.to, "slow");
  }
  EXPECT_GE(BytesOn(s, "cold", "slow"), 7 * kRow);
  EXPECT_EQ(BytesOn(s, "hot", "fast"), 2 * kRow) << "the hot rows are still warm and stay up";
  auto status = s.GetPoolStatus();
  ASSERT_TRUE(status);
  EXPECT_TRUE(status->tiering.enabled);
  EXPECT_EQ(status->tiering.promoted_rows, 2u);
  EXPECT_EQ(status->tiering.demoted_rows, moves.size());
  ExpectReads(s, "hot", hot_model);
  ExpectReads(s, "cold", cold_model);
  ExpectClean(s);
  storage->reset();

  auto reopened = clock.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ(BytesOn(**reopened, "hot", "fast"), 2 * kRow);
  ExpectReads(**reopened, "hot", hot_model);
  ExpectReads(**reopened, "cold", cold_model);
  ExpectClean(**reopened);
}

TEST(Tiering, MovingUpStopsAtTheFasterTiersLimit) {  // T2
  PoolDir pd;
  Clocked clock(pd);
  auto storage = clock.Create(TieredPool(pd, /*limit_percent=*/10));
  ASSERT_TRUE(storage) << storage.error().ToString();
  Storage& s = **storage;
  Bytes model = Fill(s, "v", Tier::kSlow, 48ull << 20, 3);
  ASSERT_TRUE(s.Commit());
  ReadTimes(s, "v", 40ull << 20, 3);
  std::vector<TieringMove> moves = StepAll(s);
  EXPECT_GT(moves.size(), 0u);
  EXPECT_LT(moves.size(), 10u) << "ten hot rows of 4 MiB would fill the fast tier past 10%";
  auto status = s.GetPoolStatus();
  ASSERT_TRUE(status);
  uint64_t size = 0, used = 0;
  for (const VdevStatus& v : status->vdevs) {
    if (v.tier != "fast") continue;
    size += v.size_bytes;
    used += v.used_bytes;
  }
  EXPECT_LE(used * 100, size * 11) << "at most the limit, and the tree nodes written since";
  ExpectReads(s, "v", model);
  ExpectClean(s);
}

TEST(Tiering, RowsASnapshotNamesStayUntilItIsDeleted) {  // T3
  PoolDir pd;
  Clocked clock(pd);
  auto storage = clock.Create(TieredPool(pd));
  ASSERT_TRUE(storage) << storage.error().ToString();
  Storage& s = **storage;
  Bytes model = Fill(s, "v", Tier::kSlow, 16ull << 20, 4);
  ASSERT_TRUE(s.CreateSnapshot("v", "s"));
  ASSERT_TRUE(s.Commit());
  ReadTimes(s, "v", 2 * kRow, 4);
  EXPECT_TRUE(StepAll(s).empty()) << "the snapshot names every settled row";
  ExpectReads(s, "v@s", model);
  ASSERT_TRUE(s.DeleteSnapshot("v", "s"));
  ReadTimes(s, "v", 2 * kRow, 2);
  EXPECT_EQ(StepAll(s).size(), 2u);
  EXPECT_EQ(BytesOn(s, "v", "fast"), 2 * kRow);
  ExpectReads(s, "v", model);
  ExpectClean(s);
}

TEST(Tiering, HeatOutlivesTheClientsThatMadeIt) {  // T6
  PoolDir pd;
  Clocked clock(pd);
  auto storage = clock.Create(TieredPool(pd));
  ASSERT_TRUE(storage) << storage.error().ToString();
  Storage& s = **storage;
  Bytes model = Fill(s, "v", Tier::kSlow, 16ull << 20, 7);
  ASSERT_TRUE(s.Commit());
  for (int client = 0; client < 4; client++) {  // each reads once and goes, and the volume closes
    ReadTimes(s, "v", kRow, 1);
    ASSERT_TRUE(s.CloseIdleVolumes());
  }
  EXPECT_TRUE(StepAll(s).empty()) << "no client has the volume open";
  auto holder = s.OpenVolume("v");
  ASSERT_TRUE(holder);
  std::vector<TieringMove> moves = StepAll(s);
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].row_offset, 0u);
  EXPECT_GE(moves[0].heat, 3.9);
  holder->reset();
  ExpectReads(s, "v", model);
  ASSERT_TRUE(s.CloseIdleVolumes());
  ASSERT_TRUE(s.DeleteVolume("v"));
  model = Fill(s, "v", Tier::kSlow, 16ull << 20, 8);
  ASSERT_TRUE(s.Commit());
  holder = s.OpenVolume("v");
  ASSERT_TRUE(holder);
  EXPECT_TRUE(StepAll(s).empty()) << "a volume made anew under the name starts with no heat";
}

TEST(Tiering, WithoutTieringNothingMoves) {  // T4
  PoolDir pd;
  Clocked clock(pd);
  auto storage = clock.Create(TieredPool(pd, 0, /*tiering=*/false));
  ASSERT_TRUE(storage) << storage.error().ToString();
  Storage& s = **storage;
  Fill(s, "v", Tier::kSlow, 16ull << 20, 5);
  ASSERT_TRUE(s.Commit());
  ReadTimes(s, "v", 2 * kRow, 4);
  clock.Advance(3600);
  EXPECT_TRUE(StepAll(s).empty());
  EXPECT_EQ(BytesOn(s, "v", "fast"), 0u);
  auto status = s.GetPoolStatus();
  ASSERT_TRUE(status);
  EXPECT_FALSE(status->tiering.enabled);
}

TEST(Tiering, ACrashAtAnyWriteOfAMoveLeavesTheVolumeWhole) {  // T5
  // A volume with one hot row on the slow tier, and the writes to f0 of
  // moving it up.
  auto prepare = [](PoolDir& pd, Clocked& clock, Bytes& model) -> std::unique_ptr<Storage> {
    auto storage = clock.Create(TieredPool(pd));
    EXPECT_TRUE(storage) << storage.error().ToString();
    if (!storage) return nullptr;
    model = Fill(**storage, "v", Tier::kSlow, 12ull << 20, 6);
    EXPECT_TRUE((*storage)->Commit());
    ReadTimes(**storage, "v", kRow, 4);
    return std::move(*storage);
  };
  // The most writes either fast vdev takes in the move (the row's copy,
  // flushes, the commit's nodes).
  uint64_t total = 0;
  {
    PoolDir pd;
    Clocked clock(pd);
    Bytes model;
    auto storage = prepare(pd, clock, model);
    ASSERT_TRUE(storage);
    const uint64_t f0 = pd.fault("f0")->Counters().writes, f1 = pd.fault("f1")->Counters().writes;
    auto step = storage->TierStep();
    ASSERT_TRUE(step && step->moved);
    total = std::max(pd.fault("f0")->Counters().writes - f0, pd.fault("f1")->Counters().writes - f1);
  }
  ASSERT_GT(total, 4u);
  const uint64_t stride = std::max<uint64_t>(1, total / 10);
  for (uint64_t n = 1; n < total; n += stride) {
    SCOPED_TRACE(fmt::format("crash after {} writes of each fast vdev (of up to {})", n, total));
    PoolDir pd;
    Clocked clock(pd);
    Bytes model;
    {
      auto storage = prepare(pd, clock, model);
      ASSERT_TRUE(storage);
      for (const char* vdev : {"f0", "f1"}) {
        pd.fault(vdev)->CrashAfterWrites(n, n % 2 ? std::optional<uint64_t>(n) : std::nullopt);
      }
      (void)storage->TierStep();
      pd.PowerLossAll();
    }
    auto storage = clock.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    ExpectReads(**storage, "v", model);
    ExpectClean(**storage);
  }
}

}  // namespace
}  // namespace tessera::testing
