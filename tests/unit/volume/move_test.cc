// Moving a volume to another tier (Storage::MoveVolume, volume_move.cc):
//  M1: after the move every data row of the volume is on the new tier, the
//      volume reads as before, new rows come from the tier, and the pool
//      checks clean, also after a reopen;
//  M2: clients' writes during the move are kept;
//  M3: rows a snapshot needs stay where they are (held), the snapshot reads
//      as it was, and they go once the snapshot is deleted;
//  M4: a move that cannot be done is refused and changes nothing;
//  M5: a crash at any device write of a move leaves the volume whole, and
//      moving again finishes the move.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

using Bytes = std::vector<std::byte>;
constexpr uint64_t kSize = 64ull << 20;  // rows of 4 MiB

// Two fast vdevs and two slow ones.
PoolConfig TwoTiers(const PoolDir& pd, uint64_t fast_bytes = 128ull << 20) {
  PoolConfig config;
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("f{}", i), .path = fmt::format("{}/f{}.img", pd.dir(), i),
                                      .size_bytes = fast_bytes, .tier = Tier::kFast, .index = i});
  }
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("s{}", i), .path = fmt::format("{}/s{}.img", pd.dir(), i),
                                      .size_bytes = 256ull << 20, .tier = Tier::kSlow, .index = i});
  }
  return config;
}

std::unique_ptr<Storage> CreateTwoTiers(PoolDir& pd, uint64_t fast_bytes = 128ull << 20) {
  std::filesystem::create_directories(pd.dir());
  auto created = Storage::Create(pd.dir(), TwoTiers(pd, fast_bytes), pd.Options());
  EXPECT_TRUE(created) << created.error().ToString();
  return created ? std::move(*created) : nullptr;
}

// Writes `bytes` of pattern `seed` at each of `offsets` into `model` and the
// volume, then flushes.
void WriteAt(Volume& volume, Bytes& model, const std::vector<uint64_t>& offsets, uint64_t bytes, uint64_t seed) {
  for (uint64_t offset : offsets) {
    Bytes data = Pattern(bytes, seed++);
    ASSERT_TRUE(volume.Write(offset, data, false));
    std::memcpy(model.data() + offset, data.data(), bytes);
  }
  ASSERT_TRUE(volume.Flush());
}

// v (slow, 64 MiB): 40 MiB written, then a third of it written again, so
// rows hold live and dead blocks.
Bytes FillSlowVolume(Storage& storage) {
  Bytes model(kSize);
  EXPECT_TRUE(storage.CreateVolume({.name = "v", .size = kSize, .tier = Tier::kSlow}));
  auto volume = std::move(*storage.OpenVolume("v"));
  std::vector<uint64_t> all, some;
  for (uint64_t at = 0; at < (40ull << 20); at += 1 << 20) all.push_back(at);
  for (uint64_t at = 0; at < (40ull << 20); at += 3 << 20) some.push_back(at);
  WriteAt(*volume, model, all, 1 << 20, 100);
  WriteAt(*volume, model, some, 1 << 20, 500);
  return model;
}

Result<Bytes> ReadAll(Storage& storage, const std::string& name) {
  auto volume = TRY(storage.OpenVolume(name));
  Bytes out(volume->size());
  TRY_STATUS(volume->Read(0, out));
  return out;
}

// Moves `name` to `tier` step by step; the steps it took.
Result<int> MoveAll(Storage& storage, const std::string& name, Tier tier, MoveProgress* last = nullptr) {
  for (int steps = 1; steps <= 500; steps++) {
    MoveProgress step = TRY(storage.MoveVolume(name, tier));
    if (last) *last = step;
    if (step.done) return steps;
  }
  return Err(Code::kIOError, "volume move did not end in 500 steps");
}

void ExpectOnlyOn(Storage& storage, const std::string& name, const std::string& tier) {
  auto info = storage.GetVolumeInfo(name);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->tier, tier);
  ASSERT_EQ(info->tier_bytes.size(), 1u) << "rows on " << info->tier_bytes.size() << " tiers";
  EXPECT_EQ(info->tier_bytes.begin()->first, tier);
}

