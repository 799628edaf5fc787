// Evening out a tier's vdevs (Storage::RebalancePool, storage_rebalance.cc):
//  B1: after a vdev joins a tier whose vdevs hold data, rebalance moves rows
//      onto it while clients write, the volume reads as before (and after a
//      reopen), and the pool checks clean; with the pool quiet, every vdev
//      of the tier ends within the slack of the others and one more step
//      has nothing to do;
//  B2: rows snapshots pin stay: the rebalance ends blocked and changes
//      nothing, and goes on once the snapshot is deleted;
//  B3: a crash during a rebalance leaves the volume whole, and rebalancing
//      again finishes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

using Bytes = std::vector<std::byte>;
constexpr uint64_t kSize = 64ull << 20;

// Two fastest vdevs, v (simple) with 40 MiB written, then a third vdev.
std::unique_ptr<Storage> Unbalanced(PoolDir& pd, Bytes* model) {
  std::filesystem::create_directories(pd.dir());
  PoolConfig config;
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("d{}", i), .path = fmt::format("{}/d{}.img", pd.dir(), i),
                                      .size_bytes = 128ull << 20, .tier = Tier::kFastest, .index = i});
  }
  auto created = Storage::Create(pd.dir(), config, pd.Options());
  EXPECT_TRUE(created) << created.error().ToString();
  if (!created) return nullptr;
  auto storage = std::move(*created);
  EXPECT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  model->assign(kSize, std::byte{0});
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    for (uint64_t at = 0; at < (40ull << 20); at += 1 << 20) {
      Bytes data = Pattern(1 << 20, at);
      EXPECT_TRUE(volume->Write(at, data, false));
      std::memcpy(model->data() + at, data.data(), data.size());
    }
    EXPECT_TRUE(volume->Flush());
  }
  auto added = storage->AddVdev({.name = "d2", .path = pd.dir() + "/d2.img", .size = 128ull << 20});
  EXPECT_TRUE(added) << added.error().ToString();
  return storage;
}

Result<int> RebalanceAll(Storage& storage, RebalanceProgress* last = nullptr) {
  for (int steps = 1; steps <= 500; steps++) {
    RebalanceProgress step = TRY(storage.RebalancePool());
    if (last) *last = step;
    if (step.done) return steps;
  }
  return Err(Code::kIOError, "rebalance did not end in 500 steps");
}

// Used bytes of each vdev (vdev list).
std::map<std::string, uint64_t> Used(Storage& storage) {
  std::map<std::string, uint64_t> out;
  auto vdevs = storage.ListVdevs();
  EXPECT_TRUE(vdevs);
  if (vdevs) {
    for (const VdevStatus& v : *vdevs) out[v.name] = v.used_bytes;
  }
  return out;
}

uint64_t Spread(const std::map<std::string, uint64_t>& used) {
  auto [least, most] = std::ranges::minmax_element(used, {}, [](const auto& kv) { return kv.second; });
  return most->second - least->second;
}

Result<Bytes> ReadAll(Storage& storage, const std::string& name) {
  auto volume = TRY(storage.OpenVolume(name));
  Bytes out(volume->size());
  TRY_STATUS(volume->Read(0, out));
  return out;
}

