// CacheSegment behaviour, one property per test: durability
// (docs/architecture.md, Guarantees) at this layer, FUA,
// batching, sub-page writes, read coalescing and read-ahead, trim ordering,
// extents, option checks and the exNode form.
#include "core/segment/cache_segment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "tests/unit/segment/file_segment.h"
#include "tests/unit/segment/segment_test_util.h"

namespace tessera {
namespace {

using testing::Bytes;
using testing::Diff;
using testing::RandomBytes;
using testing::ReadAll;
using testing::RecordingSegment;

struct Stack {
  std::shared_ptr<RecordingSegment> lower;
  std::unique_ptr<CacheSegment> cache;
};

Stack MakeStack(uint64_t size, uint32_t lower_block, CacheOptions options) {
  Stack s;
  s.lower = std::make_shared<RecordingSegment>(size, lower_block);
  auto cache = CacheSegment::Create(1, s.lower, options);
  EXPECT_TRUE(cache) << cache.error().ToString();
  if (cache) s.cache = std::move(*cache);
  return s;
}

CacheOptions Small() {
  return {.page_size = 4096,
          .capacity_bytes = 1 << 20,
          .dirty_max_bytes = 512 << 10,
          .readahead_bytes = 64 << 10,
          .batch_max_bytes = 128 << 10};
}

TEST(CacheSegment, WritesStayInCacheUntilFlush) {
  Stack s = MakeStack(1 << 20, 4096, Small());
  ASSERT_TRUE(s.cache->Write(100, Bytes(5000, 7), kWriteNone));
  EXPECT_TRUE(s.lower->batches().empty());
  std::vector<std::byte> out(5000);
  ASSERT_TRUE(s.cache->Read(100, out));
  EXPECT_EQ(out, Bytes(5000, 7));
  std::vector<std::byte> below(5000);
  ASSERT_TRUE(s.lower->Read(100, below));
  EXPECT_EQ(below, std::vector<std::byte>(5000));  // Write-back: not there yet.
  ASSERT_TRUE(s.cache->Flush());
  ASSERT_TRUE(s.lower->Read(100, below));
  EXPECT_EQ(below, Bytes(5000, 7));
  EXPECT_EQ(s.lower->flushes(), 1u);
  EXPECT_EQ(s.cache->stats().dirty_bytes, 0u);
}

// Durability at this layer: after Flush every write completed before it is
// durable below; a FUA write is durable when Write returns.
TEST(CacheSegment, FlushCoversEveryCompletedWriteAndFuaIsImmediate) {
  const uint64_t seed = testing::TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun: TESSERA_TEST_SEED)");
  std::mt19937_64 rng(seed);
  const uint64_t size = 2 << 20;
  Stack s = MakeStack(size, 512, Small());
  std::vector<std::byte> model(size);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 50; ++i) {
      uint64_t len = 1 + rng() % 20000;
      uint64_t off = rng() % (size - len);
      auto data = RandomBytes(len, rng);
      bool fua = i % 17 == 0;
      ASSERT_TRUE(s.cache->Write(off, data, fua ? kWriteFua : kWriteNone));
      std::copy(data.begin(), data.end(), model.begin() + off);
      if (fua) {
        auto durable = s.lower->durable();
        ASSERT_TRUE(std::equal(data.begin(), data.end(), durable.begin() + off));
      }
    }
    ASSERT_TRUE(s.cache->Flush());
    ASSERT_EQ(Diff(s.lower->durable(), model), "") << "round " << round;
  }
}

