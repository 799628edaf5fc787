// Every validation error of ParseExnode, with the line it names.
#include <gtest/gtest.h>

#include "core/exnode/exnode.h"

namespace tessera {
namespace {

// Lines:              1          2        3    4  5        6          7
constexpr std::string_view kHead = "[exnode]\nname=v\nid=1\n\n[view]\ndefault=10\nsegment=10\n";
// Lines:               8    9               10        11
constexpr std::string_view kFile = "\n[segment-10]\ntype=file\npath=/x\n";

std::string ErrorOf(std::string_view text) {
  auto ex = ParseExnode(text);
  if (ex.has_value()) return "<parsed>";
  EXPECT_EQ(ex.error().code(), Code::kInvalidArgument);
  return ex.error().message();
}

std::string Valid() { return std::string(kHead) + std::string(kFile); }

TEST(ExnodeErrors, BaseIsValid) { ASSERT_EQ(ErrorOf(Valid()), "<parsed>"); }

TEST(ExnodeErrors, Syntax) {
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\njunk\n"), "line 3: expected key=value or [section], got 'junk'");
  EXPECT_EQ(ErrorOf("# c\nname=v\n"), "line 2: key 'name' appears before any [section]");
  EXPECT_EQ(ErrorOf("[exnode\n"), "line 1: malformed section header '[exnode'");
  EXPECT_EQ(ErrorOf("[]\n"), "line 1: malformed section header '[]'");
  EXPECT_EQ(ErrorOf("[exnode]\nbad key=1\n"), "line 2: key 'bad key' is not [A-Za-z0-9_.:-]+");
  EXPECT_EQ(ErrorOf("[exnode]\n=1\n"), "line 2: key '' is not [A-Za-z0-9_.:-]+");
  EXPECT_EQ(ErrorOf(std::string("[exnode]\nname=a\0b\n", 16)), "line 2: contains a NUL byte");
}

TEST(ExnodeErrors, Sections) {
  EXPECT_EQ(ErrorOf(Valid() + "\n[volume]\n"),
            "line 13: unknown section kind [volume] (expected exnode, view, segment-ID or "
            "block-ID)");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-10]\ntype=file\n"),
            "line 12: duplicate section [segment-10] (first at line 9)");
  EXPECT_EQ(ErrorOf(Valid() + "[view]\n"), "line 12: duplicate section [view] (first at line 5)");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-abc]\ntype=file\n"),
            "line 12: [segment-abc]: id 'abc' is not a 63-bit integer");
  EXPECT_EQ(ErrorOf(Valid() + "[block-9223372036854775808]\n"),
            "line 12: [block-9223372036854775808]: id '9223372036854775808' is not a 63-bit "
            "integer");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-010]\ntype=file\n"),
            "line 12: [segment-010]: id '010' is not a 63-bit integer");
  EXPECT_EQ(ErrorOf(std::string(kFile) + "[view]\ndefault=10\nsegment=10\n"),
            "line 7: input ends with no [exnode] section");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1"), "line 3: input ends with no [view] section");
}

TEST(ExnodeErrors, ExnodeAndViewKeys) {
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=abc\n"), "line 3: id 'abc' is not a 63-bit integer");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\n[view]\n"), "line 1: [exnode] key 'id' missing");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\nid=2\n"),
            "line 4: [exnode] key 'id' repeated (first at line 3)");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\nsize=2\n"), "line 4: [exnode] unknown key 'size'");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\n[view]\nsegment=10\n"),
            "line 4: [view] key 'default' missing");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\n[view]\ndefault=10\nsegment=x\n"),
            "line 6: id 'x' is not a 63-bit integer");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\n[view]\ndefault=10\nfoo=1\n"),
            "line 6: [view] unknown key 'foo'");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\n[view]\ndefault=10\n" + std::string(kFile)),
            "line 4: [view] lists no segment");
}

