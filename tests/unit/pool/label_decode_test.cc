// DecodeLabel against hostile labels: blocks that verify (magic, checksum)
// but carry sizes the pool cannot lay out (found by fuzz/label_fuzz.cc).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "core/pool/label.h"
#include "core/pool/pool.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"

namespace tessera {
namespace {

Result<VdevLabel> RoundTrip(uint64_t size_blocks) {
  VdevLabel label{.vdev_guid = 9, .tier = Tier::kFast, .index = 1, .size_blocks = size_blocks, .name = "v"};
  std::array<std::byte, kBlockSize> block;
  EncodeLabel(label, block);
  return DecodeLabel(block);
}

TEST(LabelDecode, ZeroBlocksIsCorruptionNotAWrappedEnd) {
  // Pool::Open sets the vdev's end to size_blocks - 1: zero would wrap.
  auto label = RoundTrip(0);
  ASSERT_FALSE(label);
  EXPECT_EQ(label.error().code(), Code::kCorruption);
  EXPECT_NE(label.error().message().find("out of range"), std::string::npos) << label.error().ToString();
}

TEST(LabelDecode, SizesTooSmallForTheReservedBlocksAreRefused) {
  for (uint64_t blocks = 1; blocks < kFirstUsableBlock + 2; blocks++) {
    EXPECT_FALSE(RoundTrip(blocks)) << blocks;
  }
  EXPECT_TRUE(RoundTrip(kFirstUsableBlock + 2));
}

TEST(LabelDecode, SizesPastTheAddressableBlocksAreRefused) {
  EXPECT_TRUE(RoundTrip(kMaxBlock + 1));
  EXPECT_FALSE(RoundTrip(kMaxBlock + 2));
  EXPECT_FALSE(RoundTrip(UINT64_MAX));
}

TEST(LabelDecode, NameFillingTheWholeFieldIsRefused) {
  // EncodeLabel writes at most 63 name bytes and a NUL; 64 bytes without a
  // NUL would decode to a name that does not encode back to the same block.
  std::array<std::byte, kBlockSize> block;
  EncodeLabel(VdevLabel{.size_blocks = 100, .name = "v"}, block);
  std::fill(block.begin() + 56, block.begin() + 56 + kLabelNameBytes, std::byte{'x'});
  PutU64(block.data() + kLabelChecksumOffset, Checksum64(block.data(), kLabelChecksumOffset));
  auto label = DecodeLabel(block);
  ASSERT_FALSE(label);
  EXPECT_EQ(label.error().code(), Code::kCorruption);
}

}  // namespace
}  // namespace tessera
