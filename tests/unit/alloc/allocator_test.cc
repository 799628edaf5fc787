#include "core/alloc/allocator.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/vdev/memory_vdev.h"

namespace tessera {
namespace {

std::unique_ptr<Pool> MakePool(std::vector<std::pair<Tier, uint64_t>> vdevs) {
  PoolConfig config;
  std::array<uint32_t, kTierCount> index{};
  std::vector<std::shared_ptr<Vdev>> devices;
  for (size_t i = 0; i < vdevs.size(); i++) {
    auto [tier, blocks] = vdevs[i];
    config.vdevs.push_back(VdevConfig{.name = fmt::format("v{}", i), .path = fmt::format("/mem/{}", i),
                                      .size_bytes = blocks * kBlockSize, .tier = tier,
                                      .index = index[static_cast<uint8_t>(tier)]++});
    devices.push_back(std::make_shared<MemoryVdev>(BlockCount{blocks}));
  }
  auto pool = Pool::Create(config, devices);
  EXPECT_TRUE(pool) << pool.error().ToString();
  return pool ? std::move(*pool) : nullptr;
}

TEST(SegmentBitmap, FindFreeSkipsAllocatedAndQuarantined) {
  SegmentBitmap bitmap(1000, 3, 999);
  EXPECT_EQ(bitmap.allocated_count(), 4u);
  auto a = bitmap.FindFree(10);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, 3u);
  bitmap.MarkAllocated(*a, 10);
  bitmap.Free(5, 2);
  EXPECT_FALSE(bitmap.RangeFree(5, 2));  // quarantined
  bitmap.ReleaseQuarantine();
  EXPECT_TRUE(bitmap.RangeFree(5, 2));
  EXPECT_FALSE(bitmap.FindFree(1000));
}

TEST(SegmentBitmap, EncodeExcludesAndDecodeRestores) {
  SegmentBitmap a(5000, 3, 4999);
  a.MarkAllocated(100, 50);
  a.MarkAllocated(400, 1);
  std::string bytes = a.Encode({{400, 1}});
  SegmentBitmap b(5000, 3, 4999);
  ASSERT_TRUE(b.Decode(bytes));
  EXPECT_TRUE(b.RangeAllocated(100, 50));
  EXPECT_FALSE(b.IsAllocated(400));
  EXPECT_EQ(b.allocated_count(), a.allocated_count() - 1);
  SegmentBitmap c(4000, 3, 3999);
  EXPECT_FALSE(c.Decode(bytes));
  EXPECT_FALSE(b.Decode(std::string_view(bytes).substr(1)));
}

// vdev grow (allocator.h contract 9): a bitmap stored before the segment
// grew loads into its first blocks; Grow frees the old end label.
TEST(SegmentBitmap, GrowsAndLoadsABitmapStoredBeforeTheGrow) {
  SegmentBitmap old(1000, 3, 999);
  old.MarkAllocated(10, 20);
  std::string bytes = old.Encode({});
  SegmentBitmap grown(3000, 3, 2999);
  ASSERT_TRUE(grown.Decode(bytes));
  EXPECT_EQ(grown.stored_blocks(), 1000u);
  EXPECT_TRUE(grown.dirty());
  EXPECT_TRUE(grown.RangeAllocated(10, 20));
  EXPECT_TRUE(grown.IsAllocated(999));  // the old end label, until settled
  grown.Unreserve(999);
  EXPECT_TRUE(grown.RangeFree(30, 2969));
  EXPECT_TRUE(grown.IsAllocated(2999));
  EXPECT_EQ(grown.allocated_count(), 3u + 20u + 1u);

  old.Grow(3000, 999, 2999);
  EXPECT_EQ(old.blocks(), 3000u);
  EXPECT_TRUE(old.RangeFree(30, 2969));
  EXPECT_TRUE(old.IsAllocated(2999));
  EXPECT_EQ(old.allocated_count(), grown.allocated_count());
  EXPECT_EQ(old.Encode({}), grown.Encode({}));
  SegmentBitmap smaller(500, 3, 499);
  EXPECT_FALSE(smaller.Decode(bytes));  // a vdev never shrinks
}

TEST(Allocator, PrefersTiersInOrderAndRotatesVdevs) {
  auto pool = MakePool({{Tier::kFastest, 4096}, {Tier::kSlow, 4096}, {Tier::kSlow, 4096}});
  Allocator alloc(*pool);
  Tier slow_first[] = {Tier::kSlow, Tier::kFastest};
  auto a = alloc.Allocate(BlockCount{8}, slow_first);
  auto b = alloc.Allocate(BlockCount{8}, slow_first);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->tier(), Tier::kSlow);
  EXPECT_EQ(b->tier(), Tier::kSlow);
  EXPECT_NE(a->vdev(), b->vdev());
  Tier fastest[] = {Tier::kFastest};
  auto c = alloc.Allocate(BlockCount{8}, fastest);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->tier(), Tier::kFastest);
  EXPECT_GE(c->block(), kFirstUsableBlock);
  Tier fast_only[] = {Tier::kFast};
  auto none = alloc.Allocate(BlockCount{1}, fast_only);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kNoSpace);
}

