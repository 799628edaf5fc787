// Clones, flatten and rollback at the Storage level, against flat byte-array
// models, with reopens and Check() after each step.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kSize = 8 << 20;
using Bytes = std::vector<std::byte>;

void ExpectReads(Storage& storage, const std::string& name, const Bytes& model) {
  auto volume = storage.OpenVolume(name);
  ASSERT_TRUE(volume) << volume.error().ToString();
  ASSERT_EQ((*volume)->size(), model.size()) << name;
  Bytes got(model.size());
  ASSERT_TRUE((*volume)->Read(0, got)) << name;
  for (size_t at = 0; at < got.size(); at += 4096) {
    ASSERT_EQ(0, std::memcmp(got.data() + at, model.data() + at, 4096)) << name << ": block " << at / 4096;
  }
}

// Random unaligned writes and trims (zeroes), some with FUA.
void RandomOps(Volume& volume, Bytes& model, uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  for (int op = 0; op < ops; op++) {
    uint64_t off = rng() % model.size();
    uint64_t len = 1 + rng() % std::min<uint64_t>(300000, model.size() - off);
    if (rng() % 4 == 0) {
      ASSERT_TRUE(volume.Trim(off, len, false));
      std::memset(model.data() + off, 0, len);
    } else {
      auto data = Pattern(len, rng());
      ASSERT_TRUE(volume.Write(off, data, rng() % 8 == 0));
      std::memcpy(model.data() + off, data.data(), len);
    }
  }
  ASSERT_TRUE(volume.Flush());
}

void Ops(Storage& storage, const std::string& name, Bytes& model, uint64_t seed, int ops) {
  auto volume = storage.OpenVolume(name);
  ASSERT_TRUE(volume) << volume.error().ToString();
  RandomOps(**volume, model, seed, ops);
}

TEST(Clone, IsolatedBothWaysAgainstModels) {
  PoolDir pd;
  Bytes origin(kSize), snap, clone, grandchild, clone_at_t;
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "a", .size = kSize}));
    Ops(*storage, "a", origin, 1, 150);
    ASSERT_TRUE(storage->CreateSnapshot("a", "s1"));
    snap = origin;
    auto info = storage->CloneSnapshot("a", "s1", "c");
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_EQ(info->origin, "a@s1");
    EXPECT_EQ(info->size, kSize);
    clone = snap;
    ExpectReads(*storage, "c", clone);
    // Interleaved: writes and trims on either side never show on the other.
    for (int round = 0; round < 3; round++) {
      Ops(*storage, "a", origin, 10 + round, 60);
      Ops(*storage, "c", clone, 20 + round, 60);
      ExpectReads(*storage, "a", origin);
      ExpectReads(*storage, "c", clone);
      ExpectReads(*storage, "a@s1", snap);
    }
    // Both open at once, writing the same ranges.
    {
      auto a = std::move(*storage->OpenVolume("a"));
      auto c = std::move(*storage->OpenVolume("c"));
      RandomOps(*a, origin, 30, 40);
      RandomOps(*c, clone, 30, 40);  // same offsets, same data: models must still differ
    }
    ExpectReads(*storage, "a", origin);
    ExpectReads(*storage, "c", clone);
    // A clone of a clone's snapshot.
    ASSERT_TRUE(storage->CreateSnapshot("c", "t"));
    ASSERT_TRUE(storage->CloneSnapshot("c", "t", "g"));
    grandchild = clone;
    clone_at_t = clone;
    Ops(*storage, "g", grandchild, 40, 50);
    Ops(*storage, "c", clone, 41, 50);
    ExpectReads(*storage, "g", grandchild);
    ExpectReads(*storage, "c", clone);
    ExpectClean(*storage);
  }
  // After a restart every clone finds its origin again.
  auto storage = std::move(*pd.Open());
  ExpectReads(*storage, "a", origin);
  ExpectReads(*storage, "a@s1", snap);
  ExpectReads(*storage, "c", clone);
  ExpectReads(*storage, "g", grandchild);
  EXPECT_EQ(storage->GetVolumeInfo("g")->origin, "c@t");
  Ops(*storage, "c", clone, 50, 40);
  ExpectReads(*storage, "g", grandchild);
  ExpectClean(*storage);
  // A clone rolls back like any volume, and still reads through its origin.
  ASSERT_TRUE(storage->RollbackSnapshot("c", "t", false));
  ExpectReads(*storage, "c", clone_at_t);
  ExpectReads(*storage, "g", grandchild);
  ExpectReads(*storage, "a", origin);
  ExpectClean(*storage);
}

