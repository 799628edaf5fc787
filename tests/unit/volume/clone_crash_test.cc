// Crashes (FaultVdev) during snapshot create and delete, rollback, clone
// creation and flatten:
// after reopen the pool holds the old state or the new one, never a mix,
// and checks clean.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kSize = 4 << 20;
using Bytes = std::vector<std::byte>;

struct Models {
  Bytes at_snapshot;  // v@s1
  Bytes live;         // v after the snapshot
};

// v with pattern A, snapshot s1, then pattern B over part of it (and a trim);
// everything flushed and committed. Deterministic.
Models Setup(Storage& storage) {
  Models m;
  m.live.assign(kSize, std::byte{0});
  EXPECT_TRUE(storage.CreateVolume({.name = "v", .size = kSize}));
  auto volume = std::move(*storage.OpenVolume("v"));
  auto a = Pattern(3 << 20, 1);
  EXPECT_TRUE(volume->Write(4096, a, false));
  std::memcpy(m.live.data() + 4096, a.data(), a.size());
  EXPECT_TRUE(volume->Flush());
  EXPECT_TRUE(storage.CreateSnapshot("v", "s1"));
  m.at_snapshot = m.live;
  auto b = Pattern(2 << 20, 2);
  EXPECT_TRUE(volume->Write(1 << 20, b, false));
  std::memcpy(m.live.data() + (1 << 20), b.data(), b.size());
  EXPECT_TRUE(volume->Trim(0, 256 << 10, false));
  std::memset(m.live.data(), 0, 256 << 10);
  EXPECT_TRUE(volume->Flush());
  volume.reset();
  EXPECT_TRUE(storage.Commit());
  return m;
}

Result<Bytes> ReadAll(Storage& storage, const std::string& name) {
  auto volume = TRY(storage.OpenVolume(name));
  Bytes out(volume->size());
  TRY_STATUS(volume->Read(0, out));
  return out;
}

// Device writes that `op` issues on a fresh setup.
uint64_t CountWrites(const std::function<Status(Storage&)>& op) {
  PoolDir pd(1, 64ull << 20);
  auto storage = std::move(*pd.Create());
  Setup(*storage);
  uint64_t before = pd.faults()[0]->Counters().writes;
  EXPECT_TRUE(op(*storage));
  return pd.faults()[0]->Counters().writes - before;
}

// Crashes `op` after every `step`-th device write; `verify` checks the
// reopened pool.
void CrashDuring(const std::function<Status(Storage&)>& op,
                 const std::function<void(Storage&, const Models&, bool op_returned_ok)>& verify) {
  uint64_t total = CountWrites(op);
  ASSERT_GT(total, 2u);
  uint64_t step = std::max<uint64_t>(1, total / 25);
  for (uint64_t n = 0;; n = std::min(n + step, total)) {  // ends with n = total: no crash within op
    SCOPED_TRACE(fmt::format("crash after {} of {} writes", n, total));
    PoolDir pd(1, 64ull << 20);
    Models m;
    bool ok = false;
    {
      auto storage = std::move(*pd.Create());
      m = Setup(*storage);
      pd.faults()[0]->CrashAfterWrites(n, n % 2 ? std::optional<uint64_t>(n) : std::nullopt);
      ok = static_cast<bool>(op(*storage));
      pd.PowerLossAll();
    }
    auto storage = pd.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    verify(**storage, m, ok);
    ExpectClean(**storage);
    if (::testing::Test::HasFailure() || n == total) return;
  }
}

