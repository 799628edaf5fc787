#include "core/util/align.h"

#include <gtest/gtest.h>

#include "core/util/checksum.h"
#include "core/util/status.h"

namespace tessera {
namespace {

TEST(Align, AlignUpAndDown) {
  EXPECT_EQ(AlignDown(4097, 4096), 4096u);
  EXPECT_EQ(AlignUp(4097, 4096).value(), 8192u);
  EXPECT_EQ(AlignUp(8192, 4096).value(), 8192u);
  EXPECT_FALSE(AlignUp(UINT64_MAX, 4096).has_value());
  EXPECT_TRUE(IsAligned(0, 512));
  EXPECT_FALSE(IsAligned(7, 0));
}

TEST(Align, RangeWithinRejectsOverflow) {
  EXPECT_TRUE(RangeWithin(0, 10, 10));
  EXPECT_FALSE(RangeWithin(1, 10, 10));
  EXPECT_FALSE(RangeWithin(UINT64_MAX - 1, 5, UINT64_MAX));
  EXPECT_EQ(BlocksForBytes(1).value, 1u);
  EXPECT_EQ(BlocksForBytes(4096).value, 1u);
  EXPECT_EQ(BlocksForBytes(4097).value, 2u);
}

TEST(Checksum, DetectsSingleBitFlip) {
  std::string data(4096, 'x');
  uint64_t a = Checksum64(data.data(), data.size());
  data[100] ^= 1;
  EXPECT_NE(a, Checksum64(data.data(), data.size()));
}

Result<int> Half(int v) {
  if (v % 2) return Err(Code::kInvalidArgument, "{} is odd", v);
  return v / 2;
}

Result<int> Quarter(int v) {
  int h = TRY(Half(v));
  return TRY(Half(h));
}

TEST(Status, TryPropagatesErrors) {
  EXPECT_EQ(Quarter(8).value(), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.error().ToString(), "InvalidArgument: 3 is odd");
}

// TRY on a named Result (a request's result, say) must not empty it: the
// caller may read it again after the error has been passed up.
Status PassUp(const Status& named) {
  TRY_STATUS(named);
  return Ok();
}
Result<std::string> PassUpValue(Result<std::string>& named) { return TRY(named); }

TEST(Status, TryLeavesANamedResultIntact) {
  Status failed = Err(Code::kIOError, "disk 3 failed");
  EXPECT_EQ(PassUp(failed).error().message(), "disk 3 failed");
  EXPECT_EQ(failed.error().message(), "disk 3 failed");
  Result<std::string> value = std::string("kept");
  EXPECT_EQ(PassUpValue(value).value(), "kept");
  EXPECT_EQ(value.value(), "kept");
  Result<std::string> error = Err(Code::kCorruption, "bad node");
  EXPECT_EQ(PassUpValue(error).error().message(), "bad node");
  EXPECT_EQ(error.error().message(), "bad node");
}

}  // namespace
}  // namespace tessera