TEST(ExnodeErrors, ViewReferences) {
  std::string text = Valid();
  EXPECT_EQ(ErrorOf(std::string("[exnode]\nname=v\nid=1\n\n[view]\ndefault=11\nsegment=10\n") +
                    std::string(kFile)),
            "line 6: [view] default 11 names no [segment-11] section");
  EXPECT_EQ(ErrorOf(std::string(kHead) + "segment=12\n" + std::string(kFile)),
            "line 8: [view] segment 12 names no [segment-12] section");
  EXPECT_EQ(ErrorOf(std::string(kHead) + "segment=10\n" + std::string(kFile)),
            "line 8: [view] segment 10 listed twice");
  EXPECT_EQ(ErrorOf("[exnode]\nname=v\nid=1\n\n[view]\ndefault=11\nsegment=10\n" +
                    std::string(kFile) + "[segment-11]\ntype=file\n"),
            "line 6: [view] default 11 is not one of the view's segments");
}

TEST(ExnodeErrors, Segments) {
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\npath=/y\n"), "line 12: [segment-12] key 'type' missing");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=raid\n"),
            "line 13: [segment-12] unknown segment type 'raid' (expected file, lun, cache, log "
            "or jerasure)");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=file\ntype=lun\n"),
            "line 14: [segment-12] key 'type' repeated (first at line 13)");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=lun\nrow=0:9:10:5:0\n"),
            "line 14: [segment-12] row 1 references block 5 which does not exist");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=lun\nn=1\nrow=0:9:10:5\n"),
            "line 15: [segment-12] row 1: row '0:9:10:5' has 4 fields; expected "
            "seg_offset:seg_end:row_len followed by block:offset pairs");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=cache\nsegment=13\n"),
            "line 14: [segment-12] key 'segment' references segment 13 which does not exist");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=cache\nsegment=12\n"),
            "line 14: [segment-12] key 'segment' references the segment itself");
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=log\ndata=x\n"),
            "line 14: [segment-12] key 'data': id 'x' is not a 63-bit integer");
  // 12 -> 13 -> 14 -> 12
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=cache\nsegment=13\n"
                              "[segment-13]\ntype=log\nlog=10\ndata=14\n"
                              "[segment-14]\ntype=jerasure\nsegment=12\n"),
            "line 12: segment reference cycle: 12 -> 13 -> 14 -> 12");
  // A file segment's "segment" key is no reference.
  EXPECT_EQ(ErrorOf(Valid() + "[segment-12]\ntype=file\nsegment=99\n"), "<parsed>");
}

TEST(ExnodeErrors, Blocks) {
  const std::string block = "[block-5]\nread_cap=r\nwrite_cap=w\nmanage_cap=m\nsize=1\nmax_size=2\nvdev=v\n";
  ASSERT_EQ(ErrorOf(Valid() + block), "<parsed>");
  EXPECT_EQ(ErrorOf(Valid() + "[block-5]\nread_cap=r\n"), "line 12: [block-5] key 'write_cap' missing");
  EXPECT_EQ(ErrorOf(Valid() + block + "size=3\n"),
            "line 19: [block-5] key 'size' repeated (first at line 16)");
  EXPECT_EQ(ErrorOf(Valid() + "[block-5]\nread_cap=r\nwrite_cap=w\nmanage_cap=m\nsize=-1\n"
                              "max_size=2\nvdev=v\n"),
            "line 16: [block-5] key 'size': '-1' is not an unsigned decimal integer");
  EXPECT_EQ(ErrorOf(Valid() + "[block-5]\nread_cap=r\nwrite_cap=w\nmanage_cap=m\nsize=3\n"
                              "max_size=2\nvdev=v\n"),
            "line 16: [block-5] size 3 exceeds max_size 2");
  EXPECT_EQ(ErrorOf(Valid() + "[block-5]\nread_cap=r\nwrite_cap=w\nmanage_cap=m\nsize=1\n"
                              "max_size=2\nvdev=\n"),
            "line 12: [block-5] key 'vdev' is empty");
  EXPECT_EQ(ErrorOf(Valid() + block + "max_size=99999999999999999999\n"),
            "line 19: [block-5] key 'max_size' repeated (first at line 17)");
  EXPECT_EQ(ErrorOf(Valid() + block + block),
            "line 19: duplicate section [block-5] (first at line 12)");
}

}  // namespace
}  // namespace tessera