TEST(CloneCrash, RollbackIsAllOrNothing) {
  int rolled_back = 0, kept = 0;
  CrashDuring([](Storage& s) { return s.RollbackSnapshot("v", "s1", false); },
              [&](Storage& storage, const Models& m, bool ok) {
                auto got = ReadAll(storage, "v");
                ASSERT_TRUE(got) << got.error().ToString();
                bool is_new = *got == m.at_snapshot;
                ASSERT_TRUE(is_new || *got == m.live) << "the volume is neither its old state nor the snapshot";
                if (ok) {
                  EXPECT_TRUE(is_new) << "rollback returned Ok but did not survive";
                }
                (is_new ? rolled_back : kept)++;
                auto snap = ReadAll(storage, "v@s1");
                ASSERT_TRUE(snap);
                EXPECT_TRUE(*snap == m.at_snapshot);
                // The volume works afterwards, and a rollback can be done (again).
                ASSERT_TRUE(storage.RollbackSnapshot("v", "s1", false));
                auto again = ReadAll(storage, "v");
                ASSERT_TRUE(again);
                EXPECT_TRUE(*again == m.at_snapshot);
              });
  EXPECT_GT(rolled_back, 0);
  EXPECT_GT(kept, 0);
}

// To an older snapshot, the newer one kept (storage_rollback_keep.cc): the
// op takes s2 first, so a crash may also come before s2 exists.
TEST(CloneCrash, RollbackKeepingNewerIsAllOrNothing) {
  int rolled_back = 0, kept = 0;
  CrashDuring([](Storage& s) -> Status {
                TRY_STATUS(s.CreateSnapshot("v", "s2"));
                return s.RollbackSnapshot("v", "s1", false);
              },
              [&](Storage& storage, const Models& m, bool ok) {
                auto got = ReadAll(storage, "v");
                ASSERT_TRUE(got) << got.error().ToString();
                bool is_new = *got == m.at_snapshot;
                ASSERT_TRUE(is_new || *got == m.live) << "the volume is neither its old state nor the snapshot";
                if (ok) {
                  EXPECT_TRUE(is_new) << "rollback returned Ok but did not survive";
                }
                (is_new ? rolled_back : kept)++;
                auto s1 = ReadAll(storage, "v@s1");
                ASSERT_TRUE(s1);
                EXPECT_TRUE(*s1 == m.at_snapshot);
                auto s2 = ReadAll(storage, "v@s2");
                if (is_new || ok) {
                  ASSERT_TRUE(s2) << "s2 is gone after the rollback began";
                }
                if (s2) {
                  EXPECT_TRUE(*s2 == m.live) << "s2 changed";
                } else {
                  ASSERT_TRUE(storage.CreateSnapshot("v", "s2"));
                }
                // The rollback can be done (again), then both snapshots deleted.
                ASSERT_TRUE(storage.RollbackSnapshot("v", "s1", false));
                auto again = ReadAll(storage, "v");
                ASSERT_TRUE(again);
                EXPECT_TRUE(*again == m.at_snapshot);
                ExpectClean(storage);
                ASSERT_TRUE(storage.DeleteSnapshot("v", "s1"));
                ASSERT_TRUE(storage.DeleteSnapshot("v", "s2"));
                again = ReadAll(storage, "v");
                ASSERT_TRUE(again);
                EXPECT_TRUE(*again == m.at_snapshot);
              });
  EXPECT_GT(rolled_back, 0);
  EXPECT_GT(kept, 0);
}

TEST(CloneCrash, CloneCreateIsAllOrNothing) {
  int created = 0, absent = 0;
  CrashDuring([](Storage& s) -> Status {
                auto info = s.CloneSnapshot("v", "s1", "c");
                if (!info) return Err(info.error());
                return Ok();
              },
              [&](Storage& storage, const Models& m, bool ok) {
                auto info = storage.GetVolumeInfo("c");
                if (!info) {
                  EXPECT_EQ(info.error().code(), Code::kNotFound) << info.error().ToString();
                  EXPECT_FALSE(ok) << "clone returned Ok but did not survive";
                  absent++;
                  // The origin snapshot is free to go: nothing depends on it.
                  ASSERT_TRUE(storage.DeleteSnapshot("v", "s1"));
                  return;
                }
                created++;
                EXPECT_EQ(info->origin, "v@s1");
                auto got = ReadAll(storage, "c");
                ASSERT_TRUE(got) << got.error().ToString();
                EXPECT_TRUE(*got == m.at_snapshot);
                auto live = ReadAll(storage, "v");
                ASSERT_TRUE(live);
                EXPECT_TRUE(*live == m.live);
                EXPECT_EQ(storage.DeleteSnapshot("v", "s1").error().code(), Code::kBusy);
              });
  EXPECT_GT(created, 0);
  EXPECT_GT(absent, 0);
}

