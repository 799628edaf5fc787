// The pool's lease (core/pool/pool_lease.h): two pool directories whose
// pool.conf names the same vdev files stand for two hosts that reach the
// same disks. The flock of one directory does not keep the other out; the
// lease does.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "core/pool/label.h"
#include "core/util/aligned_buffer.h"
#include "core/pool/pool_lease.h"
#include "core/pool/vdev_kinds.h"
#include "core/vdev/fault_vdev.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

TEST(LeaseLabel, TheLeaseRidesInTheLabelAndLeavesItsFieldsAlone) {
  VdevLabel label{.pool_uuid = RandomUuid(), .vdev_guid = 7, .tier = Tier::kFast, .index = 3, .size_blocks = 4096,
                  .name = "m0"};
  LeaseRecord lease{.holder = 11, .sequence = 12, .host_id = 13, .time_ms = 14, .interval_ms = 1000, .pid = 15,
                    .state = LeaseRecord::State::kReleased, .host_name = "node1"};
  AlignedBuffer block(kBlockSize);
  EncodeLabel(label, block.span(), &lease);
  auto decoded = DecodeLabel(block.span());
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, label);
  EXPECT_EQ(DecodeLease(block.span()), lease);
  EncodeLabel(label, block.span());
  EXPECT_EQ(DecodeLease(block.span()), std::nullopt);
  EncodeLabel(label, block.span(), &lease);
  block.span()[130] ^= std::byte{1};  // the checksum covers the lease
  EXPECT_FALSE(DecodeLabel(block.span()));
  EXPECT_EQ(DecodeLease(block.span()), std::nullopt);
}

// Pool directories a and b, one pool.conf, the vdev files in a third place.
class Lease : public ::testing::Test {
 protected:
  Lease() {
    fs::create_directories(root_ + "/vdevs");
    for (uint32_t i = 0; i < 2; i++) {
      config_.vdevs.push_back(VdevConfig{.name = fmt::format("m{}", i),
                                         .path = fmt::format("{}/vdevs/m{}.img", root_, i),
                                         .size_bytes = 32ull << 20, .tier = Tier::kFastest, .index = i});
    }
    config_.vdevs.push_back(VdevConfig{.name = "d0", .path = root_ + "/vdevs/d0.img", .size_bytes = 64ull << 20,
                                       .tier = Tier::kSlow, .index = 0});
    auto created = Storage::Create(a_, config_, Options("a"));
    EXPECT_TRUE(created) << created.error().ToString();
    EXPECT_TRUE((*created)->CreateVolume({.name = "v", .size = 16ull << 20}));
    created->reset();
    fs::create_directories(b_);
    fs::copy_file(a_ + "/pool.conf", b_ + "/pool.conf");
  }
  ~Lease() override { fs::remove_all(root_); }

  static StorageOptions Options(const std::string& host) {
    StorageOptions options;
    options.metadata_cache_bytes = 16 << 20;
    options.lease = {.interval = milliseconds(100), .host_identity = host};
    return options;
  }

  // The newest lease record on the labels, read through a pool of our own.
  std::optional<LeaseRecord> Newest() {
    auto pool = RawPool();
    if (!pool) return std::nullopt;
    std::optional<LeaseRecord> newest;
    for (const LeaseRecord& r : pool->ReadLeases()) {
      if (!newest || r.sequence > newest->sequence) newest = r;
    }
    return newest;
  }
  // Writes `record` on the labels as another opener would.
  void Forge(const LeaseRecord& record) {
    auto pool = RawPool();
    ASSERT_TRUE(pool);
    ASSERT_TRUE(pool->WriteLease(record));
  }
  std::unique_ptr<Pool> RawPool() {
    auto config = LoadPoolConfig(a_ + "/pool.conf");
    EXPECT_TRUE(config);
    auto devices = OpenVdevs(*config, {.use_io_uring = false});
    EXPECT_TRUE(devices);
    auto pool = Pool::Open(*config, std::move(*devices));
    EXPECT_TRUE(pool) << pool.error().ToString();
    return pool ? std::move(*pool) : nullptr;
  }

