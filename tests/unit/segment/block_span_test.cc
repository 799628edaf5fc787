#include "core/segment/block_span.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace tessera {
namespace {

BlockSpan Split(uint64_t offset, uint64_t length, uint64_t block) {
  auto span = SplitBlockSpan(offset, length, block);
  EXPECT_TRUE(span) << span.error().ToString();
  return span ? *span : BlockSpan{};
}

constexpr ByteRange kEmpty{};

TEST(BlockSpan, AlignedBoth) {
  BlockSpan s = Split(8192, 8192, 4096);
  EXPECT_TRUE(s.head.empty());
  EXPECT_EQ(s.body, (ByteRange{8192, 8192}));
  EXPECT_TRUE(s.tail.empty());
  EXPECT_EQ(s.Covering(), (ByteRange{8192, 8192}));
}

TEST(BlockSpan, ExactlyOneBlockIsBody) {
  BlockSpan s = Split(4096, 4096, 4096);
  EXPECT_TRUE(s.head.empty());
  EXPECT_EQ(s.body, (ByteRange{4096, 4096}));
  EXPECT_TRUE(s.tail.empty());
}

TEST(BlockSpan, UnalignedStartOnly) {
  BlockSpan s = Split(100, 8092, 4096);  // [100, 8192)
  EXPECT_EQ(s.head, (ByteRange{100, 3996}));
  EXPECT_EQ(s.body, (ByteRange{4096, 4096}));
  EXPECT_TRUE(s.tail.empty());
  EXPECT_EQ(s.Covering(), (ByteRange{0, 8192}));
}

TEST(BlockSpan, UnalignedEndOnly) {
  BlockSpan s = Split(4096, 4196, 4096);  // [4096, 8292)
  EXPECT_TRUE(s.head.empty());
  EXPECT_EQ(s.body, (ByteRange{4096, 4096}));
  EXPECT_EQ(s.tail, (ByteRange{8192, 100}));
  EXPECT_EQ(s.Covering(), (ByteRange{4096, 8192}));
}

TEST(BlockSpan, UnalignedBothWithBody) {
  BlockSpan s = Split(4000, 4296, 4096);  // [4000, 8296)
  EXPECT_EQ(s.head, (ByteRange{4000, 96}));
  EXPECT_EQ(s.body, (ByteRange{4096, 4096}));
  EXPECT_EQ(s.tail, (ByteRange{8192, 104}));
}

TEST(BlockSpan, UnalignedBothAdjacentBlocksNoBody) {
  BlockSpan s = Split(4000, 200, 4096);  // [4000, 4200): crosses one boundary
  EXPECT_EQ(s.head, (ByteRange{4000, 96}));
  EXPECT_TRUE(s.body.empty());
  EXPECT_EQ(s.tail, (ByteRange{4096, 104}));
  EXPECT_EQ(s.Covering(), (ByteRange{0, 8192}));
}

TEST(BlockSpan, InsideOneBlockIsAllHead) {
  for (auto [off, len] : {std::pair<uint64_t, uint64_t>{5000, 10}, {4096, 10}, {8000, 192}}) {
    BlockSpan s = Split(off, len, 4096);
    EXPECT_EQ(s.head, (ByteRange{off, len})) << off;
    EXPECT_TRUE(s.body.empty()) << off;
    EXPECT_TRUE(s.tail.empty()) << off;
    EXPECT_EQ(s.Covering(), (ByteRange{4096, 4096})) << off;
  }
}

TEST(BlockSpan, EmptyRange) {
  BlockSpan s = Split(12345, 0, 4096);
  EXPECT_TRUE(s.head.empty());
  EXPECT_TRUE(s.body.empty());
  EXPECT_TRUE(s.tail.empty());
}

TEST(BlockSpan, NonPowerOfTwoBlock) {
  BlockSpan s = Split(5, 30, 10);  // [5, 35)
  EXPECT_EQ(s.head, (ByteRange{5, 5}));
  EXPECT_EQ(s.body, (ByteRange{10, 20}));
  EXPECT_EQ(s.tail, (ByteRange{30, 5}));
}

TEST(BlockSpan, ZeroBlockSizeIsInvalid) {
  auto s = SplitBlockSpan(0, 10, 0);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
}

TEST(BlockSpan, OverflowIsInvalid) {
  auto wrap = SplitBlockSpan(UINT64_MAX - 10, 20, 4096);
  ASSERT_FALSE(wrap);
  EXPECT_EQ(wrap.error().code(), Code::kInvalidArgument);
  EXPECT_NE(wrap.error().message().find("overflows"), std::string::npos);
  // The end fits, but rounding it up to a whole block does not.
  auto round = SplitBlockSpan(UINT64_MAX - 10, 5, 4096);
  ASSERT_FALSE(round);
  EXPECT_EQ(round.error().code(), Code::kInvalidArgument);
  // The last whole block below 2^64 is fine.
  uint64_t last = UINT64_MAX - UINT64_MAX % 4096 - 4096;
  auto ok = SplitBlockSpan(last, 4096, 4096);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->body, (ByteRange{last, 4096}));
}

// Invariants 1-4 of block_span.h over random ranges and block sizes.
TEST(BlockSpan, RandomRangesSatisfyInvariants) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    uint64_t block = 1 + rng() % 9000;
    uint64_t offset = rng() % 100000;
    uint64_t length = rng() % 30000;
    BlockSpan s = Split(offset, length, block);
    SCOPED_TRACE(testing::Message() << offset << "+" << length << " @" << block);
    // 1: in order, contiguous, exact cover.
    uint64_t at = offset;
    for (const ByteRange& r : {s.head, s.body, s.tail}) {
      if (r.empty()) continue;
      ASSERT_EQ(r.offset, at);
      at = r.end();
    }
    ASSERT_EQ(at, offset + length);
    // 2: body aligned.
    if (!s.body.empty()) {
      ASSERT_EQ(s.body.offset % block, 0u);
      ASSERT_EQ(s.body.length % block, 0u);
    }
    // 3: head and tail lie inside one block each and do not cover it.
    for (const ByteRange& r : {s.head, s.tail}) {
      if (r.empty()) continue;
      ASSERT_EQ(r.offset / block, (r.end() - 1) / block);
      ASSERT_FALSE(r.offset % block == 0 && r.length == block);
    }
    if (!s.tail.empty()) {
      ASSERT_EQ(s.tail.offset % block, 0u);
    }
    // 4: distinct blocks.
    if (!s.head.empty() && !s.tail.empty()) {
      ASSERT_NE(s.head.offset / block, s.tail.offset / block);
    }
  }
  EXPECT_EQ(kEmpty.length, 0u);
}

}  // namespace
}  // namespace tessera
