// Caches sharing one MemoryBudget (contract 11 of core/segment/cache_segment.h):
// what they hold together stays within the budget, the largest gives way
// first, dirty bytes stay near the budget's dirty limit, and no data is lost.
#include <gtest/gtest.h>

#include <random>

#include "core/segment/cache_segment.h"
#include "core/util/memory_budget.h"
#include "tests/unit/segment/segment_test_util.h"

namespace tessera {
namespace {

using testing::RandomBytes;
using testing::RecordingSegment;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kSize = 4 << 20;          // each cache's lower segment
constexpr uint64_t kBudget = 64 * kPage;     // shared by both caches
constexpr uint64_t kChunkSlack = 64 * kPage;  // one chunk (capacity / 4) added before a reclaim

struct Pair {
  std::shared_ptr<MemoryBudget> budget = std::make_shared<MemoryBudget>(kBudget);
  std::shared_ptr<RecordingSegment> lower[2];
  std::unique_ptr<CacheSegment> cache[2];

  Pair() {
    for (int i = 0; i < 2; i++) {
      lower[i] = std::make_shared<RecordingSegment>(kSize, 4096);
      auto made = CacheSegment::Create(static_cast<uint64_t>(i + 1), lower[i],
                                       {.page_size = kPage,
                                        .capacity_bytes = 1 << 20,
                                        .dirty_max_bytes = 1 << 20,
                                        .readahead_bytes = 8 * kPage,
                                        .batch_max_bytes = 64 << 10,
                                        .write_around_bytes = 0,
                                        .budget = budget});
      EXPECT_TRUE(made) << made.error().ToString();
      cache[i] = std::move(*made);
    }
  }
  uint64_t cached() const { return cache[0]->stats().cached_bytes + cache[1]->stats().cached_bytes; }
  uint64_t dirty() const { return cache[0]->stats().dirty_bytes + cache[1]->stats().dirty_bytes; }
};

TEST(CacheBudget, TwoCachesHoldNoMoreThanTheBudgetAndTheLargestGivesWay) {
  Pair p;
  std::mt19937_64 rng(5);
  auto data = RandomBytes(kSize, rng);
  for (int i = 0; i < 2; i++) {
    ASSERT_TRUE(p.lower[i]->Write(0, data, kWriteNone));
  }
  // Small sequential reads fill the cache by read-ahead (a miss with
  // nothing cached goes around it: contract 10).
  std::vector<std::byte> page(kPage / 2);
  // Cache 0 reads 200 pages alone: it keeps no more than the budget.
  for (uint64_t n = 0; n < 400; n++) {
    ASSERT_TRUE(p.cache[0]->Read(n * kPage / 2, page));
    ASSERT_TRUE(std::equal(page.begin(), page.end(), data.begin() + static_cast<ptrdiff_t>(n * kPage / 2)));
    ASSERT_LE(p.cached(), kBudget) << "after read " << n;
  }
  EXPECT_GE(p.cache[0]->stats().cached_bytes, kBudget / 2);
  // Then cache 1 reads: cache 0, the larger, gives its pages up.
  for (uint64_t n = 0; n < 96; n++) {
    ASSERT_TRUE(p.cache[1]->Read(n * kPage / 2, page));
    ASSERT_TRUE(std::equal(page.begin(), page.end(), data.begin() + static_cast<ptrdiff_t>(n * kPage / 2)));
    ASSERT_LE(p.cached(), kBudget) << "after read " << n << " of cache 1";
  }
  // Largest first: the two end with about half each.
  EXPECT_GE(p.cache[1]->stats().cached_bytes, kBudget / 2 - 4 * kPage)
      << "cache 0 holds " << p.cache[0]->stats().cached_bytes << ", budget used " << p.budget->used();
  EXPECT_LE(p.cache[0]->stats().cached_bytes, kBudget / 2 + 4 * kPage);
  EXPECT_LE(p.budget->used(), kBudget);
  EXPECT_GT(p.budget->reclaims(), 0u);
}

TEST(CacheBudget, DirtyBytesStayNearTheDirtyLimitAndNothingIsLost) {
  Pair p;
  std::mt19937_64 rng(9);
  std::vector<std::byte> model[2] = {std::vector<std::byte>(kSize), std::vector<std::byte>(kSize)};
  for (int op = 0; op < 600; op++) {
    int i = static_cast<int>(rng() % 2);
    uint64_t at = (rng() % (kSize / kPage)) * kPage;
    auto bytes = RandomBytes(kPage, rng);
    ASSERT_TRUE(p.cache[i]->Write(at, bytes, kWriteNone));
    std::copy(bytes.begin(), bytes.end(), model[i].begin() + static_cast<ptrdiff_t>(at));
    ASSERT_LE(p.dirty(), p.budget->dirty_limit() + kPage) << "after write " << op;
    ASSERT_LE(p.cached(), kBudget + kChunkSlack) << "after write " << op;
  }
  for (int i = 0; i < 2; i++) {
    ASSERT_TRUE(p.cache[i]->Flush());
    std::vector<std::byte> all(kSize);
    ASSERT_TRUE(p.cache[i]->Read(0, all));
    EXPECT_TRUE(all == model[i]) << "cache " << i << " read back";
    ASSERT_TRUE(p.lower[i]->Read(0, all));
    EXPECT_TRUE(all == model[i]) << "below cache " << i;
  }
}

TEST(CacheBudget, ACacheLeavingTheBudgetGivesBackWhatItHeld) {
  Pair p;
  std::vector<std::byte> page(kPage / 2);
  for (uint64_t n = 0; n < 64; n++) ASSERT_TRUE(p.cache[1]->Read(n * kPage / 2, page));
  EXPECT_GE(p.budget->used(), 32 * kPage);
  p.cache[1].reset();
  p.cache[0].reset();
  EXPECT_EQ(p.budget->used(), 0u);
  EXPECT_EQ(p.budget->dirty(), 0u);
}

}  // namespace
}  // namespace tessera