TEST(Clone, BadInputChangesNothing) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "a", .size = kSize}));
  ASSERT_TRUE(storage->CreateVolume({.name = "b", .size = kSize}));
  ASSERT_TRUE(storage->CreateSnapshot("a", "s1"));
  EXPECT_EQ(storage->CloneSnapshot("a", "nope", "c").error().code(), Code::kNotFound);
  EXPECT_EQ(storage->CloneSnapshot("nope", "s1", "c").error().code(), Code::kNotFound);
  EXPECT_EQ(storage->CloneSnapshot("a", "s1", "b").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(storage->CloneSnapshot("a", "s1", "bad/name").error().code(), Code::kInvalidArgument);
  EXPECT_EQ(storage->FlattenVolume("b", 0, 1 << 20).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(storage->FlattenVolume("nope", 0, 1 << 20).error().code(), Code::kNotFound);
  EXPECT_EQ(storage->ListVolumes()->size(), 2u);
  ExpectClean(*storage);
}

TEST(Clone, SnapshotWithCloneCannotBeDeletedNamingTheClone) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "a", .size = kSize}));
  Bytes origin(kSize);
  Ops(*storage, "a", origin, 3, 40);
  ASSERT_TRUE(storage->CreateSnapshot("a", "s1"));
  ASSERT_TRUE(storage->CloneSnapshot("a", "s1", "child"));
  auto deleted = storage->DeleteSnapshot("a", "s1");
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code(), Code::kBusy);
  EXPECT_NE(deleted.error().message().find("'child'"), std::string::npos) << deleted.error().message();
  auto volume_deleted = storage->DeleteVolume("a");
  ASSERT_FALSE(volume_deleted);
  EXPECT_EQ(volume_deleted.error().code(), Code::kBusy);
  EXPECT_NE(volume_deleted.error().message().find("'child'"), std::string::npos) << volume_deleted.error().message();
  ExpectReads(*storage, "child", origin);
  ExpectClean(*storage);
  // Without the clone both go.
  ASSERT_TRUE(storage->DeleteVolume("child"));
  ASSERT_TRUE(storage->DeleteSnapshot("a", "s1"));
  ASSERT_TRUE(storage->DeleteVolume("a"));
  ExpectClean(*storage);
}

TEST(Clone, FlattenThenDeleteOriginSnapshotReadsTheSame) {
  PoolDir pd;
  Bytes origin(kSize), clone;
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "a", .size = kSize}));
    Ops(*storage, "a", origin, 5, 150);
    ASSERT_TRUE(storage->CreateSnapshot("a", "s1"));
    ASSERT_TRUE(storage->CloneSnapshot("a", "s1", "c"));
    clone = origin;
    Ops(*storage, "c", clone, 6, 60);  // trims too: those must stay zeros after flatten
    Ops(*storage, "a", origin, 7, 60);
    // A clone with snapshots is not flattened.
    ASSERT_TRUE(storage->CreateSnapshot("c", "x"));
    auto refused = storage->FlattenVolume("c", 0, 1 << 20);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kBusy);
    EXPECT_NE(refused.error().message().find("'c@x'"), std::string::npos) << refused.error().message();
    ASSERT_TRUE(storage->DeleteSnapshot("c", "x"));
    // Step by step, 1 MiB at a time, with the clone open and written between steps.
    auto volume = std::move(*storage->OpenVolume("c"));
    uint64_t offset = 0, steps = 0, copied = 0;
    for (;;) {
      auto step = storage->FlattenVolume("c", offset, 1 << 20);
      ASSERT_TRUE(step) << step.error().ToString();
      copied += step->copied_bytes;
      steps++;
      if (step->done) break;
      EXPECT_EQ(step->size, kSize);
      offset = step->offset;
      if (steps % 3 == 0) RandomOps(*volume, clone, 100 + steps, 5);
    }
    EXPECT_EQ(steps, kSize / (1 << 20) + 1);
    EXPECT_GT(copied, 0u);
    EXPECT_EQ(storage->GetVolumeInfo("c")->origin, "");
    volume.reset();
    ASSERT_TRUE(storage->DeleteSnapshot("a", "s1"));
    ExpectReads(*storage, "c", clone);
    ExpectReads(*storage, "a", origin);
    ExpectClean(*storage);
    // Flattening again: no origin any more.
    EXPECT_EQ(storage->FlattenVolume("c", 0, 1 << 20).error().code(), Code::kInvalidArgument);
  }
  auto storage = std::move(*pd.Open());
  ExpectReads(*storage, "c", clone);
  ASSERT_TRUE(storage->DeleteVolume("a"));
  ExpectReads(*storage, "c", clone);
  ExpectClean(*storage);
}

