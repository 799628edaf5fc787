// Volume lifecycle under races: the last handle dropped while commits,
// snapshots, clones, reopens and deletes run in other threads.
//  L1: dropping a volume's last handle never deadlocks a commit, a snapshot
//      or a clone running at the same time (a watchdog aborts the test if the
//      threads stop making progress).
//  L2: a reopen racing the close of the previous object sees every write
//      flushed before the close; a delete racing it either waits for the close
//      or is refused; afterwards the pool checks clean and every volume equals
//      its model.
//  L3: operations that change a volume refuse a snapshot's name and change
//      nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <thread>

#include "core/util/log.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

// Aborts the process when not cancelled within `limit`: a deadlock then
// fails the test with a message instead of hanging the suite.
class Watchdog {
 public:
  explicit Watchdog(std::chrono::seconds limit, std::string what) {
    thread_ = std::thread([this, limit, what = std::move(what)] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
        std::fprintf(stderr, "watchdog: %s made no progress in %lld s (deadlock?)\n", what.c_str(),
                     static_cast<long long>(limit.count()));
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

constexpr uint64_t kSize = 16 << 20;
constexpr uint64_t kExtent = 64 << 10;

// The content each 64 KiB extent of a volume was last given (seed 0: zeros).
struct ExtentModel {
  std::vector<uint64_t> seeds = std::vector<uint64_t>(kSize / kExtent, 0);
};

std::vector<std::byte> ExtentData(uint64_t seed) {
  return seed == 0 ? std::vector<std::byte>(kExtent) : Pattern(kExtent, seed);
}

void ExpectModel(Volume& volume, const ExtentModel& model) {
  std::vector<std::byte> buf(kExtent);
  for (uint64_t e = 0; e < model.seeds.size(); e++) {
    ASSERT_TRUE(volume.Read(e * kExtent, buf));
    ASSERT_TRUE(buf == ExtentData(model.seeds[e])) << volume.name() << ": extent " << e << " differs";
  }
}

// A client session as an NBD client runs it: connect, write sixteen 64 KiB
// extents, flush, disconnect.
void ClientSession(Storage& storage, const std::string& name, ExtentModel& model, std::mt19937_64& rng) {
  auto volume = storage.OpenVolume(name);
  ASSERT_TRUE(volume) << volume.error().ToString();
  for (int i = 0; i < 16; i++) {
    uint64_t e = rng() % model.seeds.size();
    uint64_t seed = rng() | 1;
    ASSERT_TRUE((*volume)->Write(e * kExtent, ExtentData(seed), false));
    model.seeds[e] = seed;
  }
  ASSERT_TRUE((*volume)->Flush());
}

enum class Churn { kSnapshots, kClones, kDiffs };

// L1, for one kind of management churn.
void RunChurn(Churn churn) {
  const uint64_t errors_before = LoggedErrors();
  PoolDir pd(2, 256ull << 20);
  ExtentModel v_model, w_model;
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
    ASSERT_TRUE(storage->CreateVolume({.name = "w", .size = kSize}));
    ASSERT_TRUE(storage->CreateSnapshot("v", "base"));
    storage->StartBackground(std::chrono::milliseconds(20));
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> sessions{0}, operations{0};
    Watchdog watchdog(std::chrono::seconds(120), "client sessions racing management operations");
    auto client = [&](const std::string& name, ExtentModel& model, uint64_t seed) {
      std::mt19937_64 rng(seed);
      while (!stop) {
        ClientSession(*storage, name, model, rng);
        if (::testing::Test::HasFatalFailure()) return;
        sessions++;
      }
    };
    std::thread v_client(client, "v", std::ref(v_model), 1);
    std::thread w_client(client, "w", std::ref(w_model), 2);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
    for (int i = 0; std::chrono::steady_clock::now() < deadline || operations < 20; i++) {
      switch (churn) {
        case Churn::kSnapshots:
          ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
          ASSERT_TRUE(storage->DeleteSnapshot("v", "s"));
          break;
        case Churn::kClones: {
          std::string clone = fmt::format("c{}", i);
          auto cloned = storage->CloneSnapshot("v", "base", clone);
          ASSERT_TRUE(cloned) << cloned.error().ToString();
          auto deleted = storage->DeleteVolume(clone);
          ASSERT_TRUE(deleted) << deleted.error().ToString();
          break;
        }
        case Churn::kDiffs: {
          auto diff = storage->DiffVolume("v", "base", "");
          ASSERT_TRUE(diff) << diff.error().ToString();
          break;
        }
      }
      operations++;
    }
    stop = true;
    v_client.join();
    w_client.join();
    ASSERT_FALSE(::testing::Test::HasFatalFailure());
    EXPECT_GT(sessions.load(), 10u);
    ASSERT_TRUE(storage->Close());
  }
  auto storage = std::move(*pd.Open());
  ExpectModel(**storage->OpenVolume("v"), v_model);
  ExpectModel(**storage->OpenVolume("w"), w_model);
  ExpectClean(*storage);
  EXPECT_EQ(LoggedErrors(), errors_before) << "a close, cleaner or commit failed along the way";
}

TEST(Lifecycle, SessionsRacingSnapshotCreateAndDelete) { RunChurn(Churn::kSnapshots); }
TEST(Lifecycle, SessionsRacingCloneAndVolumeDelete) { RunChurn(Churn::kClones); }
TEST(Lifecycle, SessionsRacingDiffs) { RunChurn(Churn::kDiffs); }

// L2: the last handle is dropped (and the close run) in one thread while
// another reopens the volume, with slow metadata writes so that the close
// takes long enough to be caught in the middle.
TEST(Lifecycle, ReopenRacingTheCloseSeesEveryFlushedWrite) {
  const uint64_t errors_before = LoggedErrors();
  PoolDir pd(2, 256ull << 20);
  ExtentModel model;
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
    for (auto& f : pd.faults()) f->SetLatency(std::chrono::microseconds(300));
    Watchdog watchdog(std::chrono::seconds(120), "reopen racing close");
    std::mt19937_64 rng(7);
    for (int round = 0; round < 40; round++) {
      SCOPED_TRACE(fmt::format("round {}", round));
      auto first = std::move(*storage->OpenVolume("v"));
      // Each side owns half of the extents. The first side overwrites its
      // first four extents 64 times (a 4 MiB row's worth), so that rows die
      // and its close frees them.
      uint64_t half = model.seeds.size() / 2;
      uint64_t e = 0, seed = 0;
      for (int i = 0; i < 64; i++) {
        e = rng() % 4;
        seed = rng() | 1;
        ASSERT_TRUE(first->Write(e * kExtent, ExtentData(seed), false));
        model.seeds[e] = seed;
      }
      ASSERT_TRUE(first->Flush());
      ASSERT_TRUE(storage->Commit());  // rows before this head may be freed
      std::thread closer([&] {
        first.reset();
        ASSERT_TRUE(storage->CloseIdleVolumes());
      });
      if (round % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
      {
        auto second = storage->OpenVolume("v");
        ASSERT_TRUE(second) << second.error().ToString();
        std::vector<std::byte> buf(kExtent);
        ASSERT_TRUE((*second)->Read(e * kExtent, buf));
        EXPECT_TRUE(buf == ExtentData(seed)) << "a reopen lost a write flushed before the close";
        uint64_t mine = half + rng() % half, my_seed = rng() | 1;
        ASSERT_TRUE((*second)->Write(mine * kExtent, ExtentData(my_seed), false));
        ASSERT_TRUE((*second)->Flush());
        model.seeds[mine] = my_seed;
      }
      closer.join();
      ASSERT_TRUE(storage->CloseIdleVolumes());
      if (HasFailure()) return;
    }
    for (auto& f : pd.faults()) f->SetLatency(std::chrono::microseconds(0));
    ExpectClean(*storage);
  }
  auto storage = std::move(*pd.Open());
  ExpectModel(**storage->OpenVolume("v"), model);
  ExpectClean(*storage);
  EXPECT_EQ(LoggedErrors(), errors_before) << "a close or a cleaner failed along the way";
}

TEST(Lifecycle, DeleteRacingTheCloseWaitsForIt) {
  const uint64_t errors_before = LoggedErrors();
  PoolDir pd(2, 256ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "keep", .size = kSize}));
  for (auto& f : pd.faults()) f->SetLatency(std::chrono::microseconds(300));
  Watchdog watchdog(std::chrono::seconds(120), "delete racing close");
  std::mt19937_64 rng(11);
  int deleted = 0;
  for (int round = 0; round < 30; round++) {
    SCOPED_TRACE(fmt::format("round {}", round));
    ASSERT_TRUE(storage->CreateVolume({.name = "d", .size = kSize}));
    auto volume = std::move(*storage->OpenVolume("d"));
    ASSERT_TRUE(volume->Write((rng() % 200) * kExtent, ExtentData(rng() | 1), false));
    std::thread closer([&] {
      volume.reset();
      ASSERT_TRUE(storage->CloseIdleVolumes());
    });
    if (round % 2) std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    auto first_try = storage->DeleteVolume("d");
    closer.join();
    if (first_try) {
      deleted++;
    } else {
      ASSERT_EQ(first_try.error().code(), Code::kBusy) << first_try.error().ToString();
      ASSERT_TRUE(storage->DeleteVolume("d"));
    }
    if (HasFailure()) return;
  }
  for (auto& f : pd.faults()) f->SetLatency(std::chrono::microseconds(0));
  EXPECT_GT(deleted, 0);
  ExpectClean(*storage);
  EXPECT_EQ(LoggedErrors(), errors_before) << "a close touched the volume after its delete";
}

