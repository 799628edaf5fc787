#include <gtest/gtest.h>

#include <set>

#include "core/exnode/exnode.h"

namespace tessera {
namespace {

// A volume: cache -> log (log + data) -> jerasure -> lun of 3 blocks, and a
// file segment for the log's own records.
constexpr std::string_view kRealistic =
    "[exnode]\n"
    "name=vm-disk-01\n"
    "id=7340032123456789\n"
    "\n"
    "[view]\n"
    "default=100\n"
    "segment=100\n"
    "segment=300\n"
    "\n"
    "[segment-100]\n"
    "type=cache\n"
    "segment=200\n"
    "page_size=65536\n"
    "\n"
    "[segment-200]\n"
    "type=log\n"
    "log=400\n"
    "data=300\n"
    "volume_id=17\n"
    "\n"
    "[segment-300]\n"
    "type=jerasure\n"
    "segment=500\n"
    "method=cauchy_good\n"
    "data_devices=2\n"
    "parity_devices=1\n"
    "\n"
    "[segment-400]\n"
    "type=file\n"
    "path=/var/lib/tessera/log-400\n"
    "\n"
    "[segment-500]\n"
    "type=lun\n"
    "n_devices=3\n"
    "chunk_size=16384\n"
    "query_default=1:tier:1:FAST:1.1:name:65:any:3.3:any:3:any:3\n"
    "row=0:3145727:1048576:11:0:12:0:13:0\n"
    "row=3145728:6291455:1048576:13:1048576:11:1048576:12:1048576\n"
    "\n"
    "[block-11]\n"
    "read_cap=tessera://fast0/11#r\n"
    "write_cap=tessera://fast0/11#w\n"
    "manage_cap=tessera://fast0/11#m\n"
    "size=2097152\n"
    "max_size=4194304\n"
    "vdev=fast0\n"
    "ref_count=1\n"
    "\n"
    "[block-12]\n"
    "read_cap=r12\n"
    "write_cap=w12\n"
    "manage_cap=m12\n"
    "size=2097152\n"
    "max_size=4194304\n"
    "vdev=fast1\n"
    "\n"
    "[block-13]\n"
    "read_cap=\n"
    "write_cap=\n"
    "manage_cap=\n"
    "size=0\n"
    "max_size=4194304\n"
    "vdev=0:2:17\n";

TEST(ExnodeText, RealisticRoundTripIsExact) {
  auto ex = ParseExnode(kRealistic);
  ASSERT_TRUE(ex.has_value()) << ex.error().ToString();
  EXPECT_EQ(ex->name, "vm-disk-01");
  EXPECT_EQ(ex->id, 7340032123456789u);
  EXPECT_EQ(ex->default_segment, 100u);
  EXPECT_EQ(ex->view_segments, (std::vector<uint64_t>{100, 300}));
  ASSERT_EQ(ex->segments.size(), 5u);
  ASSERT_EQ(ex->blocks.size(), 3u);
  EXPECT_EQ(ex->segments[4].type, SegmentType::kLun);
  EXPECT_EQ(ex->blocks[2].vdev, "0:2:17");
  EXPECT_EQ(ex->blocks[0].extra, (std::vector<KeyValue>{{"ref_count", "1"}}));

  auto text = SerializeExnode(*ex);
  ASSERT_TRUE(text.has_value()) << text.error().ToString();
  EXPECT_EQ(*text, kRealistic);
  auto again = ParseExnode(*text);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, *ex);
}

TEST(ExnodeText, TypedAccessors) {
  auto ex = ParseExnode(kRealistic);
  ASSERT_TRUE(ex.has_value());
  const ExnodeSegment* lun = ex->FindSegment(500);
  ASSERT_NE(lun, nullptr);
  EXPECT_EQ(lun->GetU64("chunk_size").value(), 16384u);
  EXPECT_EQ(lun->GetString("query_default").value(),
            "1:tier:1:FAST:1.1:name:65:any:3.3:any:3:any:3");
  auto rows = lun->GetAll("row");
  ASSERT_EQ(rows.size(), 2u);
  auto row = ParseLunRow(rows[1]);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->seg_offset, 3145728u);
  EXPECT_EQ(row->seg_end, 6291455u);
  EXPECT_EQ(row->row_len, 1048576u);
  EXPECT_EQ(row->devices, (std::vector<LunRowDevice>{{13, 1048576}, {11, 1048576}, {12, 1048576}}));
  EXPECT_EQ(row->ToString(), rows[1]);