TEST(CacheSegment, SmallRandomWritesReachLowerAsFewLargeSortedBatches) {
  const uint64_t size = 64 << 20;
  CacheOptions options{.page_size = 4096,
                       .capacity_bytes = 16 << 20,
                       .dirty_max_bytes = 8 << 20,
                       .readahead_bytes = 0,
                       .batch_max_bytes = 4 << 20};
  Stack s = MakeStack(size, 4096, options);
  std::mt19937_64 rng(7);
  const int kWrites = 20000;
  for (int i = 0; i < kWrites; ++i) {
    uint64_t off = (rng() % (size / 4096)) * 4096;
    ASSERT_TRUE(s.cache->Write(off, Bytes(4096, static_cast<uint8_t>(i)), kWriteNone));
  }
  ASSERT_TRUE(s.cache->Flush());
  auto batches = s.lower->batches();
  uint64_t pages = 0;
  for (const auto& batch : batches) {
    pages += batch.writes.size();
    EXPECT_LE(batch.writes.size() * 4096, options.batch_max_bytes);
    EXPECT_TRUE(std::is_sorted(batch.writes.begin(), batch.writes.end()));
    std::set<uint64_t> distinct;
    for (auto [off, len] : batch.writes) {
      EXPECT_EQ(off % 4096, 0u);
      EXPECT_EQ(len, 4096u);
      distinct.insert(off);
    }
    EXPECT_EQ(distinct.size(), batch.writes.size()) << "a page twice in one batch";
  }
  // 20000 x 4 KiB = 80 MB through an 8 MiB dirty bound in 4 MiB batches:
  // a handful of WriteBlocks calls, each about 4 MiB (the final Flush may
  // hand down a smaller remainder).
  EXPECT_LE(batches.size(), 30u);
  EXPECT_GE(pages / batches.size() * 4096, 2u << 20) << "average batch too small";
  EXPECT_EQ(s.lower->plain_writes(), 0u);
  EXPECT_EQ(s.cache->stats().rmw_read_pages, 0u) << "whole-page writes must not read";
}

TEST(CacheSegment, PartialWriteReadsPageUnlessLowerHasAHole) {
  Stack s = MakeStack(1 << 20, 512, Small());
  // Untouched below: a hole, so the partial page starts from zeros.
  ASSERT_TRUE(s.cache->Write(10, Bytes(20, 1), kWriteNone));
  EXPECT_EQ(s.lower->reads(), 0u);
  EXPECT_EQ(s.cache->stats().rmw_hole_pages, 1u);
  // Data below (written around the cache), page not cached: read first.
  ASSERT_TRUE(s.lower->Write(8192, Bytes(4096, 3), kWriteNone));
  ASSERT_TRUE(s.cache->Write(8192 + 100, Bytes(10, 4), kWriteNone));
  EXPECT_EQ(s.lower->reads(), 1u);
  EXPECT_EQ(s.cache->stats().rmw_read_pages, 1u);
  std::vector<std::byte> out(4096);
  ASSERT_TRUE(s.cache->Read(8192, out));
  std::vector<std::byte> expect = Bytes(4096, 3);
  std::fill(expect.begin() + 100, expect.begin() + 110, std::byte{4});
  EXPECT_EQ(out, expect);
  // A write covering whole pages never reads.
  ASSERT_TRUE(s.lower->Write(16384, Bytes(8192, 5), kWriteNone));
  ASSERT_TRUE(s.cache->Write(16384, Bytes(8192, 6), kWriteNone));
  EXPECT_EQ(s.lower->reads(), 1u);
}

TEST(CacheSegment, MissingRunIsOneLowerReadAndSequentialReadsReadAhead) {
  CacheOptions options = Small();
  options.readahead_bytes = 64 << 10;
  Stack s = MakeStack(4 << 20, 4096, options);
  std::vector<std::byte> out(16 * 4096);
  ASSERT_TRUE(s.cache->Read(0, out));  // Not sequential yet: no read-ahead.
  EXPECT_EQ(s.lower->reads(), 1u);
  EXPECT_EQ(s.lower->read_bytes(), 16u * 4096);
  // Sequential 4 KiB reads: read-ahead in 64 KiB steps, not 4 KiB ones.
  std::vector<std::byte> small(4096);
  for (uint64_t off = 16 * 4096; off < (1 << 20); off += 4096) {
    ASSERT_TRUE(s.cache->Read(off, small));
  }
  uint64_t reads = s.lower->reads() - 1;
  EXPECT_LE(reads, (1u << 20) / (64u << 10) + 1);
  EXPECT_GT(s.cache->stats().readahead_pages, 200u);
}

