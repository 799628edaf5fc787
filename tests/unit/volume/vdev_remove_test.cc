// Removing a vdev (Storage::RemoveVdev, storage_vdev_remove.cc):
//  R1: after the remove no volume row and no tree node is on the vdev, every
//      volume (simple and rs) reads as before, the pool checks clean, and it
//      opens without the vdev's file, whose index stays taken;
//  R2: clients' writes during the remove are kept;
//  R3: a remove that cannot be done is refused and changes nothing (the
//      vdev still takes new rows);
//  R4: a crash at any device write of a remove leaves every volume whole,
//      and removing again finishes the remove.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "core/exnode/exnode.h"
#include "core/volume/volume_impl.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

using Bytes = std::vector<std::byte>;
constexpr uint64_t kSize = 32ull << 20;

// Four fastest vdevs d0..d3.
PoolConfig FourVdevs(const PoolDir& pd) {
  PoolConfig config;
  for (uint32_t i = 0; i < 4; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("d{}", i), .path = fmt::format("{}/d{}.img", pd.dir(), i),
                                      .size_bytes = 128ull << 20, .tier = Tier::kFastest, .index = i});
  }
  return config;
}

std::unique_ptr<Storage> CreateFour(PoolDir& pd) {
  std::filesystem::create_directories(pd.dir());
  auto created = Storage::Create(pd.dir(), FourVdevs(pd), pd.Options());
  EXPECT_TRUE(created) << created.error().ToString();
  return created ? std::move(*created) : nullptr;
}

// Volume `name` of `layout`: 24 MiB written in 1 MiB pieces, then a third
// of it again, so rows hold live and dead blocks.
Bytes Fill(Storage& storage, const std::string& name, const std::string& layout, uint64_t seed) {
  Bytes model(kSize);
  EXPECT_TRUE(storage.CreateVolume({.name = name, .size = kSize, .layout = layout}));
  auto volume = std::move(*storage.OpenVolume(name));
  for (int pass = 0; pass < 2; pass++) {
    for (uint64_t at = 0; at < (24ull << 20); at += (pass == 0 ? 1 : 3) << 20) {
      Bytes data = Pattern(1 << 20, seed++);
      EXPECT_TRUE(volume->Write(at, data, false));
      std::memcpy(model.data() + at, data.data(), data.size());
    }
  }
  EXPECT_TRUE(volume->Flush());
  return model;
}

Result<Bytes> ReadAll(Storage& storage, const std::string& name) {
  auto volume = TRY(storage.OpenVolume(name));
  Bytes out(volume->size());
  TRY_STATUS(volume->Read(0, out));
  return out;
}

Result<int> RemoveAll(Storage& storage, const std::string& vdev, VdevRemoveProgress* last = nullptr) {
  for (int steps = 1; steps <= 500; steps++) {
    VdevRemoveProgress step = TRY(storage.RemoveVdev(vdev));
    if (last) *last = step;
    if (step.done) return steps;
  }
  return Err(Code::kIOError, "vdev remove did not end in 500 steps");
}

std::string StateOf(Storage& storage, const std::string& vdev) {
  auto vdevs = storage.ListVdevs();
  if (!vdevs) return vdevs.error().ToString();
  for (const VdevStatus& v : *vdevs) {
    if (v.name == vdev) return v.state;
  }
  return "not listed";
}

// How many data blocks of `volume`'s exNode lie on vdev index `index` of
// the fastest tier.
uint64_t BlocksOn(Storage& storage, const std::string& volume, uint32_t index) {
  auto text = storage.ExnodeText(volume);
  EXPECT_TRUE(text) << text.error().ToString();
  if (!text) return 0;
  auto exnode = ParseExnode(*text);
  EXPECT_TRUE(exnode);
  auto blocks = DataBlocksOf(*exnode);
  EXPECT_TRUE(blocks);
  uint64_t n = 0;
  for (const auto& b : *blocks) n += b.address.tier() == Tier::kFastest && b.address.vdev() == index;
  return n;
}

