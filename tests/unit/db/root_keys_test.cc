// Byte layout of root-tree keys and records (docs/format/root-tree.md):
// integers in keys are big-endian, in values little-endian.
#include "core/db/root_keys.h"

#include <gtest/gtest.h>

namespace tessera::testing {
namespace {

using namespace std::string_literals;

TEST(RootKeys, KeyIntegersAreBigEndian) {
  std::string key = DeadKey(0x0102030405060708, kLiveOwner, 0x10);
  EXPECT_EQ(key,
            "l\x01\x02\x03\x04\x05\x06\x07\x08"s + std::string(8, '\xff') + "\0\0\0\0\0\0\0\x10"s);
  EXPECT_EQ(DeadListsPrefix(0x0102030405060708), key.substr(0, 9));
  EXPECT_EQ(ReadBigEndian(std::string_view(key).substr(1)), 0x0102030405060708u);
  EXPECT_EQ(ReadBigEndian("\x01\x02"), 0x0102u);
  EXPECT_EQ(BitmapKey(0x0a0b), "b\0\0\0\0\0\0\x0a\x0b"s);
}

TEST(RootKeys, DeadEntryIsLittleEndian) {
  DeadEntry entry{
      .birth = 0x0102030405060708, .blocks = 0x0a0b0c0d, .copy_address = 0x1112131415161718};
  std::string encoded = EncodeDeadEntry(entry);
  EXPECT_EQ(encoded,
            "\x08\x07\x06\x05\x04\x03\x02\x01\x0d\x0c\x0b\x0a\x18\x17\x16\x15\x14\x13\x12\x11"s);
  auto decoded = DecodeDeadEntry(encoded);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->birth, entry.birth);
  EXPECT_EQ(decoded->blocks, entry.blocks);
  EXPECT_EQ(decoded->copy_address, entry.copy_address);
}

TEST(RootKeys, SnapshotRecordFields) {
  SnapshotRecord record{.name = "snap", .txg = 0x0102, .created_unix = 0x0304, .guid = 0x0506};
  std::string encoded = EncodeSnapshotRecord(record);
  ASSERT_EQ(encoded.size(), 16 + kBlockPtrV2EncodedSize + 2 + 4 + 8);
  EXPECT_EQ(encoded.substr(0, 16), "\x02\x01\0\0\0\0\0\0\x04\x03\0\0\0\0\0\0"s);
  EXPECT_EQ(encoded.substr(16 + kBlockPtrV2EncodedSize), "\x04\0snap\x06\x05\0\0\0\0\0\0"s);
  auto decoded = DecodeSnapshotRecord(encoded);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->name, "snap");
  EXPECT_EQ(decoded->txg, record.txg);
  EXPECT_EQ(decoded->created_unix, record.created_unix);
  EXPECT_EQ(decoded->guid, record.guid);
}

}  // namespace
}  // namespace tessera::testing