TEST(CacheSegment, TrimDropsDirtyPagesAndZeroesEdgesBeforeWriteBack) {
  Stack s = MakeStack(1 << 20, 4096, Small());
  ASSERT_TRUE(s.cache->Write(0, Bytes(4 * 4096, 9), kWriteNone));  // pages 0..3 dirty
  ASSERT_TRUE(s.cache->Trim(4096 + 100, 2 * 4096));  // page 2 whole; 1 and 3 partly
  EXPECT_EQ(s.cache->stats().dropped_dirty_pages, 1u);
  ASSERT_TRUE(s.cache->Flush());
  for (const auto& batch : s.lower->batches()) {
    for (auto [off, len] : batch.writes) EXPECT_NE(off, 2u * 4096) << "a trimmed page went down";
  }
  std::vector<std::byte> expect = Bytes(4 * 4096, 9);
  std::fill(expect.begin() + 4096 + 100, expect.begin() + 3 * 4096 + 100, std::byte{0});
  std::vector<std::byte> below(4 * 4096);
  ASSERT_TRUE(s.lower->Read(0, below));
  EXPECT_EQ(Diff(below, expect), "");
  EXPECT_EQ(Diff(s.lower->durable(), [&] {
              auto all = std::vector<std::byte>(1 << 20);
              std::copy(expect.begin(), expect.end(), all.begin());
              return all;
            }()),
            "");
  auto ext = s.cache->Extents(0, 4 * 4096);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{
                      {0, 2 * 4096, false}, {2 * 4096, 4096, true}, {3 * 4096, 4096, false}}));
}

TEST(CacheSegment, ExtentsReportDirtyPagesAsData) {
  Stack s = MakeStack(1 << 20, 4096, Small());
  ASSERT_TRUE(s.cache->Write(3 * 4096 + 5, Bytes(10, 1), kWriteNone));
  auto ext = s.cache->Extents(0, 8 * 4096);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{
                      {0, 3 * 4096, true}, {3 * 4096, 4096, false}, {4 * 4096, 4 * 4096, true}}));
  ext = s.cache->Extents(3 * 4096 + 100, 50);  // Clipped to the asked range.
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{{3 * 4096 + 100, 50, false}}));
}

TEST(CacheSegment, OutOfRangeIsInvalidAndChangesNothing) {
  Stack s = MakeStack(64 << 10, 4096, Small());
  ASSERT_TRUE(s.cache->Write(0, Bytes(64 << 10, 2), kWriteNone));
  ASSERT_TRUE(s.cache->Flush());
  CacheStats before = s.cache->stats();
  for (auto [off, len] :
       {std::pair<uint64_t, uint64_t>{60000, 6000}, {64 << 10, 1}, {UINT64_MAX - 5, 10}}) {
    EXPECT_EQ(s.cache->Write(off, Bytes(len, 9), kWriteFua).error().code(),
              Code::kInvalidArgument);
    std::vector<std::byte> out(len);
    EXPECT_EQ(s.cache->Read(off, out).error().code(), Code::kInvalidArgument);
    EXPECT_EQ(s.cache->Trim(off, len).error().code(), Code::kInvalidArgument);
    EXPECT_EQ(s.cache->Extents(off, len).error().code(), Code::kInvalidArgument);
  }
  CacheStats after = s.cache->stats();
  EXPECT_EQ(after.cached_bytes, before.cached_bytes);
  EXPECT_EQ(after.dirty_bytes, 0u);
  EXPECT_EQ(ReadAll(*s.cache), Bytes(64 << 10, 2));
  EXPECT_EQ(ReadAll(s.lower->memory()), Bytes(64 << 10, 2));
}