  auto missing = lun->GetU64("nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_EQ(missing.error().message(), "[segment-500] key 'nope' missing");

  auto repeated = lun->GetString("row");
  ASSERT_FALSE(repeated.has_value());
  EXPECT_EQ(repeated.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(repeated.error().message(), "[segment-500] key 'row' appears 2 times; expected one");

  auto not_number = lun->GetU64("query_default");
  ASSERT_FALSE(not_number.has_value());
  EXPECT_EQ(not_number.error().code(), Code::kInvalidArgument);
  EXPECT_NE(not_number.error().message().find("[segment-500] key 'query_default'"),
            std::string::npos);

  EXPECT_EQ(ex->FindBlock(11)->GetU64("ref_count").value(), 1u);
  EXPECT_EQ(ex->FindBlock(12)->GetString("ref_count").error().code(), Code::kNotFound);
  EXPECT_TRUE(ex->FindSegment(400)->GetAll("row").empty());
  EXPECT_EQ(ex->FindSegment(999), nullptr);
}

TEST(ExnodeText, CommentsBlanksCrlfAndOrderAreNotPreserved) {
  std::string messy =
      "# a volume\r\n"
      "; another comment\n"
      "[block-5]\n"
      "  read_cap = a=b#c;d  \n"
      "write_cap=w\nmanage_cap=m\nsize=1\nmax_size=2\nvdev=v\n"
      "\n\n"
      "[segment-9]\r\n"
      "type=lun\r\n"
      "row=0:9:10:5:0\r\n"
      "[view]\n"
      "segment=9\n"
      "default=9\n"
      "[exnode]\n"
      "id=0\n"
      "name=\n";
  auto ex = ParseExnode(messy);
  ASSERT_TRUE(ex.has_value()) << ex.error().ToString();
  EXPECT_EQ(ex->blocks[0].read_cap, "a=b#c;d");
  EXPECT_EQ(ex->name, "");
  auto text = SerializeExnode(*ex);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "[exnode]\nname=\nid=0\n\n[view]\ndefault=9\nsegment=9\n\n[segment-9]\ntype=lun\n"
            "row=0:9:10:5:0\n\n[block-5]\nread_cap=a=b#c;d\nwrite_cap=w\nmanage_cap=m\nsize=1\n"
            "max_size=2\nvdev=v\n");
  EXPECT_EQ(ParseExnode(*text).value(), *ex);
}

TEST(ExnodeText, LunRowErrorsNameTheField) {
  EXPECT_EQ(ParseLunRow("0:9:10:5").error().message(),
            "row '0:9:10:5' has 4 fields; expected seg_offset:seg_end:row_len followed by "
            "block:offset pairs");
  EXPECT_EQ(ParseLunRow("0:9:10:x:0").error().message(),
            "row '0:9:10:x:0' field 4 (block 1): id 'x' is not a 63-bit integer");
  EXPECT_EQ(ParseLunRow("0:9:10:5:0:6:-1").error().message(),
            "row '0:9:10:5:0:6:-1' field 7 (offset 2): '-1' is not an unsigned decimal integer");
  EXPECT_EQ(ParseLunRow("10:9:10:5:0").error().message(),
            "row '10:9:10:5:0': seg_end 9 is before seg_offset 10");
}

TEST(ExnodeIds, ParseId63Bounds) {
  EXPECT_EQ(ParseId63("9223372036854775807").value(), kMaxId63);
  EXPECT_FALSE(ParseId63("9223372036854775808").has_value());
  EXPECT_FALSE(ParseId63("18446744073709551616").has_value());
  EXPECT_FALSE(ParseId63("007").has_value());
  EXPECT_FALSE(ParseId63("+7").has_value());
  EXPECT_FALSE(ParseId63("").has_value());
  EXPECT_EQ(ParseId63("0").value(), 0u);
  EXPECT_EQ(ParseId63("abc").error().message(), "id 'abc' is not a 63-bit integer");
}

TEST(ExnodeIds, RandomId63IsInRangeAndVaries) {
  std::set<uint64_t> seen;
  bool high_half = false;
  for (int i = 0; i < 1000; ++i) {
    uint64_t id = RandomId63();
    EXPECT_GE(id, 1u);
    EXPECT_LE(id, kMaxId63);
    high_half = high_half || id > (kMaxId63 >> 1);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_TRUE(high_half);  // uses the 63rd bit
}

TEST(ExnodeModel, SerializeRejectsUnrepresentableModels) {
  Exnode ex;
  ex.id = 1;
  ex.default_segment = 2;
  ex.view_segments = {2};
  ex.segments.push_back({2, SegmentType::kFile, {{"path", "/x"}}});
  ASSERT_TRUE(SerializeExnode(ex).has_value());

  auto bad = ex;
  bad.name = " padded";
  EXPECT_EQ(SerializeExnode(bad).error().message(),
            "[exnode] key 'name' value has a line break, NUL or leading/trailing blank");
  bad = ex;
  bad.segments[0].params.push_back({"type", "lun"});
  EXPECT_EQ(SerializeExnode(bad).error().message(), "[segment-2] key 'type' repeated");
  bad = ex;
  bad.segments[0].params.push_back({"a b", "1"});
  EXPECT_EQ(SerializeExnode(bad).error().message(),
            "[segment-2] key 'a b' is not [A-Za-z0-9_.:-]+");
  bad = ex;
  bad.segments[0].params[0].value = "two\nlines";
  EXPECT_EQ(SerializeExnode(bad).error().code(), Code::kInvalidArgument);
  bad = ex;
  bad.id = kMaxId63 + 1;
  EXPECT_EQ(SerializeExnode(bad).error().message(), "[exnode] id 9223372036854775808 exceeds 63 bits");
  bad = ex;
  bad.blocks.push_back({7, "r", "w", "m", 1, 1, "v", {{"size", "3"}}});
  EXPECT_EQ(SerializeExnode(bad).error().message(),
            "[block-7] extra key 'size' is invalid or reserved");
  bad = ex;
  bad.segments.push_back(bad.segments[0]);
  EXPECT_EQ(SerializeExnode(bad).error().message(), "duplicate section [segment-2]");
}

}  // namespace
}  // namespace tessera