TEST(Allocator, DoubleFreeAndDoubleMarkAreCorruption) {
  auto pool = MakePool({{Tier::kFastest, 4096}});
  Allocator alloc(*pool);
  Tier t[] = {Tier::kFastest};
  DiskAddress a = *alloc.Allocate(BlockCount{4}, t);
  EXPECT_FALSE(alloc.MarkAllocated(a, BlockCount{1}));
  ASSERT_TRUE(alloc.Free(a, BlockCount{4}));
  auto again = alloc.Free(a, BlockCount{4});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), Code::kCorruption);
  EXPECT_FALSE(alloc.Free(DiskAddress::Make(Tier::kFastest, 5, 10), BlockCount{1}));
}

// Contract 11: blocks freed held are free in the persisted bitmaps at once,
// stay unallocatable through every release until Unhold, and are reused
// after the release that follows it.
TEST(Allocator, HeldFreesOutlastReleasesUntilUnhold) {
  auto pool = MakePool({{Tier::kFastest, 4096}});
  Allocator alloc(*pool);
  Tier t[] = {Tier::kFastest};
  DiskAddress held = *alloc.Allocate(BlockCount{8}, t);
  DiskAddress plain = *alloc.Allocate(BlockCount{8}, t);
  ASSERT_TRUE(alloc.FreeHeld(held, BlockCount{8}, 7));
  ASSERT_TRUE(alloc.Free(plain, BlockCount{8}));
  EXPECT_FALSE(alloc.IsAllocated(held, BlockCount{8})) << "a held free is a free on disk";
  EXPECT_EQ(alloc.HeldBlocks(), 8u);
  EXPECT_EQ(alloc.HeldBlocksOn(Tier::kFastest, held.vdev()), 8u);
  EXPECT_EQ(alloc.HeldBlocksOn(Tier::kFastest, held.vdev() + 1), 0u);
  EXPECT_EQ(alloc.HeldBlocksOn(Tier::kSlow, held.vdev()), 0u);
  std::set<uint64_t> handed;
  auto take_all = [&] {
    handed.clear();
    while (auto a = alloc.Allocate(BlockCount{8}, t)) handed.insert(a->raw);
  };
  for (int release = 0; release < 3; release++) {
    alloc.ReleaseQuarantine();
    take_all();
    EXPECT_FALSE(handed.contains(held.raw)) << "handed out while held, after release " << release;
    for (uint64_t a : handed) ASSERT_TRUE(alloc.Free(DiskAddress{a}, BlockCount{8}));
  }
  EXPECT_FALSE(alloc.FreeHeld(held, BlockCount{8}, 8)) << "a double free is refused held or not";
  alloc.Unhold(7);
  alloc.Unhold(99);  // holds nothing
  EXPECT_EQ(alloc.HeldBlocks(), 0u);
  take_all();
  EXPECT_FALSE(handed.contains(held.raw)) << "reused before the release after Unhold";
  for (uint64_t a : handed) ASSERT_TRUE(alloc.Free(DiskAddress{a}, BlockCount{8}));
  alloc.ReleaseQuarantine();
  take_all();
  EXPECT_TRUE(handed.contains(held.raw)) << "never reused after Unhold";
}