TEST(CacheSegment, TruncateDropsPagesPastTheEnd) {
  Stack s = MakeStack(64 << 10, 4096, Small());
  ASSERT_TRUE(s.cache->Write(0, Bytes(64 << 10, 3), kWriteNone));
  ASSERT_TRUE(s.cache->Truncate(10 * 4096));
  EXPECT_EQ(s.cache->Size(), 10u * 4096);
  ASSERT_TRUE(s.cache->Truncate(16 * 4096));
  std::vector<std::byte> expect(16 * 4096);
  std::fill(expect.begin(), expect.begin() + 10 * 4096, std::byte{3});
  EXPECT_EQ(Diff(ReadAll(*s.cache), expect), "");
  ASSERT_TRUE(s.cache->Flush());
  EXPECT_EQ(Diff(ReadAll(s.lower->memory()), expect), "");
  EXPECT_EQ(s.cache->Truncate(1000).error().code(), Code::kInvalidArgument);  // Not whole blocks.
}

TEST(CacheSegment, CreateRejectsBadOptions) {
  auto lower = std::make_shared<RecordingSegment>(1 << 20, 4096);
  auto bad = [&](CacheOptions o) { return CacheSegment::Create(1, lower, o).error().message(); };
  CacheOptions o = Small();
  o.page_size = 6000;
  EXPECT_NE(bad(o).find("page_size"), std::string::npos);
  o = Small();
  o.capacity_bytes = 100;
  EXPECT_NE(bad(o).find("capacity_bytes"), std::string::npos);
  o = Small();
  o.dirty_max_bytes = o.capacity_bytes + 1;
  EXPECT_NE(bad(o).find("dirty_max_bytes"), std::string::npos);
  o = Small();
  o.batch_max_bytes = 1024;
  EXPECT_NE(bad(o).find("batch_max_bytes"), std::string::npos);
  EXPECT_FALSE(CacheSegment::Create(1, nullptr, Small()));
}

TEST(CacheSegment, SignatureAndExnodeForm) {
  testing::TempDir dir;
  auto file = FileSegment::Open(22, dir.File("data"), 1 << 20, true);
  ASSERT_TRUE(file);
  std::shared_ptr<Segment> lower = std::move(*file);
  CacheOptions options = Small();
  auto cache = CacheSegment::Create(11, lower, options);
  ASSERT_TRUE(cache);
  EXPECT_EQ((*cache)->Signature(), "cache(page=4096,dirty_max=524288)/file");
  Exnode ex;
  ASSERT_TRUE((*cache)->Serialize(ex));
  ASSERT_EQ(ex.segments.size(), 2u);
  EXPECT_EQ(ex.segments[0].id, 11u);
  EXPECT_EQ(ex.segments[0].type, SegmentType::kCache);
  EXPECT_EQ(*ex.segments[0].GetU64("segment"), 22u);
  EXPECT_EQ(*ex.segments[0].GetU64("page_size"), 4096u);
  EXPECT_EQ(*ex.segments[0].GetU64("dirty_max"), 524288u);
  EXPECT_EQ(ex.segments[1].id, 22u);
  auto parsed = CacheSegment::OptionsFromExnode(ex.segments[0], CacheOptions{});
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->page_size, 4096u);
  EXPECT_EQ(parsed->dirty_max_bytes, 524288u);
  EXPECT_EQ(parsed->capacity_bytes, CacheOptions{}.capacity_bytes);  // Default kept.
  EXPECT_FALSE(CacheSegment::OptionsFromExnode(ex.segments[1], CacheOptions{}));

  // Over a memory segment (no exNode form): fails and leaves no section.
  auto mem = std::make_shared<MemorySegment>(5, 1 << 20);
  auto over_mem = CacheSegment::Create(12, mem, options);
  ASSERT_TRUE(over_mem);
  Exnode empty;
  EXPECT_FALSE((*over_mem)->Serialize(empty));
  EXPECT_TRUE(empty.segments.empty());
}

}  // namespace
}  // namespace tessera