TEST(Rebalance, ANewVdevTakesItsShareWhileClientsWrite) {  // B1
  PoolDir pd;
  Bytes model;
  {
    auto storage = Unbalanced(pd, &model);
    ASSERT_TRUE(storage);
    auto before = Used(*storage);
    EXPECT_LT(before["d2"], 4ull << 20);
    EXPECT_GT(Spread(before), 16ull << 20);
    storage->StartBackground(std::chrono::milliseconds(20));
    auto volume = std::move(*storage->OpenVolume("v"));  // a client's handle, held throughout
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> writes{0};
    std::thread writer([&] {
      std::mt19937_64 rng(3);
      while (!stop) {
        uint64_t at = rng() % ((40ull << 20) / 65536) * 65536;
        Bytes data = Pattern(65536, rng());
        if (!volume->Write(at, data, false)) return;
        std::memcpy(model.data() + at, data.data(), data.size());
        writes++;
      }
    });
    RebalanceProgress last;
    auto steps = RebalanceAll(*storage, &last);
    stop = true;
    writer.join();
    ASSERT_TRUE(steps) << steps.error().ToString();
    EXPECT_GT(*steps, 2);
    EXPECT_GT(writes.load(), 0u);
    EXPECT_FALSE(last.blocked);
    ASSERT_TRUE(volume->Flush());
    volume.reset();
    storage->StopBackground();
    // The writer's rows and the cleaner's frees since the last step may
    // have tipped the balance again; with the pool quiet, a rebalance ends
    // within the slack.
    ASSERT_TRUE(RebalanceAll(*storage, &last));
    auto after = Used(*storage);
    EXPECT_GT(after["d2"], 8ull << 20);
    EXPECT_LE(Spread(after), last.slack_bytes) << after["d0"] << " " << after["d1"] << " " << after["d2"];
    auto got = ReadAll(*storage, "v");
    ASSERT_TRUE(got);
    EXPECT_TRUE(*got == model);
    ExpectClean(*storage);
    auto again = storage->RebalancePool();
    ASSERT_TRUE(again) << again.error().ToString();
    EXPECT_TRUE(again->done);
    EXPECT_EQ(again->moved_bytes, 0u);
  }
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  auto got = ReadAll(**storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  ExpectClean(**storage);
}

TEST(Rebalance, RowsSnapshotsPinStay) {  // B2
  PoolDir pd;
  Bytes model;
  auto storage = Unbalanced(pd, &model);
  ASSERT_TRUE(storage);
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  auto before = Used(*storage);
  RebalanceProgress last;
  ASSERT_TRUE(RebalanceAll(*storage, &last));
  EXPECT_TRUE(last.blocked);
  EXPECT_EQ(Used(*storage), before);
  ASSERT_TRUE(storage->DeleteSnapshot("v", "s"));
  ASSERT_TRUE(RebalanceAll(*storage, &last));
  EXPECT_FALSE(last.blocked);
  EXPECT_GT(Used(*storage)["d2"], 8ull << 20);
  auto got = ReadAll(*storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  ExpectClean(*storage);
}

TEST(Rebalance, ACrashLeavesTheVolumeWholeAndTheRebalanceFinishes) {  // B3
  // Device writes of d2 (where the rows land) that a whole rebalance issues.
  uint64_t total = 0;
  {
    PoolDir pd;
    Bytes model;
    auto storage = Unbalanced(pd, &model);
    ASSERT_TRUE(storage);
    uint64_t before = pd.fault("d2")->Counters().writes;
    ASSERT_TRUE(RebalanceAll(*storage));
    total = pd.fault("d2")->Counters().writes - before;
  }
  ASSERT_GT(total, 6u);
  for (uint64_t n = 1; n < total; n += std::max<uint64_t>(1, total / 6)) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes of d2", n, total));
    PoolDir pd;
    Bytes model;
    {
      auto storage = Unbalanced(pd, &model);
      ASSERT_TRUE(storage);
      pd.fault("d2")->CrashAfterWrites(n, n % 2 ? std::optional<uint64_t>(n) : std::nullopt);
      (void)RebalanceAll(*storage);
      pd.PowerLossAll();
    }
    auto storage = pd.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto got = ReadAll(**storage, "v");
    ASSERT_TRUE(got) << got.error().ToString();
    ASSERT_TRUE(*got == model) << "the volume changed";
    ExpectClean(**storage);
    ASSERT_TRUE(RebalanceAll(**storage));
    got = ReadAll(**storage, "v");
    ASSERT_TRUE(got);
    ASSERT_TRUE(*got == model) << "the volume changed in the second rebalance";
    ExpectClean(**storage);
  }
}

}  // namespace
}  // namespace tessera::testing