// Model test: random allocations and frees against a std::set of owned
// blocks; quarantined blocks are never handed out before release.
TEST(Allocator, RandomizedAgainstModel) {
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    std::mt19937 rng(seed);
    auto pool = MakePool({{Tier::kFastest, 4096}, {Tier::kFast, 5000}});
    ASSERT_TRUE(pool);
    Allocator alloc(*pool);
    std::vector<std::pair<DiskAddress, uint64_t>> live;
    std::set<uint64_t> owned, quarantined;
    Tier pref[] = {Tier::kFastest, Tier::kFast};
    uint64_t usable = (4096 - 4) + (5000 - 4);
    for (int op = 0; op < 40000; op++) {
      uint32_t r = rng() % 100;
      if (r < 55) {
        uint64_t n = 1 + rng() % 16;
        auto a = alloc.Allocate(BlockCount{n}, pref);
        if (!a) {
          ASSERT_EQ(a.error().code(), Code::kNoSpace);
          continue;
        }
        for (uint64_t i = 0; i < n; i++) {
          uint64_t raw = a->raw + i;
          ASSERT_FALSE(owned.count(raw)) << "handed out twice";
          ASSERT_FALSE(quarantined.count(raw)) << "quarantined block reused";
          owned.insert(raw);
        }
        live.emplace_back(*a, n);
      } else if (r < 95 && !live.empty()) {
        size_t i = rng() % live.size();
        auto [a, n] = live[i];
        live.erase(live.begin() + i);
        ASSERT_TRUE(alloc.Free(a, BlockCount{n}));
        for (uint64_t j = 0; j < n; j++) {
          owned.erase(a.raw + j);
          quarantined.insert(a.raw + j);
        }
      } else {
        alloc.ReleaseQuarantine();
        quarantined.clear();
      }
      if (op % 1000 == 0) {
        auto usage = alloc.Usage();
        ASSERT_EQ(usage.allocated_blocks, owned.size() + 8);
        ASSERT_EQ(usage.quarantined_blocks, quarantined.size());
        ASSERT_LE(owned.size() + quarantined.size(), usable);
      }
    }
    // Persist and reload: the reloaded allocator agrees block for block.
    Allocator reloaded(*pool);
    for (SegmentKey key : alloc.AllSegments()) {
      ASSERT_TRUE(reloaded.LoadSegment(key, *alloc.EncodeSegment(key, {})));
    }
    for (uint64_t raw : owned) ASSERT_TRUE(reloaded.IsAllocated(DiskAddress{raw}, BlockCount{1}));
    EXPECT_EQ(reloaded.Usage().allocated_blocks, owned.size() + 8);
  }
}

