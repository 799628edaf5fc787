// LunSegment::FromExnode against sizes whose row (n_devices x
// max_block_size) wraps 64 bits: rows are found by dividing by it, and a
// product of zero divided by zero (found while fuzzing exNodes).
#include <gtest/gtest.h>

#include "core/exnode/exnode.h"
#include "core/segment/lun_segment.h"

namespace tessera {
namespace {

Exnode LunExnode(uint64_t n_devices, uint64_t max_block_size) {
  Exnode exnode;
  ExnodeSegment lun{.id = 5, .type = SegmentType::kLun};
  lun.Add("n_devices", std::to_string(n_devices));
  lun.Add("chunk_size", "4096");
  lun.Add("max_block_size", std::to_string(max_block_size));
  lun.Add("row", "0:0:0:1:0:2:0");
  exnode.segments.push_back(lun);
  return exnode;
}

TEST(LunExnodeBounds, RowSizeWrappingToZeroIsRefused) {
  // 2 x 2^63 = 2^64: row_bytes() was 0 and the row check divided by it.
  Exnode exnode = LunExnode(2, uint64_t{1} << 63);
  auto lun = LunSegment::FromExnode(exnode, exnode.segments[0], nullptr, nullptr);
  ASSERT_FALSE(lun);
  EXPECT_EQ(lun.error().code(), Code::kInvalidArgument);
  EXPECT_NE(lun.error().message().find("exceeds"), std::string::npos) << lun.error().ToString();
}

TEST(LunExnodeBounds, RowSizeWrappingToAnotherValueIsRefused) {
  // 3 x 2^62 wraps to 2^62: a row size nobody wrote.
  Exnode exnode = LunExnode(3, uint64_t{1} << 62);
  auto lun = LunSegment::FromExnode(exnode, exnode.segments[0], nullptr, nullptr);
  ASSERT_FALSE(lun);
  EXPECT_NE(lun.error().message().find("exceeds"), std::string::npos) << lun.error().ToString();
}

TEST(LunExnodeBounds, LargeRowsThatFitStillCheckTheirRows) {
  // 1 EiB rows are accepted as sizes; the row text then fails its own check.
  Exnode exnode = LunExnode(1, uint64_t{1} << 60);
  auto lun = LunSegment::FromExnode(exnode, exnode.segments[0], nullptr, nullptr);
  ASSERT_FALSE(lun);
  EXPECT_NE(lun.error().message().find("is not a"), std::string::npos) << lun.error().ToString();
}

}  // namespace
}  // namespace tessera
