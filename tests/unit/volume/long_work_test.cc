// Long work does not stop the storage from serving (storage_impl.h, locking
// notes). Every device is made slow, so that a stream apply, a scrub or a
// vdev replace takes seconds; while it runs, the calls a new NBD client
// makes (listing the exports, opening a volume and reading it) and the
// short management calls must return. The check is an order, not a time:
// the calls return while the long work is still running. With the long
// work holding the storage's lock throughout, they return only after it.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kLongBytes = 24 << 20;  // what the long work goes through
constexpr uint64_t kProbeBytes = 1 << 20;
constexpr auto kSlow = std::chrono::milliseconds(4);  // per device request

class LongWork : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::move(*pd_.Create());
    devices_ = pd_.faults();  // a replace adds one to pd_'s list and drops these
    // "src" holds the data the long work reads; "idle" and "open" are what
    // clients use meanwhile.
    ASSERT_TRUE(storage_->CreateVolume({.name = "src", .size = kLongBytes, .layout = "rs:2+1"}));
    auto src = std::move(*storage_->OpenVolume("src"));
    ASSERT_TRUE(src->Write(0, Pattern(kLongBytes, 1), false));
    ASSERT_TRUE(src->Flush());
    src.reset();
    for (const char* name : {"idle", "open"}) {
      ASSERT_TRUE(storage_->CreateVolume({.name = name, .size = 16 << 20, .layout = "rs:2+1"}));
      auto v = std::move(*storage_->OpenVolume(name));
      ASSERT_TRUE(v->Write(0, Pattern(kProbeBytes, 2), false));
      ASSERT_TRUE(v->Flush());
    }
    open_ = std::move(*storage_->OpenVolume("open"));
    ASSERT_TRUE(storage_->CloseIdleVolumes());
  }

  void Slow(bool slow) {
    for (auto& f : devices_) f->SetLatency(slow ? kSlow : std::chrono::milliseconds(0));
  }

  // Runs `work` in a thread with the devices slow and, once it has reached
  // the devices, what a new client does. Expects those calls to return
  // before the work ends, and the work to succeed.
  void ExpectServedDuring(const std::string& what, const std::function<Status()>& work) {
    SCOPED_TRACE(what);
    std::atomic<bool> done = false;
    uint64_t writes_before = DeviceRequests();
    Slow(true);
    auto running = std::async(std::launch::async, [&] {
      Status s = work();
      done = true;
      return s;
    });
    WaitUntilOnTheDevices(writes_before, done);
    ASSERT_FALSE(done) << "the work ended before it could be observed; make it longer";
    uint64_t at_probe = DeviceRequests();
    Probe();
    bool served_during = !done;
    Status result = running.get();
    fmt::print("{}: device requests {} before the probe, {} in all\n", what, at_probe - writes_before,
               DeviceRequests() - writes_before);
    Slow(false);
    ASSERT_TRUE(result) << result.error().ToString();
    EXPECT_TRUE(served_during) << "a client waited for the whole of the " << what;
  }

  // A new client: the export list, then an open of an idle volume and its
  // first read; a read through a volume already open; a volume listing.
  void Probe() {
    auto exports = storage_->ListExports();
    ASSERT_TRUE(exports) << exports.error().ToString();
    EXPECT_GE(exports->size(), 3u);
    auto idle = storage_->OpenVolume("idle");
    ASSERT_TRUE(idle) << idle.error().ToString();
    std::vector<std::byte> buf(kProbeBytes);
    ASSERT_TRUE((*idle)->Read(0, buf));
    EXPECT_TRUE(buf == Pattern(kProbeBytes, 2));
    ASSERT_TRUE(open_->Read(0, buf));
    EXPECT_TRUE(buf == Pattern(kProbeBytes, 2));
    EXPECT_TRUE(storage_->ListVolumes());
  }

  // Until work started when the devices had served `before` requests is on
  // them (it first reads and verifies a stream, or lists the volumes), or
  // it is `done`; at most 30 s.
  void WaitUntilOnTheDevices(uint64_t before, const std::atomic<bool>& done) {
    for (int i = 0; i < 6000 && !done && DeviceRequests() < before + 4; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // A full stream of src@s, and an empty volume "dst" of src's size for it.
  std::string StreamForDst() {
    EXPECT_TRUE(storage_->CreateSnapshot("src", "s"));
    std::string stream = pd_.Outside("full.tds");
    EXPECT_TRUE(storage_->WriteDiffStream("src", "", "s", StreamOut(stream)));
    EXPECT_TRUE(storage_->CreateVolume({.name = "dst", .size = kLongBytes}));
    return stream;
  }

  uint64_t DeviceRequests() {
    uint64_t n = 0;
    for (auto& f : devices_) n += f->Counters().writes + f->Counters().reads;
    return n;
  }

  PoolDir pd_{3, 512ull << 20};
  std::vector<std::shared_ptr<FaultVdev>> devices_;
  std::unique_ptr<Storage> storage_;
  std::shared_ptr<Volume> open_;
};

TEST_F(LongWork, ApplyOfAStream) {
  std::string stream = StreamForDst();
  ASSERT_FALSE(HasFailure());
  ExpectServedDuring("apply", [&]() -> Status {
    TRY(storage_->ApplyDiffStream("dst", StreamIn(stream)));
    return Ok();
  });
  auto dst = storage_->OpenVolume("dst@s");
  ASSERT_TRUE(dst) << dst.error().ToString();
  std::vector<std::byte> all(kLongBytes);
  ASSERT_TRUE((*dst)->Read(0, all));
  EXPECT_TRUE(all == Pattern(kLongBytes, 1)) << "the applied copy differs from its source";
}

TEST_F(LongWork, Scrub) {
  ExpectServedDuring("scrub", [&]() -> Status {
    ScrubReport report = TRY(storage_->Scrub());
    if (report.unrecoverable != 0 || report.repaired != 0) return Err(Code::kCorruption, "scrub found damage");
    return Ok();
  });
  ExpectClean(*storage_);
}

// A pool check walks every tree node; on a cold cache (a reopened pool)
// every one is a device read. Clients are served meanwhile: neither the
// storage's lock nor the database's is held for the walk. Snapshots with a
// write between each give the walk distinct nodes to read.
TEST_F(LongWork, Check) {
  {
    auto src = std::move(*storage_->OpenVolume("src"));
    for (int i = 0; i < 100; i++) {
      ASSERT_TRUE(src->Write((i * 37 % 96) * (256 << 10), Pattern(4096, i + 3), false));
      ASSERT_TRUE(src->Flush());
      ASSERT_TRUE(storage_->CreateSnapshot("src", fmt::format("c{}", i)));
    }
  }
  open_.reset();
  storage_.reset();
  storage_ = std::move(*pd_.Open());
  devices_ = pd_.faults();
  open_ = std::move(*storage_->OpenVolume("open"));
  ExpectServedDuring("check", [&]() -> Status {
    CheckReport report = TRY(storage_->Check());
    if (!report.clean()) return Err(Code::kCorruption, "check: {}", report.Summary());
    return Ok();
  });
  ExpectClean(*storage_);
}

TEST_F(LongWork, VdevReplace) {
  ExpectServedDuring("vdev replace", [&]() -> Status {
    VdevReplaceReport report = TRY(storage_->ReplaceVdev("vdev1", "vdev1-new.img"));
    if (report.unrecoverable_blocks != 0) return Err(Code::kCorruption, "replace lost blocks");
    return Ok();
  });
  ExpectClean(*storage_);
  auto src = std::move(*storage_->OpenVolume("src"));
  std::vector<std::byte> all(kLongBytes);
  ASSERT_TRUE(src->Read(0, all));
  EXPECT_TRUE(all == Pattern(kLongBytes, 1));
}

// Calls that change a volume a long job holds wait for it: a resize of the
// volume being applied to returns after the apply and finds it whole.
TEST_F(LongWork, ChangesToTheHeldVolumeWait) {
  std::string stream = StreamForDst();
  ASSERT_FALSE(HasFailure());
  std::atomic<bool> applied = false;
  uint64_t before = DeviceRequests();
  Slow(true);
  auto running = std::async(std::launch::async, [&] {
    auto info = storage_->ApplyDiffStream("dst", StreamIn(stream));
    applied = true;
    return info.has_value();
  });
  WaitUntilOnTheDevices(before, applied);
  ASSERT_TRUE(storage_->CreateSnapshot("dst", "mine"));
  EXPECT_TRUE(applied) << "a snapshot of a volume was taken in the middle of a stream applied to it";
  EXPECT_TRUE(running.get());
  Slow(false);
  auto snap = storage_->OpenVolume("dst@mine");
  ASSERT_TRUE(snap);
  std::vector<std::byte> all(kLongBytes);
  ASSERT_TRUE((*snap)->Read(0, all));
  EXPECT_TRUE(all == Pattern(kLongBytes, 1));
}

}  // namespace
}  // namespace tessera::testing
