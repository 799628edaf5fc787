// Randomized model test: CacheSegment over a RecordingSegment (a
// MemorySegment) against a flat byte array, under small page, capacity and
// dirty settings so that eviction, write-back, read-ahead and
// read-modify-write all happen, and a check that they did.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/segment/cache_segment.h"
#include "tests/unit/segment/segment_test_util.h"

namespace tessera {
namespace {

using testing::Diff;
using testing::RandomBytes;
using testing::RecordingSegment;

struct ModelSetting {
  const char* name;
  uint64_t size;
  uint32_t lower_block;
  CacheOptions options;
};

std::ostream& operator<<(std::ostream& os, const ModelSetting& s) { return os << s.name; }

class CacheModelTest : public ::testing::TestWithParam<ModelSetting> {};

bool IsZero(const std::vector<std::byte>& model, uint64_t offset, uint64_t length) {
  return std::all_of(model.begin() + offset, model.begin() + offset + length,
                     [](std::byte b) { return b == std::byte{0}; });
}

TEST_P(CacheModelTest, MatchesFlatByteArray) {
  const ModelSetting& setting = GetParam();
  const uint64_t seed = testing::TestSeed();
  SCOPED_TRACE("cache model seed " + std::to_string(seed) + " (rerun: TESSERA_TEST_SEED)");
  std::mt19937_64 rng(seed);

  auto lower = std::make_shared<RecordingSegment>(setting.size, setting.lower_block);
  auto created = CacheSegment::Create(1, lower, setting.options);
  ASSERT_TRUE(created) << created.error().ToString();
  CacheSegment& cache = **created;
  const uint64_t size = setting.size;
  const uint64_t page = setting.options.page_size;
  std::vector<std::byte> model(size);
  uint64_t last_read_end = 0;

  auto random_range = [&](uint64_t max_len) {
    uint64_t len = 1 + rng() % max_len;
    if (rng() % 4 == 0) len = page * (1 + rng() % 4);  // Whole pages.
    len = std::min(len, size);
    uint64_t off = rng() % (size - len + 1);
    if (rng() % 3 == 0) off -= off % page;  // Page-aligned start.
    return std::pair{off, len};
  };

  for (int op = 0; op < 5000; ++op) {
    SCOPED_TRACE("op " + std::to_string(op));
    int kind = static_cast<int>(rng() % 100);
    if (kind < 45) {
      auto [off, len] = random_range(3 * page);
      auto data = RandomBytes(len, rng);
      bool fua = rng() % 10 == 0;
      ASSERT_TRUE(cache.Write(off, data, fua ? kWriteFua : kWriteNone));
      std::copy(data.begin(), data.end(), model.begin() + off);
      if (fua) {
        // FUA: in the lower segment's durable image when Write returns.
        auto durable = lower->durable();
        ASSERT_TRUE(std::equal(data.begin(), data.end(), durable.begin() + off))
            << "FUA write " << off << "+" << len << " not durable";
      }
      if (rng() % 4 == 0) {
        // Just written: must not be reported as a hole.
        auto ext = cache.Extents(off, len);
        ASSERT_TRUE(ext);
        for (const SegmentExtent& e : *ext) ASSERT_FALSE(e.hole) << e.offset << "+" << e.length;
      }
    } else if (kind < 75) {
      uint64_t off, len;
      if (rng() % 3 == 0 && last_read_end < size) {  // Sequential: exercises read-ahead.
        off = last_read_end;
        len = std::min<uint64_t>(1 + rng() % (2 * page), size - off);
      } else {
        std::tie(off, len) = random_range(4 * page);
      }
      std::vector<std::byte> out(len);
      ASSERT_TRUE(cache.Read(off, out));
      ASSERT_TRUE(std::equal(out.begin(), out.end(), model.begin() + off))
          << "read " << off << "+" << len << " differs from the model";
      last_read_end = off + len;
    } else if (kind < 85) {
      auto [off, len] = random_range(4 * page);
      bool aligned = rng() % 2 == 0;
      if (aligned) {
        off -= off % page;
        len = std::min(size - off, (len + page - 1) / page * page);
      }
      ASSERT_TRUE(cache.Trim(off, len));
      std::fill(model.begin() + off, model.begin() + off + len, std::byte{0});
      if (aligned && (off + len) % setting.lower_block == 0) {
        auto ext = cache.Extents(off, len);
        ASSERT_TRUE(ext);
        ASSERT_EQ(*ext, (std::vector<SegmentExtent>{{off, len, true}}))
            << "page-aligned trim " << off << "+" << len << " is not one hole";
      }
    } else if (kind < 92) {
      auto [off, len] = random_range(8 * page);
      auto ext = cache.Extents(off, len);
      ASSERT_TRUE(ext);
      uint64_t at = off;
      for (const SegmentExtent& e : *ext) {
        ASSERT_EQ(e.offset, at) << "extents leave a gap or overlap";
        ASSERT_GT(e.length, 0u);
        if (e.hole) {
          ASSERT_TRUE(IsZero(model, e.offset, e.length)) << "hole holds data";
        }
        at += e.length;
      }
      ASSERT_EQ(at, off + len);
    } else {
      ASSERT_TRUE(cache.Flush());
      ASSERT_EQ(Diff(lower->durable(), model), "") << "after Flush the lower image differs (durability)";
    }
  }
  ASSERT_TRUE(cache.Flush());
  EXPECT_EQ(Diff(lower->durable(), model), "");
  EXPECT_EQ(Diff(testing::ReadAll(cache), model), "");

  // The interesting paths really ran.
  CacheStats stats = cache.stats();
  EXPECT_GT(stats.evicted_pages, 0u);
  EXPECT_GT(stats.writeback_batches, 0u);
  EXPECT_GT(stats.read_hit_pages, 0u);
  EXPECT_GT(stats.read_miss_pages, 0u);
  EXPECT_GT(stats.rmw_read_pages, 0u);
  EXPECT_GT(stats.rmw_hole_pages, 0u);
  EXPECT_GT(stats.fua_writes, 0u);
  if (setting.options.readahead_bytes >= page) {
    EXPECT_GT(stats.readahead_pages, 0u);
  }
  EXPECT_EQ(stats.dirty_bytes, 0u);
  EXPECT_LE(stats.cached_bytes, setting.options.capacity_bytes);
  if (setting.options.write_around_bytes == 0) {
    EXPECT_EQ(lower->plain_writes(), 0u) << "the cache writes below only with WriteBlocks";
  } else {
    EXPECT_GT(stats.write_around_writes, 0u);
    EXPECT_EQ(lower->plain_writes(), stats.write_around_writes)
        << "plain writes below are write-arounds only";
  }
  if (setting.options.readahead_bytes == 0) {
    EXPECT_GT(stats.bypass_reads, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Settings, CacheModelTest,
    ::testing::Values(
        ModelSetting{"page512_tiny", 64 << 10, 512,
                     {.page_size = 512,
                      .capacity_bytes = 8 << 10,
                      .dirty_max_bytes = 2 << 10,
                      .readahead_bytes = 2 << 10,
                      .batch_max_bytes = 1 << 10,
                      .write_around_bytes = 0}},
        ModelSetting{"page4k_lower512", 256 << 10, 512,
                     {.page_size = 4096,
                      .capacity_bytes = 32 << 10,
                      .dirty_max_bytes = 16 << 10,
                      .readahead_bytes = 16 << 10,
                      .batch_max_bytes = 8 << 10,
                      .write_around_bytes = 2 * 4096}},
        ModelSetting{"write_through", 32 << 10, 1024,
                     {.page_size = 1024,
                      .capacity_bytes = 4 << 10,
                      .dirty_max_bytes = 0,
                      .readahead_bytes = 0,
                      .batch_max_bytes = 1 << 10,
                      .write_around_bytes = 0}},
        ModelSetting{"page8k_short_last_page", (1 << 20) - 4096, 4096,
                     {.page_size = 8192,
                      .capacity_bytes = 64 << 10,
                      .dirty_max_bytes = 32 << 10,
                      .readahead_bytes = 32 << 10,
                      .batch_max_bytes = 64 << 10,
                      .write_around_bytes = 3 * 8192}}),
    [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace tessera
