// CacheSegment under concurrency: writers on disjoint (page-sharing)
// regions with flushes, a page re-dirtied while its write-back is in flight,
// a Trim and a write-around racing an in-flight write-back of the same page.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "core/segment/cache_segment.h"
#include "tests/unit/segment/segment_test_util.h"

namespace tessera {
namespace {

using namespace std::chrono_literals;
using testing::Bytes;
using testing::Diff;
using testing::RandomBytes;
using testing::ReadAll;
using testing::RecordingSegment;

// A one-shot gate: the first WriteBlocks that passes Arm() blocks until
// Release(); the test learns when it is blocked.
class WriteBackGate {
 public:
  void Install(RecordingSegment& lower) {
    lower.set_before_write_blocks([this](std::span<const BlockWrite>) {
      std::unique_lock lock(mu_);
      if (!armed_) return;
      armed_ = false;
      blocked_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    });
  }
  void Arm() {
    std::lock_guard lock(mu_);
    armed_ = true;
  }
  void WaitBlocked() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return blocked_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false, blocked_ = false, released_ = false;
};

// A 1 MiB cache (4 KiB pages, no read-ahead, nothing written back before
// Flush) over a RecordingSegment whose WriteBlocks `gate` can hold.
struct GatedStack {
  GatedStack() {
    gate->Install(*lower);
    auto created = CacheSegment::Create(1, lower, {.page_size = 4096,
                                                   .capacity_bytes = 1 << 20,
                                                   .dirty_max_bytes = 1 << 20,
                                                   .readahead_bytes = 0,
                                                   .batch_max_bytes = 1 << 20});
    EXPECT_TRUE(created);
    if (created) cache = std::move(*created);
  }
  std::shared_ptr<RecordingSegment> lower = std::make_shared<RecordingSegment>(1 << 20, 4096);
  std::unique_ptr<WriteBackGate> gate = std::make_unique<WriteBackGate>();
  std::unique_ptr<CacheSegment> cache;
};

TEST(CacheConcurrency, FourWritersOnDisjointRegionsWithFlushes) {
  const uint64_t seed = testing::TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun: TESSERA_TEST_SEED)");
  const uint64_t size = 4 << 20;
  auto lower = std::make_shared<RecordingSegment>(size, 512);
  auto created = CacheSegment::Create(1, lower,
                                      {.page_size = 4096,
                                       .capacity_bytes = 256 << 10,
                                       .dirty_max_bytes = 64 << 10,
                                       .readahead_bytes = 32 << 10,
                                       .batch_max_bytes = 32 << 10});
  ASSERT_TRUE(created);
  CacheSegment& cache = **created;
  std::vector<std::byte> model(size);
  // Region boundaries are deliberately not page-aligned: neighbours share a
  // page, so their partial writes race on one page.
  const uint64_t region = size / 4 - 1000;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      const uint64_t base = t * region;
      for (int op = 0; op < 1500; ++op) {
        uint64_t len = 1 + rng() % 9000;
        uint64_t off = base + rng() % (region - len);
        int kind = static_cast<int>(rng() % 10);
        if (kind < 6) {
          auto data = RandomBytes(len, rng);
          uint32_t flags = rng() % 20 == 0 ? kWriteFua : kWriteNone;
          if (!cache.Write(off, data, flags)) ++failures;
          std::copy(data.begin(), data.end(), model.begin() + off);  // Own region only.
        } else if (kind < 9) {
          std::vector<std::byte> out(len);
          if (!cache.Read(off, out) ||
              !std::equal(out.begin(), out.end(), model.begin() + off)) {
            ++failures;
          }
        } else if (!cache.Flush()) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(cache.Flush());
  EXPECT_EQ(Diff(ReadAll(cache), model), "");
  EXPECT_EQ(Diff(lower->durable(), model), "");
  EXPECT_GT(cache.stats().writeback_batches, 10u);
  EXPECT_GT(cache.stats().evicted_pages, 0u);
}

// A page written while its write-back is in flight must stay dirty (and the
// in-flight buffer must not change under the lower segment).
TEST(CacheConcurrency, PageRedirtiedDuringWriteBackStaysDirty) {
  GatedStack stack;
  ASSERT_TRUE(stack.cache);
  auto& [lower, gate, cache_ptr] = stack;
  CacheSegment& cache = *cache_ptr;
  ASSERT_TRUE(cache.Write(0, Bytes(4096, 1), kWriteNone));
  gate->Arm();
  auto flushed = std::async(std::launch::async, [&] { return cache.Flush(); });
  gate->WaitBlocked();  // The page is in flight with contents 1.
  ASSERT_TRUE(cache.Write(0, Bytes(100, 2), kWriteNone));
  gate->Release();
  ASSERT_TRUE(flushed.get());
  auto first_page = [&] {
    auto durable = lower->durable();
    return std::vector<std::byte>(durable.begin(), durable.begin() + 4096);
  };
  std::vector<std::byte> expect = Bytes(4096, 1);
  EXPECT_EQ(Diff(first_page(), expect), "")
      << "the in-flight buffer changed under the lower segment";
  EXPECT_EQ(cache.stats().dirty_bytes, 4096u) << "re-dirtied page was marked clean";
  ASSERT_TRUE(cache.Flush());
  std::fill(expect.begin(), expect.begin() + 100, std::byte{2});
  EXPECT_EQ(Diff(first_page(), expect), "");
}

// Trim must not let an older write-back of the same page land after
// lower->Trim: it waits for the write-back in flight.
TEST(CacheConcurrency, TrimWaitsForInFlightWriteBack) {
  GatedStack stack;
  ASSERT_TRUE(stack.cache);
  auto& [lower, gate, cache_ptr] = stack;
  CacheSegment& cache = *cache_ptr;
  ASSERT_TRUE(cache.Write(0, Bytes(8192, 5), kWriteNone));
  gate->Arm();
  auto flushed = std::async(std::launch::async, [&] { return cache.Flush(); });
  gate->WaitBlocked();
  std::atomic<bool> trimmed{false};
  auto trim = std::async(std::launch::async, [&] {
    Status s = cache.Trim(0, 8192);
    trimmed = true;
    return s;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(trimmed.load()) << "Trim ran while an older write-back was in flight";
  gate->Release();
  ASSERT_TRUE(flushed.get());
  ASSERT_TRUE(trim.get());
  EXPECT_EQ(Diff(ReadAll(lower->memory()), std::vector<std::byte>(1 << 20)), "");
  EXPECT_EQ(Diff(ReadAll(cache), std::vector<std::byte>(1 << 20)), "");
}

// A write-around (a large aligned write handed straight down) must not let
// an older write-back of the same pages land after it: it waits for the
// write-back in flight, then supersedes the cached pages.
TEST(CacheConcurrency, WriteAroundWaitsForInFlightWriteBack) {
  GatedStack stack;
  ASSERT_TRUE(stack.cache);
  auto& [lower, gate, cache_ptr] = stack;
  CacheSegment& cache = *cache_ptr;
  const uint64_t big = cache.options().write_around_bytes;
  ASSERT_GT(big, 8192u);
  ASSERT_TRUE(cache.Write(0, Bytes(8192, 5), kWriteNone));
  gate->Arm();
  auto flushed = std::async(std::launch::async, [&] { return cache.Flush(); });
  gate->WaitBlocked();
  std::atomic<bool> written{false};
  auto around = std::async(std::launch::async, [&] {
    Status s = cache.Write(0, Bytes(big, 7), kWriteNone);
    written = true;
    return s;
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(written.load()) << "the write-around ran while an older write-back was in flight";
  gate->Release();
  ASSERT_TRUE(flushed.get());
  ASSERT_TRUE(around.get());
  EXPECT_EQ(cache.stats().write_around_writes, 1u);
  std::vector<std::byte> expect(1 << 20);
  std::fill(expect.begin(), expect.begin() + big, std::byte{7});
  EXPECT_EQ(Diff(ReadAll(lower->memory()), expect), "");
  EXPECT_EQ(Diff(ReadAll(cache), expect), "");
}

}  // namespace
}  // namespace tessera