// L3.
TEST(Lifecycle, SnapshotNamesAreRefusedByEveryChange) {
  PoolDir pd(2, 256ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  ExtentModel model;
  std::mt19937_64 rng(3);
  ClientSession(*storage, "v", model, rng);
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  ASSERT_TRUE(storage->CreateSnapshot("v", "t"));
  std::string stream = pd.Outside("stream");
  ASSERT_TRUE(storage->WriteDiffStream("v", "s", "t", StreamOut(stream)));
  auto served = std::move(*storage->OpenVolume("v"));  // as a server would hold it
  std::string exnode = *storage->ExnodeText("v");
  auto expect_refused = [&](const Status& status, std::string_view what) {
    ASSERT_FALSE(status) << what << " accepted a snapshot's name";
    EXPECT_EQ(status.error().code(), Code::kInvalidArgument) << what;
    EXPECT_NE(status.error().message().find("names a snapshot"), std::string::npos)
        << what << ": " << status.error().message();
  };
  expect_refused(storage->ResizeVolume("v@s", 2 * kSize, false), "resize (grow)");
  expect_refused(storage->ResizeVolume("v@s", kSize / 2, true), "resize --force (shrink)");
  expect_refused(storage->DeleteVolume("v@s"), "delete");
  auto flatten = storage->FlattenVolume("v@s", 0, kSize);
  expect_refused(flatten ? Ok() : Status(Err(flatten.error())), "flatten");
  auto applied = storage->ApplyDiffStream("v@s", StreamIn(stream));
  expect_refused(applied ? Ok() : Status(Err(applied.error())), "apply");
  for (bool repair : {false, true}) {
    auto inspected = storage->InspectVolume("v@s", InspectDepth::kFull, repair);
    expect_refused(inspected ? Ok() : Status(Err(inspected.error())), "inspect");
  }
  // Nothing changed: the live exNode, size, data and both snapshots.
  EXPECT_EQ(*storage->ExnodeText("v"), exnode);
  EXPECT_EQ(served->size(), kSize);
  ExpectModel(*served, model);
  ExpectModel(**storage->OpenVolume("v@s"), model);
  auto snapshots = storage->ListSnapshots("v");
  ASSERT_TRUE(snapshots);
  EXPECT_EQ(snapshots->size(), 2u);
  served.reset();
  ExpectClean(*storage);
}

}  // namespace
}  // namespace tessera::testing
