#include "core/segment/memory_segment.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/segment/segment_test_util.h"

namespace tessera {
namespace {

using testing::Bytes;
using testing::ReadAll;

TEST(MemorySegment, StartsZeroAndHole) {
  MemorySegment seg(1, 10000, 512);
  EXPECT_EQ(seg.Size(), 10000u);
  EXPECT_EQ(seg.BlockSize(), 512u);
  EXPECT_EQ(ReadAll(seg), std::vector<std::byte>(10000));
  auto ext = seg.Extents(0, 10000);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{{0, 10000, true}}));
}

TEST(MemorySegment, WriteMapsTouchedBlocksAndTrimUnmapsWholeOnes) {
  MemorySegment seg(1, 4096, 512);
  ASSERT_TRUE(seg.Write(500, Bytes(600, 7), kWriteNone));  // blocks 0..2
  auto ext = seg.Extents(0, 4096);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{{0, 1536, false}, {1536, 2560, true}}));
  // Clipped to the asked range.
  ext = seg.Extents(100, 1500);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{{100, 1436, false}, {1536, 64, true}}));

  ASSERT_TRUE(seg.Trim(510, 1000));  // [510, 1510): only block 1 whole
  ext = seg.Extents(0, 4096);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{
                      {0, 512, false}, {512, 512, true}, {1024, 512, false}, {1536, 2560, true}}));
  std::vector<std::byte> expect(4096);
  for (int i = 500; i < 510; ++i) expect[i] = std::byte{7};  // The write ended at 1100.
  EXPECT_EQ(ReadAll(seg), expect);
}

TEST(MemorySegment, OutOfRangeIsInvalidAndChangesNothing) {
  MemorySegment seg(1, 8192, 4096);
  ASSERT_TRUE(seg.Write(0, Bytes(8192, 3), kWriteNone));
  for (auto [off, len] : {std::pair<uint64_t, uint64_t>{8000, 200}, {8192, 1}, {UINT64_MAX, 2}}) {
    auto w = seg.Write(off, Bytes(len, 9), kWriteNone);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code(), Code::kInvalidArgument);
    std::vector<std::byte> out(len);
    EXPECT_EQ(seg.Read(off, out).error().code(), Code::kInvalidArgument);
    EXPECT_EQ(seg.Trim(off, len).error().code(), Code::kInvalidArgument);
    EXPECT_EQ(seg.Extents(off, len).error().code(), Code::kInvalidArgument);
  }
  EXPECT_EQ(ReadAll(seg), Bytes(8192, 3));
}

TEST(MemorySegment, WriteBlocksIsAllOrNothing) {
  MemorySegment seg(1, 8192, 4096);
  std::vector<std::byte> a = Bytes(4096, 1);
  std::vector<std::byte> bad = Bytes(100, 2);
  BlockWrite batch[] = {{0, a}, {4096, bad}};
  auto s = seg.WriteBlocks(batch);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(ReadAll(seg), std::vector<std::byte>(8192));
  BlockWrite good[] = {{4096, a}};
  ASSERT_TRUE(seg.WriteBlocks(good));
  EXPECT_EQ(ReadAll(seg)[5000], std::byte{1});
}

TEST(MemorySegment, TruncateShrinkThenGrowReadsZeros) {
  MemorySegment seg(1, 8192, 4096);
  ASSERT_TRUE(seg.Write(0, Bytes(8192, 5), kWriteNone));
  ASSERT_TRUE(seg.Truncate(5000));
  EXPECT_EQ(seg.Size(), 5000u);
  ASSERT_TRUE(seg.Truncate(12288));
  std::vector<std::byte> expect(12288);
  for (int i = 0; i < 5000; ++i) expect[i] = std::byte{5};
  EXPECT_EQ(ReadAll(seg), expect);
  auto ext = seg.Extents(0, 12288);
  ASSERT_TRUE(ext);
  EXPECT_EQ(*ext, (std::vector<SegmentExtent>{{0, 8192, false}, {8192, 4096, true}}));
}

TEST(MemorySegment, HasNoExnodeForm) {
  MemorySegment seg(1, 4096);
  Exnode ex;
  auto s = seg.Serialize(ex);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  EXPECT_NE(s.error().message().find("memory segments have no exNode form"), std::string::npos);
  EXPECT_TRUE(ex.segments.empty());
}

}  // namespace
}  // namespace tessera