  const std::string root_ = (fs::temp_directory_path() / fmt::format("tessera-lease-test-{}", RandomU64())).string();
  const std::string a_ = root_ + "/a";
  const std::string b_ = root_ + "/b";
  PoolConfig config_;
};

TEST_F(Lease, AHostThatRenewsKeepsAnotherOutAndANewDirectoryOfTheSameHostToo) {
  auto a = Storage::Open(a_, Options("a"));
  ASSERT_TRUE(a) << a.error().ToString();
  auto b = Storage::Open(b_, Options("b"));
  ASSERT_FALSE(b) << "a second host opened a pool that another renews";
  EXPECT_EQ(b.error().code(), Code::kBusy);
  EXPECT_NE(b.error().message().find("its lease was renewed while this open watched it"), std::string::npos)
      << b.error().message();
  // The same host through another directory: its pid is alive.
  auto same = Storage::Open(b_, Options("a"));
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code(), Code::kBusy);
  // The refusals changed nothing: a still writes.
  auto volume = (*a)->OpenVolume("v");
  ASSERT_TRUE(volume);
  auto data = Pattern(1 << 20, 1);
  ASSERT_TRUE((*volume)->Write(0, data, false));
  ASSERT_TRUE((*volume)->Flush());
  volume->reset();
  ASSERT_TRUE((*a)->Close());
  a->reset();
  auto newest = Newest();
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->state, LeaseRecord::State::kReleased);
  // Released: the other host opens at once and reads what a wrote.
  auto reopened = Storage::Open(b_, Options("b"));
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  auto v = (*reopened)->OpenVolume("v");
  ASSERT_TRUE(v);
  std::vector<std::byte> got(data.size());
  ASSERT_TRUE((*v)->Read(0, got));
  EXPECT_TRUE(got == data);
}

TEST_F(Lease, AHolderThatStoppedRenewingIsTakenOverByAnotherHost) {
  auto stale = Newest();
  ASSERT_TRUE(stale);
  // A holder on host a that died: held, and never renewed again.
  Forge(LeaseRecord{.holder = 99, .sequence = stale->sequence + 5, .host_id = LeaseHostId("a"), .interval_ms = 50,
                    .pid = 1, .state = LeaseRecord::State::kHeld, .host_name = "gone"});
  auto b = Storage::Open(b_, Options("b"));
  ASSERT_TRUE(b) << b.error().ToString();
  auto newest = Newest();
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->host_id, LeaseHostId("b"));
  EXPECT_GT(newest->sequence, stale->sequence + 5);
}

TEST_F(Lease, OnThisHostALiveProcessKeepsItAndAGoneOneDoesNot) {
  auto stale = Newest();
  ASSERT_TRUE(stale);
  Forge(LeaseRecord{.holder = 99, .sequence = stale->sequence + 1, .host_id = LeaseHostId("b"), .interval_ms = 60000,
                    .pid = static_cast<uint32_t>(getppid()), .state = LeaseRecord::State::kHeld,
                    .host_name = "here"});
  auto refused = Storage::Open(b_, Options("b"));
  ASSERT_FALSE(refused) << "opened a pool a live process of this host holds";
  EXPECT_NE(refused.error().message().find(fmt::format("in use by process {} on this host", getppid())),
            std::string::npos)
      << refused.error().message();
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);  // its pid is free now
  Forge(LeaseRecord{.holder = 98, .sequence = stale->sequence + 2, .host_id = LeaseHostId("b"), .interval_ms = 60000,
                    .pid = static_cast<uint32_t>(child), .state = LeaseRecord::State::kHeld, .host_name = "here"});
  auto b = Storage::Open(b_, Options("b"));  // at once: the 60 s interval is never waited for
  ASSERT_TRUE(b) << b.error().ToString();
}

