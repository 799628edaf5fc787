// Check and ScrubMetadata walk every tree without holding the database's
// lock for the walk (core/db/walk_pin.cc): commits, snapshot create and
// delete, dataset create and delete go on meanwhile, and what the walk and
// a later Check report stays clean.
//
// The liveness measure is exact, not a timing: a forwarding vdev stamps, on
// one clock, the first and the last read the walking thread makes, and the
// other thread stamps the start and the end of each management call. A call
// that starts after the walk's first read and ends before its last read ran
// while the walk was under way; with the lock held for the whole walk there
// can be none. Reads are slowed (as a slow device would) only so that the
// walk lasts long enough for some calls to fit in.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

// One clock for every event of the test, and the walking thread's reads.
struct Probe {
  std::atomic<uint64_t> clock{0};
  std::atomic<std::thread::id> walker{};
  std::atomic<uint64_t> first_walk_read{0};
  std::atomic<uint64_t> last_walk_read{0};
  std::atomic<int64_t> read_latency_us{0};

  uint64_t Tick() { return clock.fetch_add(1) + 1; }
};

// Forwards to `base`; every batch with a read sleeps read_latency_us first,
// and the walking thread's reads are stamped.
class ProbedVdev final : public Vdev {
 public:
  ProbedVdev(std::shared_ptr<Vdev> base, Probe* probe) : base_(std::move(base)), probe_(probe) {}
  BlockCount Size() const override { return base_->Size(); }
  std::string Describe() const override { return "probed:" + base_->Describe(); }
  Status Flush() override { return base_->Flush(); }
  Status SubmitBatch(std::span<IoRequest> batch) override {
    bool reads = std::any_of(batch.begin(), batch.end(), [](const IoRequest& r) { return r.op == IoOp::kRead; });
    if (reads) {
      if (int64_t us = probe_->read_latency_us.load(); us > 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(us));
      }
      if (std::this_thread::get_id() == probe_->walker.load()) {
        uint64_t now = probe_->Tick();
        uint64_t none = 0;
        probe_->first_walk_read.compare_exchange_strong(none, now);
        probe_->last_walk_read.store(now);
      }
    }
    return base_->SubmitBatch(batch);
  }

 private:
  std::shared_ptr<Vdev> base_;
  Probe* probe_;
};

std::string Key(int i) { return fmt::format("key{:06}", i); }

class ConcurrentWalk : public ::testing::Test {
 protected:
  static constexpr int kKeys = 6000;

  // Three vdevs (two copies of every node, on distinct vdevs); two datasets
  // with snapshots, so the walk has a few hundred nodes to read.
  void SetUp() override {
    auto db = std::move(*tp_.Create());
    for (const char* name : {"a", "b"}) {
      Tree& t = (*db->CreateDataset(name))->tree();
      for (int i = 0; i < kKeys; i++) ASSERT_TRUE(t.Insert(Key(i), std::string(50 + i % 40, name[0])));
      ASSERT_TRUE(db->CreateSnapshot(name, "s0"));
      for (int i = 0; i < kKeys; i += 7) ASSERT_TRUE(t.Insert(Key(i), "changed"));
      ASSERT_TRUE(db->Commit());
    }
    live_ = ReadAll((*db->OpenDataset("a"))->tree());
  }

  // Reopens the pool over probed vdevs: the cache is cold, so the walk reads
  // every node from the devices.
  std::unique_ptr<Database> OpenProbed() {
    tp_.Reboot();
    std::vector<std::shared_ptr<Vdev>> devices;
    for (auto& f : tp_.faults) devices.push_back(std::make_shared<ProbedVdev>(f, &probe_));
    auto pool = Pool::Open(tp_.config, devices);
    EXPECT_TRUE(pool) << pool.error().ToString();
    auto db = Database::Open(std::move(*pool), TestPool::SmallOptions());
    EXPECT_TRUE(db) << db.error().ToString();
    return std::move(*db);
  }