TEST(Allocator, AccountsPerVdevAndTier) {
  auto pool = MakePool({{Tier::kFastest, 4096}, {Tier::kSlow, 8192}});
  Allocator alloc(*pool);
  Tier slow[] = {Tier::kSlow};
  ASSERT_TRUE(alloc.Allocate(BlockCount{100}, slow));
  EXPECT_EQ(alloc.UsageOfTier(Tier::kSlow).allocated_blocks, 104u);
  EXPECT_EQ(alloc.UsageOfVdev(Tier::kSlow, 0).total_blocks, 8192u);
  EXPECT_EQ(alloc.UsageOfTier(Tier::kFastest).allocated_blocks, 4u);
  EXPECT_EQ(alloc.Usage().total_blocks, 4096u + 8192u);
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

// Second copies of metadata: never on the first copy's vdev, same tier
// first, then the next preferred tier; NoSpace with nowhere else to go.
TEST(Allocator, AllocateApartAvoidsTheFirstCopysVdev) {
  auto pool = MakePool({{Tier::kFastest, 4096}, {Tier::kFastest, 4096}, {Tier::kSlow, 4096}});
  Allocator alloc(*pool);
  const std::vector<Tier> pref = {Tier::kFastest, Tier::kSlow};
  std::set<uint32_t> first_vdevs;
  for (int i = 0; i < 20; i++) {
    auto first = alloc.Allocate(BlockCount{3}, pref);
    ASSERT_TRUE(first);
    first_vdevs.insert(first->vdev());
    auto second = alloc.AllocateApart(BlockCount{3}, pref, *first);
    ASSERT_TRUE(second) << second.error().ToString();
    EXPECT_EQ(second->tier(), Tier::kFastest);
    EXPECT_NE(second->vdev(), first->vdev());
  }
  EXPECT_EQ(first_vdevs.size(), 2u) << "first copies still rotate over the tier";
  // Fill fastest vdev 1: the copy of something on vdev 0 goes to the slow tier.
  while (alloc.AllocateOn(Tier::kFastest, 1, BlockCount{64})) {
  }
  while (alloc.AllocateOn(Tier::kFastest, 1, BlockCount{1})) {
  }
  // Data stops at the metadata reserve (contract 7); copies fill the rest.
  const DiskAddress on_vdev0 = DiskAddress::Make(Tier::kFastest, 0, 10);
  while (alloc.AllocateApart(BlockCount{1}, std::vector<Tier>{Tier::kFastest}, on_vdev0)) {
  }
  auto second = alloc.AllocateApart(BlockCount{3}, pref, DiskAddress::Make(Tier::kFastest, 0, 10));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->tier(), Tier::kSlow);
  auto none = alloc.AllocateApart(BlockCount{3}, std::vector<Tier>{Tier::kFastest},
                                  DiskAddress::Make(Tier::kFastest, 0, 10));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kNoSpace);
}

// Contract 7: data (AllocateOn) leaves the metadata reserve free, and
// metadata (Allocate) can still use it.
TEST(Allocator, DataLeavesTheMetadataReserve) {
  auto pool = MakePool({{Tier::kFastest, 8192}});
  Allocator alloc(*pool);
  while (alloc.AllocateOn(Tier::kFastest, 0, BlockCount{16})) {
  }
  while (alloc.AllocateOn(Tier::kFastest, 0, BlockCount{1})) {
  }
  auto refused = alloc.AllocateOn(Tier::kFastest, 0, BlockCount{1});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kNoSpace);
  EXPECT_NE(refused.error().message().find("kept for metadata"), std::string::npos) << refused.error().message();
  SpaceUsage usage = alloc.UsageOfVdev(Tier::kFastest, 0);
  uint64_t free_blocks = usage.total_blocks - usage.allocated_blocks - usage.quarantined_blocks;
  EXPECT_GE(free_blocks, MetadataReserveBlocks(usage.total_blocks));
  uint64_t metadata = 0;
  const std::vector<Tier> pref = {Tier::kFastest};
  while (alloc.Allocate(BlockCount{1}, pref)) metadata++;
  EXPECT_EQ(metadata, free_blocks) << "metadata could not use the reserve";
}

TEST(Allocator, SingleVdevHasNowhereApart) {
  auto pool = MakePool({{Tier::kFastest, 4096}});
  Allocator alloc(*pool);
  const std::vector<Tier> pref = {Tier::kFastest, Tier::kSlow};
  auto first = alloc.Allocate(BlockCount{1}, pref);
  ASSERT_TRUE(first);
  auto second = alloc.AllocateApart(BlockCount{1}, pref, *first);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), Code::kNoSpace);
}

}  // namespace
}  // namespace tessera