TEST_F(Lease, AHolderWhoseLeaseWasTakenStopsWriting) {
  auto a = Storage::Open(a_, Options("a"));
  ASSERT_TRUE(a) << a.error().ToString();
  auto volume = (*a)->OpenVolume("v");
  ASSERT_TRUE(volume);
  ASSERT_TRUE((*volume)->Write(0, Pattern(1 << 20, 2), false));
  ASSERT_TRUE((*volume)->Flush());
  auto held = Newest();
  ASSERT_TRUE(held);
  // Another host judged a dead and took the pool.
  Forge(LeaseRecord{.holder = 77, .sequence = held->sequence + 100, .host_id = LeaseHostId("b"), .interval_ms = 50,
                    .pid = 1, .state = LeaseRecord::State::kHeld, .host_name = "thief"});
  Status flushed = Ok();
  for (int i = 0; i < 100 && flushed; i++) {  // a renewal (50 ms) notices
    std::this_thread::sleep_for(milliseconds(20));
    flushed = (*volume)->Write(0, Pattern(1 << 20, 3 + i), false);
    if (flushed) flushed = (*volume)->Flush();
  }
  ASSERT_FALSE(flushed) << "a kept writing after its lease was taken";
  EXPECT_NE(flushed.error().message().find("host thief (pid 1) took over the pool's lease"), std::string::npos)
      << flushed.error().message();
  auto newest = Newest();
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->holder, 77u) << "a went on renewing over the taker's record";
}

// A holder cut off from its fastest tier's vdevs (every request to m0 and
// m1 fails) can neither renew nor see a takeover, so it stops writing by
// itself, before another host that watches it may take the pool: every
// write of a that was let through began before b took over.
TEST_F(Lease, AHolderThatCannotRenewStopsWritingBeforeAnotherHostTakesOver) {
  auto config = LoadPoolConfig(a_ + "/pool.conf");
  ASSERT_TRUE(config);
  auto files = OpenVdevs(*config, {.use_io_uring = false});
  ASSERT_TRUE(files);
  std::vector<std::shared_ptr<FaultVdev>> faults;
  std::vector<std::shared_ptr<Vdev>> devices;
  for (auto& f : *files) devices.push_back(faults.emplace_back(std::make_shared<FaultVdev>(f)));
  auto pool = Pool::Open(*config, devices);
  ASSERT_TRUE(pool) << pool.error().ToString();
  const LeaseOptions options{.interval = milliseconds(50), .host_identity = "a"};
  auto lease = PoolLease::Acquire(**pool, options);
  ASSERT_TRUE(lease) << lease.error().ToString();
  ASSERT_TRUE((*lease)->Take());
  (*lease)->Start();
  const PoolVdev* d0 = (*pool)->FindByName("d0");
  ASSERT_NE(d0, nullptr);
  const DiskAddress scratch = DiskAddress::Make(Tier::kSlow, 0, d0->end - 8);  // no volume's
  auto block = Pattern(kBlockSize, 5);
  ASSERT_TRUE((*pool)->Write(scratch, block));

  for (size_t i = 0; i < 2; i++) faults[i]->FailNth(1, /*persistent=*/true);  // m0, m1
  using Clock = std::chrono::steady_clock;
  Clock::time_point taken{};
  std::thread other([&] {  // host b, through its own pool over the same files
    auto pool_b = RawPool();
    ASSERT_TRUE(pool_b);
    auto lease_b = PoolLease::Acquire(*pool_b, {.interval = milliseconds(50), .host_identity = "b"});
    ASSERT_TRUE(lease_b) << lease_b.error().ToString();
    ASSERT_TRUE((*lease_b)->Take());
    taken = Clock::now();
  });
  Clock::time_point last_let_through{};
  Status wrote = Ok();
  for (int i = 0; i < 2000 && wrote; i++) {  // 10 s at most
    const auto start = Clock::now();
    wrote = (*pool)->Write(scratch, block);
    if (wrote) last_let_through = start;
    std::this_thread::sleep_for(milliseconds(5));
  }
  other.join();
  ASSERT_FALSE(wrote) << "a kept writing with its lease unrenewable";
  EXPECT_NE(wrote.error().message().find("its lease could not be renewed in time"), std::string::npos)
      << wrote.error().message();
  ASSERT_NE(taken, Clock::time_point{}) << "b did not take the pool over";
  EXPECT_LT(last_let_through, taken) << "a wrote after b took the pool over";
  ASSERT_TRUE((*lease)->Release());
  auto newest = Newest();
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->host_id, LeaseHostId("b")) << "a's release wrote over b's record";
  EXPECT_EQ(newest->state, LeaseRecord::State::kHeld);
}

}  // namespace
}  // namespace tessera::testing