  // Runs `walk` in its own thread while this one changes the database, call
  // after call, until the walk returns. Returns how many calls ran wholly
  // between the walk's first and last read.
  uint64_t ChurnDuring(Database& db, const std::function<void()>& walk) {
    probe_.read_latency_us = 3000;
    std::atomic<bool> done{false};
    std::thread walker([&] {
      probe_.walker = std::this_thread::get_id();
      walk();
      probe_.walker = std::thread::id{};
      done = true;
    });
    std::vector<std::pair<uint64_t, uint64_t>> calls;  // (start, end) on the probe's clock
    auto timed = [&](auto&& call) {
      uint64_t start = probe_.Tick();
      call();
      calls.emplace_back(start, probe_.Tick());
    };
    std::deque<std::pair<std::string, Model>> snapshots;  // of "a", oldest first
    std::deque<std::string> scratch;                      // scratch datasets
    int round = 0;
    for (; !done && round < 5000; round++) {
      timed([&] {
        Tree& t = (*db.OpenDataset("a"))->tree();
        for (int i = 0; i < 20; i++) {
          std::string key = Key((round * 37 + i * 101) % kKeys);
          std::string value = fmt::format("r{}i{}", round, i);
          ASSERT_TRUE(t.Insert(key, value));
          live_[key] = value;
        }
        ASSERT_TRUE(db.Commit());
      });
      if (round % 3 == 0) {
        std::string name = fmt::format("c{}", round);
        timed([&] { ASSERT_TRUE(db.CreateSnapshot("a", name)); });
        snapshots.emplace_back(name, live_);
        if (snapshots.size() > 3) {
          timed([&] { ASSERT_TRUE(db.DeleteSnapshot("a", snapshots.front().first)); });
          snapshots.pop_front();
        }
      }
      if (round % 4 == 0) {
        std::string name = fmt::format("tmp{}", round);
        timed([&] {
          Tree& t = (*db.CreateDataset(name))->tree();
          for (int i = 0; i < 200; i++) ASSERT_TRUE(t.Insert(Key(i), name));
          ASSERT_TRUE(db.Commit());
        });
        scratch.push_back(name);
        if (scratch.size() > 2) {
          timed([&] { ASSERT_TRUE(db.DeleteDataset(scratch.front())); });
          scratch.pop_front();
        }
      }
    }
    walker.join();
    probe_.read_latency_us = 0;
    uint64_t first = probe_.first_walk_read.load(), last = probe_.last_walk_read.load();
    uint64_t during = 0;
    for (auto [start, end] : calls) during += start > first && end < last;
    RecordProperty("calls", static_cast<int>(calls.size()));
    std::printf("%zu calls in %d rounds, %lu of them during the walk\n", calls.size(), round,
                static_cast<unsigned long>(during));

    // Afterwards: clean, and every tree reads what it should.
    ExpectClean(db);
    EXPECT_EQ(ReadAll((*db.OpenDataset("a"))->tree()), live_);
    for (const auto& [name, model] : snapshots) {
      auto snap = db.OpenSnapshot("a", name);
      EXPECT_TRUE(snap) << snap.error().ToString();
      if (snap) {
        EXPECT_EQ(ReadAll(**snap), model) << name;
      }
    }
    for (const auto& name : scratch) EXPECT_EQ(ReadAll((*db.OpenDataset(name))->tree()).size(), 200u);
    return during;
  }

  TestPool tp_{3, 16384};
  Probe probe_;
  Model live_;
};

TEST_F(ConcurrentWalk, CommitsGoOnWhileCheckWalks) {
  auto db = OpenProbed();
  uint64_t during = ChurnDuring(*db, [&] {
    auto report = db->Check();
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_TRUE(report->clean()) << report->Summary();
    EXPECT_GT(report->nodes, 100u);
  });
  EXPECT_GT(during, 0u) << "no commit completed while Check walked";
  db.reset();
  ExpectClean(*OpenProbed());
}

TEST_F(ConcurrentWalk, CommitsGoOnWhileScrubWalks) {
  auto db = OpenProbed();
  uint64_t during = ChurnDuring(*db, [&] {
    auto report = db->ScrubMetadata();
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_TRUE(report->clean()) << report->Summary();
    EXPECT_EQ(report->unrecoverable, 0u) << report->Summary();
    EXPECT_GT(report->checked, 100u);
  });
  EXPECT_GT(during, 0u) << "no commit completed while ScrubMetadata walked";
  db.reset();
  ExpectClean(*OpenProbed());
}

}  // namespace
}  // namespace tessera::testing