TEST(Rollback, ByteForByteAgainstModelAlsoAfterReopen) {
  PoolDir pd;
  Bytes live(kSize), s1, s2;
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
    Ops(*storage, "v", live, 1, 120);
    ASSERT_TRUE(storage->CreateSnapshot("v", "s1"));
    s1 = live;
    Ops(*storage, "v", live, 2, 120);
    ASSERT_TRUE(storage->ResizeVolume("v", 2 * kSize, false));
    live.resize(2 * kSize);
    Ops(*storage, "v", live, 3, 60);
    ASSERT_TRUE(storage->RollbackSnapshot("v", "s1", false));
    live = s1;
    ExpectReads(*storage, "v", live);
    ExpectClean(*storage);
    // Writing after a rollback, then rolling back again.
    Ops(*storage, "v", live, 4, 80);
    ASSERT_TRUE(storage->RollbackSnapshot("v", "s1", false));
    live = s1;
    ExpectReads(*storage, "v", live);
    Ops(*storage, "v", live, 5, 80);
    ASSERT_TRUE(storage->CreateSnapshot("v", "s2"));
    s2 = live;
    // Not the newest: the newer one is kept and still reads as it was.
    ASSERT_TRUE(storage->RollbackSnapshot("v", "s1", false));
    live = s1;
    ExpectReads(*storage, "v", live);
    ExpectReads(*storage, "v@s2", s2);
    EXPECT_EQ(storage->RollbackSnapshot("v", "nope", false).error().code(), Code::kNotFound);
    Ops(*storage, "v", live, 6, 80);
    ExpectReads(*storage, "v", live);
    ExpectClean(*storage);
  }
  // Unflushed batches written after the snapshot are not replayed after a
  // reopen that follows a rollback.
  {
    auto storage = std::move(*pd.Open());
    ExpectReads(*storage, "v", live);
    ASSERT_TRUE(storage->RollbackSnapshot("v", "s2", false));
    live = s2;
  }
  {
    auto storage = std::move(*pd.Open());
    ExpectReads(*storage, "v", live);
    ExpectReads(*storage, "v@s1", s1);
    ExpectReads(*storage, "v@s2", s2);
    Ops(*storage, "v", live, 7, 60);
    ASSERT_TRUE(storage->DeleteSnapshot("v", "s2"));
    ASSERT_TRUE(storage->RollbackSnapshot("v", "s1", false));
    live = s1;
    ExpectReads(*storage, "v", live);
    ExpectClean(*storage);
  }
  auto storage = std::move(*pd.Open());
  ExpectReads(*storage, "v", live);
  ExpectClean(*storage);
}

TEST(Rollback, RefusesAnOpenWriterAndForceRevokesIt) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  Bytes live(kSize);
  Ops(*storage, "v", live, 1, 50);
  ASSERT_TRUE(storage->CreateSnapshot("v", "s1"));
  Bytes s1 = live;
  auto writer = std::move(*storage->OpenVolume("v"));
  RandomOps(*writer, live, 2, 50);
  auto refused = storage->RollbackSnapshot("v", "s1", false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kBusy);
  EXPECT_NE(refused.error().message().find("open for writing"), std::string::npos) << refused.error().message();
  // Nothing changed: the writer keeps working.
  RandomOps(*writer, live, 3, 20);
  // A snapshot export is no writer.
  auto export_s1 = std::move(*storage->OpenVolume("v@s1"));
  // Unflushed writes are simply dropped by --force.
  auto data = Pattern(65536, 9);
  ASSERT_TRUE(writer->Write(0, data, false));
  ASSERT_TRUE(storage->RollbackSnapshot("v", "s1", true));
  Bytes buf(4096);
  auto read = writer->Read(0, buf);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
  EXPECT_EQ(writer->Write(0, buf, false).error().code(), Code::kIOError);
  EXPECT_EQ(writer->Flush().error().code(), Code::kIOError);
  // A new open sees the snapshot; the revoked object goes away harmlessly.
  ExpectReads(*storage, "v", s1);
  ExpectReads(*storage, "v@s1", s1);
  writer.reset();
  export_s1.reset();
  ExpectReads(*storage, "v", s1);
  ExpectClean(*storage);
}

// --force while several threads write, flush and trim as fast as they can:
// every thread ends on an IOError, and the volume is exactly the snapshot.
TEST(Rollback, ForceCutsOffBusyWriters) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  Bytes s1(kSize);
  Ops(*storage, "v", s1, 1, 50);
  ASSERT_TRUE(storage->CreateSnapshot("v", "s1"));
  auto writer = std::move(*storage->OpenVolume("v"));
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  std::vector<Code> ended(4, Code::kInvalidArgument);
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      auto data = Pattern(64 << 10, t);
      started++;
      for (uint64_t i = 0;; i++) {
        uint64_t off = (rng() % (kSize / 4096 - 16)) * 4096;
        Status s = i % 7 == 0 ? writer->Flush() : i % 5 == 0 ? writer->Trim(off, 8192, false) : writer->Write(off, data, false);
        if (!s) {
          ended[t] = s.error().code();
          return;
        }
      }
    });
  }
  while (started < 4) std::this_thread::yield();
  ASSERT_TRUE(storage->RollbackSnapshot("v", "s1", true));
  for (auto& t : threads) t.join();
  for (Code c : ended) EXPECT_EQ(c, Code::kIOError);
  writer.reset();
  ExpectReads(*storage, "v", s1);
  ExpectClean(*storage);
}

}  // namespace
}  // namespace tessera::testing
