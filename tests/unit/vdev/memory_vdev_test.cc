#include "core/vdev/memory_vdev.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/vdev/vdev_test_util.h"

namespace tessera {
namespace {

using testing::AllZero;
using testing::Pattern;

TEST(MemoryVdev, StartsZeroedAndRoundTrips) {
  MemoryVdev vdev(BlockCount{16});
  EXPECT_EQ(vdev.Size().value, 16u);
  AlignedBuffer in(2 * kBlockSize);
  ASSERT_TRUE(vdev.Read(BlockNo{3}, in.span()));
  EXPECT_TRUE(AllZero(in.span()));

  AlignedBuffer out = Pattern(2, 3, 1);
  ASSERT_TRUE(vdev.Write(BlockNo{3}, out.span()));
  ASSERT_TRUE(vdev.Read(BlockNo{3}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), out.size()));
  // Neighbours untouched.
  AlignedBuffer one(kBlockSize);
  ASSERT_TRUE(vdev.Read(BlockNo{5}, one.span()));
  EXPECT_TRUE(AllZero(one.span()));
  ASSERT_TRUE(vdev.Read(BlockNo{2}, one.span()));
  EXPECT_TRUE(AllZero(one.span()));
  EXPECT_TRUE(vdev.Flush());
}

TEST(MemoryVdev, DiscardZeroFills) {
  MemoryVdev vdev(BlockCount{8});
  AlignedBuffer out = Pattern(8, 0, 1);
  ASSERT_TRUE(vdev.Write(BlockNo{0}, out.span()));
  ASSERT_TRUE(vdev.Discard(BlockNo{2}, BlockCount{3}));
  AlignedBuffer in(8 * kBlockSize);
  ASSERT_TRUE(vdev.Read(BlockNo{0}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), 2 * kBlockSize));
  EXPECT_TRUE(AllZero(in.span().subspan(2 * kBlockSize, 3 * kBlockSize)));
  EXPECT_EQ(0, std::memcmp(in.data() + 5 * kBlockSize, out.data() + 5 * kBlockSize,
                           3 * kBlockSize));
}

TEST(MemoryVdev, InvalidBatchFailsWholeAndChangesNothing) {
  MemoryVdev vdev(BlockCount{8});
  AlignedBuffer good = Pattern(1, 0, 1);
  AlignedBuffer bad = Pattern(2, 7, 1);
  IoRequest batch[] = {
      {.op = IoOp::kWrite, .block = BlockNo{0}, .buffer = good.span()},
      {.op = IoOp::kWrite, .block = BlockNo{7}, .buffer = bad.span()},  // Crosses the end.
  };
  Status s = vdev.SubmitBatch(batch);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(batch[0].result.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(batch[1].result.error().code(), Code::kInvalidArgument);
  AlignedBuffer all(8 * kBlockSize);
  ASSERT_TRUE(vdev.Read(BlockNo{0}, all.span()));
  EXPECT_TRUE(AllZero(all.span()));

  EXPECT_EQ(vdev.Discard(BlockNo{UINT64_MAX}, BlockCount{2}).error().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(vdev.Read(BlockNo{8}, all.span().subspan(0, kBlockSize)).error().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(vdev.Write(BlockNo{0}, good.span().subspan(0, 100)).error().code(),
            Code::kInvalidArgument);
}

TEST(MemoryVdev, RandomizedAgainstModel) {
  MemoryVdev vdev(BlockCount{64});
  testing::RunModelTest(vdev, testing::TestSeed(), 3000);
}

}  // namespace
}  // namespace tessera