TEST(Remove, DataAndMetadataLeaveAndTheVolumesReadTheSame) {  // R1
  PoolDir pd;
  Bytes a, b;
  {
    auto storage = CreateFour(pd);
    ASSERT_TRUE(storage);
    a = Fill(*storage, "a", "simple", 100);
    b = Fill(*storage, "b", "rs:2+1", 500);
    ASSERT_GT(BlocksOn(*storage, "a", 1) + BlocksOn(*storage, "b", 1), 0u);
    VdevRemoveProgress last;
    auto steps = RemoveAll(*storage, "d1", &last);
    ASSERT_TRUE(steps) << steps.error().ToString();
    EXPECT_GT(*steps, 3);
    EXPECT_EQ(last.phase, "removed");
    EXPECT_EQ(StateOf(*storage, "d1"), "removed");
    EXPECT_EQ(BlocksOn(*storage, "a", 1), 0u);
    EXPECT_EQ(BlocksOn(*storage, "b", 1), 0u);
    for (auto [name, model] : {std::pair{"a", &a}, std::pair{"b", &b}}) {
      auto got = ReadAll(*storage, name);
      ASSERT_TRUE(got) << got.error().ToString();
      EXPECT_TRUE(*got == *model) << name;
    }
    ExpectClean(*storage);
    // Removing again is done at once; other vdev calls refuse it.
    auto again = storage->RemoveVdev("d1");
    ASSERT_TRUE(again) << again.error().ToString();
    EXPECT_TRUE(again->done);
    auto offline = storage->OfflineVdev("d1");
    ASSERT_FALSE(offline);
    EXPECT_EQ(offline.error().code(), Code::kInvalidArgument);
  }
  // Nothing of the pool is on d1 any more: it opens without the file.
  std::filesystem::remove(pd.dir() + "/d1.img");
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  EXPECT_EQ(StateOf(**storage, "d1"), "removed");
  auto status = (*storage)->GetPoolStatus();
  ASSERT_TRUE(status) << status.error().ToString();
  EXPECT_EQ(status->health, "online");
  for (auto [name, model] : {std::pair{"a", &a}, std::pair{"b", &b}}) {
    auto got = ReadAll(**storage, name);
    ASSERT_TRUE(got) << got.error().ToString();
    EXPECT_TRUE(*got == *model) << name;
  }
  ExpectClean(**storage);
  // d2 and d3 keep their indexes; a new vdev gets the next one and may
  // take the removed vdev's path.
  auto added = (*storage)->AddVdev({.name = "d4", .path = pd.dir() + "/d1.img", .size = 64ull << 20});
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_EQ(added->index, 4u);
}

TEST(Remove, WritesDuringTheRemoveAreKept) {  // R2
  PoolDir pd;
  auto storage = CreateFour(pd);
  ASSERT_TRUE(storage);
  Bytes model = Fill(*storage, "v", "simple", 100);
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
  auto steps = RemoveAll(*storage, "d2");
  stop = true;
  writer.join();
  ASSERT_TRUE(steps) << steps.error().ToString();
  EXPECT_GT(writes.load(), 0u);
  ASSERT_TRUE(volume->Flush());
  Bytes got(kSize);
  ASSERT_TRUE(volume->Read(0, got));
  EXPECT_TRUE(got == model);
  volume.reset();
  EXPECT_EQ(BlocksOn(*storage, "v", 2), 0u);
  ExpectClean(*storage);
}

