// The op registry (core/control/op_table.h, ops.h): the docs' op table, the
// unknown-op error and the request forms on the wire. The exact errors of
// bad requests: dispatch_test.cc.
#include "core/control/op_table.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/control/ops.h"

namespace tessera {
namespace {

constexpr std::string_view kTableStart = "<!-- op table: generated from core/control/ops.h -->\n";
constexpr std::string_view kTableEnd = "<!-- end of op table -->";

std::string ReadDoc() {
  std::ifstream in(std::string(TESSERA_SOURCE_DIR) + "/docs/control-protocol.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(OpTableTest, DocListsEveryOpAsTheRegistryDoes) {
  std::string doc = ReadDoc();
  size_t start = doc.find(kTableStart);
  ASSERT_NE(start, std::string::npos) << "docs/control-protocol.md lacks the op table marker";
  start += kTableStart.size();
  size_t end = doc.find(kTableEnd, start);
  ASSERT_NE(end, std::string::npos);
  std::string table = ControlOpTableMarkdown();
  if (doc.substr(start, end - start) != table) {
    std::ofstream("control-protocol-op-table.md") << table;
    ADD_FAILURE() << "docs/control-protocol.md's op table differs from the registry (ops.h); the "
                     "registry's table is in control-protocol-op-table.md in the test's directory:\n"
                  << table;
  }
}

TEST(OpTableTest, NamesAreUniqueAndFound) {
  std::set<std::string_view> names;
  for (const OpEntry& entry : ControlOpTable()) {
    EXPECT_TRUE(names.insert(entry.name).second) << entry.name;
    EXPECT_EQ(FindControlOp(entry.name), &entry);
  }
  EXPECT_EQ(names.size(), ControlOpTable().size());
  EXPECT_GT(names.size(), 20u);
  EXPECT_EQ(FindControlOp("volume.explode"), nullptr);
}

TEST(OpTableTest, UnknownOpErrorListsTheOps) {
  Error error = UnknownOpError("volume.explode");
  EXPECT_EQ(error.code(), Code::kInvalidArgument);
  // Every op, in table order (the docs' table is checked against the same
  // registry above), ", " between them and " or " before the last.
  EXPECT_TRUE(error.message().starts_with(
      "unknown op 'volume.explode'; expected volume.create, volume.list, volume.info, "))
      << error.message();
  EXPECT_TRUE(error.message().ends_with(", vdev.online, vdev.replace, vdev.add, vdev.grow, vdev.remove or commit")) << error.message();
  for (const OpEntry& entry : ControlOpTable()) {
    EXPECT_NE(error.message().find(entry.name), std::string::npos) << entry.name;
  }
}

// The JSON each request has on the wire (op_table.h contract 1).
TEST(OpTableTest, RequestsHaveTheirWireForm) {
  EXPECT_EQ(RequestJson<ops::VolumeCreate>({.name = "v", .size = 4096, .tier = Tier::kFast}),
            (Json{{"op", "volume.create"}, {"name", "v"}, {"size", 4096}, {"layout", "simple"}, {"tier", "fast"}}));
  EXPECT_EQ(RequestJson<ops::VolumeInspect>({"v", InspectDepth::kFull, true, false}),
            (Json{{"op", "volume.inspect"}, {"name", "v"}, {"depth", "full"}, {"repair", true}, {"progress", false}}));
  EXPECT_EQ(RequestJson<ops::VdevAdd>({.path = "/p/d.img", .size = 1 << 24, .attrs = {{"host", "h"}}}),
            (Json{{"op", "vdev.add"}, {"path", "/p/d.img"}, {"size", 1 << 24}, {"tier", "fastest"},
                  {"attrs", {{"host", "h"}}}}));
  // force is sent only when set: without it, the wire form stays the one
  // that servers without block-device vdevs know.
  EXPECT_EQ(RequestJson<ops::VdevAdd>({.path = "/dev/sdx", .size = 0, .force = true}),
            (Json{{"op", "vdev.add"}, {"path", "/dev/sdx"}, {"size", 0}, {"tier", "fastest"}, {"attrs", Json::object()},
                  {"force", true}}));
  EXPECT_EQ(RequestJson<ops::VdevGrow>({"d", 1 << 25}), (Json{{"op", "vdev.grow"}, {"name", "d"}, {"size", 1 << 25}}));
  EXPECT_EQ(RequestJson<ops::VdevRemove>({"d"}), (Json{{"op", "vdev.remove"}, {"name", "d"}}));
  EXPECT_EQ(RequestJson<ops::PoolRebalance>({}), (Json{{"op", "pool.rebalance"}}));
  EXPECT_EQ(RequestJson<ops::VolumeDiffOp>({"v", "", "b"}), (Json{{"op", "volume.diff"}, {"volume", "v"}, {"to", "b"}}));
  EXPECT_EQ(RequestJson<ops::DiffStream>({"v", "a", "b"}),
            (Json{{"op", "diff.stream"}, {"volume", "v"}, {"from", "a"}, {"to", "b"}}));
  EXPECT_EQ(RequestJson<ops::VolumeFlatten>({"c", 0, 1 << 20}),
            (Json{{"op", "volume.flatten"}, {"name", "c"}, {"offset", 0}, {"max_bytes", 1 << 20}}));
  EXPECT_EQ(RequestJson<ops::SnapshotCreate>({"v", "s"}),
            (Json{{"op", "snapshot.create"}, {"volume", "v"}, {"snapshot", "s"}}));
  EXPECT_EQ(RequestJson<ops::PoolScrub>({true}), (Json{{"op", "pool.scrub"}, {"progress", true}}));
  EXPECT_EQ(RequestJson<ops::VdevList>({}), (Json{{"op", "vdev.list"}}));
}

// One visitor decodes what it encodes, defaults included.
TEST(OpTableTest, RequestsDecodeWhatTheyEncode) {
  ops::InspectArgs sent{"v", InspectDepth::kQuick, true, true};
  Json json = RequestJson<ops::VolumeInspect>(sent);
  auto fields = JsonFields::Of(json, "request");
  ASSERT_TRUE(fields);
  ASSERT_TRUE(fields->String("op"));
  ops::InspectArgs back;
  FieldDecoder decoder(*fields);
  Fields(decoder, back);
  ASSERT_TRUE(decoder.status()) << decoder.status().error().ToString();
  EXPECT_TRUE(fields->NoOtherFields());
  EXPECT_EQ(back.name, "v");
  EXPECT_EQ(back.depth, InspectDepth::kQuick);
  EXPECT_TRUE(back.repair);
  EXPECT_TRUE(back.progress);

  Json bare{{"name", "v"}};
  auto bare_fields = JsonFields::Of(bare, "request");
  ops::FlattenArgs flatten;
  FieldDecoder bare_decoder(*bare_fields);
  Fields(bare_decoder, flatten);
  ASSERT_TRUE(bare_decoder.status());
  EXPECT_EQ(flatten.offset, 0u);
  EXPECT_EQ(flatten.max_bytes, kFlattenStepBytes);
}

}  // namespace
}  // namespace tessera