TEST(Move, LiveDataEndsOnTheNewTierAndReadsTheSame) {  // M1
  PoolDir pd;
  Bytes model;
  {
    auto storage = CreateTwoTiers(pd);
    ASSERT_TRUE(storage);
    model = FillSlowVolume(*storage);
    ExpectOnlyOn(*storage, "v", "slow");
    MoveProgress last;
    auto steps = MoveAll(*storage, "v", Tier::kFast, &last);
    ASSERT_TRUE(steps) << steps.error().ToString();
    EXPECT_GT(*steps, 5);
    EXPECT_EQ(last.held_bytes, 0u);
    EXPECT_EQ(last.tier, "fast");
    ExpectOnlyOn(*storage, "v", "fast");
    auto got = ReadAll(*storage, "v");
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_TRUE(*got == model);
    // Moving again has nothing to do.
    auto again = storage->MoveVolume("v", Tier::kFast);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->done);
    EXPECT_EQ(again->moved_bytes, 0u);
    // New rows come from the tier.
    auto volume = std::move(*storage->OpenVolume("v"));
    std::vector<uint64_t> rest;
    for (uint64_t at = 40ull << 20; at < kSize; at += 1 << 20) rest.push_back(at);
    WriteAt(*volume, model, rest, 1 << 20, 900);
    volume.reset();
    ExpectOnlyOn(*storage, "v", "fast");
    ExpectClean(*storage);
    ASSERT_TRUE(storage->Close());
  }
  auto storage = std::move(*pd.Open());
  ExpectOnlyOn(*storage, "v", "fast");
  auto got = ReadAll(*storage, "v");
  ASSERT_TRUE(got) << got.error().ToString();
  EXPECT_TRUE(*got == model);
  ExpectClean(*storage);
  // And back.
  ASSERT_TRUE(MoveAll(*storage, "v", Tier::kSlow));
  ExpectOnlyOn(*storage, "v", "slow");
  got = ReadAll(*storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  ExpectClean(*storage);
}

TEST(Move, WritesDuringTheMoveAreKept) {  // M2
  PoolDir pd;
  auto storage = CreateTwoTiers(pd);
  ASSERT_TRUE(storage);
  Bytes model = FillSlowVolume(*storage);
  storage->StartBackground(std::chrono::milliseconds(20));
  auto volume = std::move(*storage->OpenVolume("v"));  // a client's handle, held throughout
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> writes{0};
  std::thread writer([&] {
    std::mt19937_64 rng(7);
    while (!stop) {
      uint64_t at = rng() % (kSize / 65536) * 65536;
      Bytes data = Pattern(65536, rng());
      if (!volume->Write(at, data, false)) return;
      std::memcpy(model.data() + at, data.data(), data.size());
      writes++;
    }
  });
  auto steps = MoveAll(*storage, "v", Tier::kFast);
  stop = true;
  writer.join();
  ASSERT_TRUE(steps) << steps.error().ToString();
  EXPECT_GT(writes.load(), 0u);
  ASSERT_TRUE(volume->Flush());
  Bytes got(kSize);
  ASSERT_TRUE(volume->Read(0, got));
  EXPECT_TRUE(got == model);
  volume.reset();
  ExpectOnlyOn(*storage, "v", "fast");
  ExpectClean(*storage);
}