TEST(CloneCrash, FlattenKeepsTheCloneWhole) {
  int flattened = 0, attached = 0;
  CrashDuring(
      [](Storage& s) -> Status {
        auto info = s.CloneSnapshot("v", "s1", "c");
        if (!info) return Err(info.error());
        uint64_t offset = 0;
        for (;;) {
          auto step = s.FlattenVolume("c", offset, 1 << 20);
          if (!step) return Err(step.error());
          if (step->done) return Ok();
          offset = step->offset;
        }
      },
      [&](Storage& storage, const Models& m, bool ok) {
        auto info = storage.GetVolumeInfo("c");
        if (!info) return;  // the crash came before the clone existed
        auto got = ReadAll(storage, "c");
        ASSERT_TRUE(got) << got.error().ToString();
        EXPECT_TRUE(*got == m.at_snapshot) << "origin: '" << info->origin << "'";
        if (info->origin.empty()) {
          flattened++;
          ASSERT_TRUE(storage.DeleteSnapshot("v", "s1"));
          auto again = ReadAll(storage, "c");
          ASSERT_TRUE(again);
          EXPECT_TRUE(*again == m.at_snapshot);
        } else {
          EXPECT_FALSE(ok) << "flatten returned Ok but the clone still has its origin";
          EXPECT_EQ(info->origin, "v@s1");
          attached++;
        }
      });
  EXPECT_GT(flattened, 0);
  EXPECT_GT(attached, 0);
}

// A snapshot either exists whole (reading the volume as it was) or not at
// all; the live volume is untouched either way.
TEST(SnapshotCrash, CreateIsAllOrNothing) {
  int created = 0, absent = 0;
  CrashDuring([](Storage& s) { return s.CreateSnapshot("v", "s2"); },
              [&](Storage& storage, const Models& m, bool ok) {
                auto live = ReadAll(storage, "v");
                ASSERT_TRUE(live) << live.error().ToString();
                EXPECT_TRUE(*live == m.live);
                auto got = ReadAll(storage, "v@s2");
                if (!got) {
                  EXPECT_EQ(got.error().code(), Code::kNotFound) << got.error().ToString();
                  EXPECT_FALSE(ok) << "snapshot create returned Ok but did not survive";
                  absent++;
                  return;
                }
                created++;
                EXPECT_TRUE(*got == m.live) << "the snapshot does not hold the volume as it was";
              });
  EXPECT_GT(created, 0);
  EXPECT_GT(absent, 0);
}

TEST(SnapshotCrash, DeleteIsAllOrNothing) {
  int deleted = 0, kept = 0;
  CrashDuring([](Storage& s) { return s.DeleteSnapshot("v", "s1"); },
              [&](Storage& storage, const Models& m, bool ok) {
                auto live = ReadAll(storage, "v");
                ASSERT_TRUE(live) << live.error().ToString();
                EXPECT_TRUE(*live == m.live);
                auto got = ReadAll(storage, "v@s1");
                if (!got) {
                  EXPECT_EQ(got.error().code(), Code::kNotFound) << got.error().ToString();
                  deleted++;
                  return;
                }
                EXPECT_FALSE(ok) << "snapshot delete returned Ok but the snapshot survived";
                kept++;
                EXPECT_TRUE(*got == m.at_snapshot) << "a half-deleted snapshot reads differently";
              });
  EXPECT_GT(deleted, 0);
  EXPECT_GT(kept, 0);
}

}  // namespace
}  // namespace tessera::testing