TEST(Remove, RefusalsChangeNothing) {  // R3
  PoolDir pd;
  auto storage = CreateFour(pd);
  ASSERT_TRUE(storage);
  Bytes model = Fill(*storage, "v", "simple", 100);
  auto expect_refused = [&](const std::string& vdev, Code code, const std::string& words) {
    auto step = storage->RemoveVdev(vdev);
    ASSERT_FALSE(step) << vdev;
    EXPECT_EQ(step.error().code(), code) << step.error().ToString();
    EXPECT_NE(step.error().message().find(words), std::string::npos) << step.error().ToString();
  };
  expect_refused("nope", Code::kNotFound, "no vdev 'nope'");
  // A snapshot naming rows there.
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  uint32_t with_rows = 0;
  while (with_rows < 4 && BlocksOn(*storage, "v", with_rows) == 0) with_rows++;
  ASSERT_LT(with_rows, 4u);
  const std::string busy = fmt::format("d{}", with_rows);
  expect_refused(busy, Code::kInvalidArgument, "snapshot 'v@s'");
  EXPECT_EQ(StateOf(*storage, busy), "online");
  ASSERT_TRUE(storage->DeleteSnapshot("v", "s"));
  // An offline vdev.
  ASSERT_TRUE(storage->OfflineVdev("d3"));
  expect_refused("d3", Code::kInvalidArgument, "is offline");
  ASSERT_TRUE(storage->OnlineVdev("d3"));
  // Rows of four vdevs with three left.
  ASSERT_TRUE(storage->CreateVolume({.name = "w", .size = kSize, .layout = "rs:2+2"}));
  expect_refused("d0", Code::kInvalidArgument, "spans 4 vdevs");
  EXPECT_EQ(StateOf(*storage, "d0"), "online");
  // Nothing drains after a refusal: new rows still land on every vdev.
  {
    auto w = std::move(*storage->OpenVolume("w"));
    Bytes data = Pattern(8 << 20, 9);
    ASSERT_TRUE(w->Write(0, data, false));
    ASSERT_TRUE(w->Flush());
  }
  EXPECT_GT(BlocksOn(*storage, "w", 0), 0u);
  auto got = ReadAll(*storage, "v");
  ASSERT_TRUE(got);
  EXPECT_TRUE(*got == model);
  ExpectClean(*storage);
}

TEST(Remove, ACrashAtAnyWriteLeavesTheVolumesWholeAndTheRemoveFinishes) {  // R4
  // Device writes of d0 (a vdev that stays) that a whole remove issues.
  uint64_t total = 0;
  {
    PoolDir pd;
    auto storage = CreateFour(pd);
    ASSERT_TRUE(storage);
    Fill(*storage, "a", "simple", 100);
    Fill(*storage, "b", "rs:2+1", 500);
    ASSERT_TRUE(storage->Commit());
    uint64_t before = pd.faults()[0]->Counters().writes;
    ASSERT_TRUE(RemoveAll(*storage, "d1"));
    total = pd.faults()[0]->Counters().writes - before;
  }
  ASSERT_GT(total, 10u);
  const uint64_t step = std::max<uint64_t>(1, total / 10);
  int cut = 0;  // removes the crash stopped
  for (uint64_t n = 1; n < total; n += step) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes of d0", n, total));
    PoolDir pd;
    Bytes a, b;
    {
      auto storage = CreateFour(pd);
      ASSERT_TRUE(storage);
      a = Fill(*storage, "a", "simple", 100);
      b = Fill(*storage, "b", "rs:2+1", 500);
      ASSERT_TRUE(storage->Commit());
      pd.faults()[0]->CrashAfterWrites(n, n % 2 ? std::optional<uint64_t>(n) : std::nullopt);
      if (!RemoveAll(*storage, "d1")) cut++;
      pd.PowerLossAll();
    }
    auto storage = pd.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto check = [&](const char* when) {
      for (auto [name, model] : {std::pair{"a", &a}, std::pair{"b", &b}}) {
        auto got = ReadAll(**storage, name);
        ASSERT_TRUE(got) << got.error().ToString();
        ASSERT_TRUE(*got == *model) << name << " changed " << when;
      }
      ExpectClean(**storage);
    };
    check("by the crash");
    auto removed = RemoveAll(**storage, "d1");
    ASSERT_TRUE(removed) << removed.error().ToString();
    EXPECT_EQ(StateOf(**storage, "d1"), "removed");
    check("in the second remove");
  }
  EXPECT_GT(cut, 0);
}

}  // namespace
}  // namespace tessera::testing