TEST(Move, SnapshotsKeepTheirRowsWhereTheyWere) {  // M3
  PoolDir pd;
  auto storage = CreateTwoTiers(pd);
  ASSERT_TRUE(storage);
  Bytes at_snapshot = FillSlowVolume(*storage);
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  Bytes model = at_snapshot;
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    WriteAt(*volume, model, {0, 8ull << 20}, 1 << 20, 700);
  }
  MoveProgress last;
  ASSERT_TRUE(MoveAll(*storage, "v", Tier::kFast, &last));
  EXPECT_GT(last.held_bytes, 0u);
  auto info = storage->GetVolumeInfo("v");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->tier, "fast");
  EXPECT_GT(info->tier_bytes["fast"], 0u);
  EXPECT_EQ(info->tier_bytes["slow"], last.held_bytes);
  auto got = ReadAll(*storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  auto snap = ReadAll(*storage, "v@s");
  ASSERT_TRUE(snap);
  EXPECT_TRUE(*snap == at_snapshot);
  ExpectClean(*storage);
  // Once the snapshot is gone, so are the rows it held.
  ASSERT_TRUE(storage->DeleteSnapshot("v", "s"));
  ASSERT_TRUE(MoveAll(*storage, "v", Tier::kFast, &last));
  EXPECT_EQ(last.held_bytes, 0u);
  ExpectOnlyOn(*storage, "v", "fast");
  got = ReadAll(*storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  ExpectClean(*storage);
}

TEST(Move, RefusedMovesChangeNothing) {  // M4
  PoolDir pd;
  auto storage = CreateTwoTiers(pd, /*fast_bytes=*/24ull << 20);
  ASSERT_TRUE(storage);
  Bytes model = FillSlowVolume(*storage);
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  auto code = [&](const std::string& name, Tier tier) -> std::optional<Code> {
    auto moved = storage->MoveVolume(name, tier);
    EXPECT_FALSE(moved) << name;
    if (moved) return std::nullopt;
    return moved.error().code();
  };
  EXPECT_EQ(code("v@s", Tier::kFast), Code::kInvalidArgument);
  EXPECT_EQ(code("nope", Tier::kFast), Code::kNotFound);
  EXPECT_EQ(code("v", Tier::kFastest), Code::kInvalidArgument);  // no vdev there
  EXPECT_EQ(code("v", Tier::kFast), Code::kNoSpace);             // 40 MiB of data, 2 x 24 MiB vdevs
  ExpectOnlyOn(*storage, "v", "slow");
  auto got = ReadAll(*storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  ExpectClean(*storage);
}

TEST(Move, ACrashAtAnyWriteLeavesTheVolumeWholeAndTheMoveFinishes) {  // M5
  // Device writes of the fast vdevs that a whole move issues.
  uint64_t total = 0;
  {
    PoolDir pd;
    auto storage = CreateTwoTiers(pd);
    ASSERT_TRUE(storage);
    FillSlowVolume(*storage);
    ASSERT_TRUE(storage->Commit());
    uint64_t before = pd.faults()[0]->Counters().writes;
    ASSERT_TRUE(MoveAll(*storage, "v", Tier::kFast));
    total = pd.faults()[0]->Counters().writes - before;
  }
  ASSERT_GT(total, 10u);
  const uint64_t step = std::max<uint64_t>(1, total / 12);
  int cut = 0;  // moves the crash stopped
  for (uint64_t n = 1; n < total; n += step) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes of f0", n, total));
    PoolDir pd;
    Bytes model;
    {
      auto storage = CreateTwoTiers(pd);
      ASSERT_TRUE(storage);
      model = FillSlowVolume(*storage);
      ASSERT_TRUE(storage->Commit());
      pd.faults()[0]->CrashAfterWrites(n, n % 2 ? std::optional<uint64_t>(n) : std::nullopt);
      if (!MoveAll(*storage, "v", Tier::kFast)) cut++;
      pd.PowerLossAll();
    }
    auto storage = pd.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto got = ReadAll(**storage, "v");
    ASSERT_TRUE(got) << got.error().ToString();
    ASSERT_TRUE(*got == model) << "the volume changed";
    ExpectClean(**storage);
    auto moved = MoveAll(**storage, "v", Tier::kFast);
    ASSERT_TRUE(moved) << moved.error().ToString();
    ExpectOnlyOn(**storage, "v", "fast");
    got = ReadAll(**storage, "v");
    ASSERT_TRUE(got);
    ASSERT_TRUE(*got == model) << "the volume changed in the second move";
    ExpectClean(**storage);
  }
  EXPECT_GT(cut, 0);
}

}  // namespace
}  // namespace tessera::testing
