// The data segment registry (core/volume/data_segment_types.h): each
// layout is made by one type, and an exNode names its layout back.
#include <gtest/gtest.h>

#include "core/segment/jerasure_segment.h"
#include "core/volume/data_segment_types.h"

namespace tessera {
namespace {

// The exNode a volume of `layout` gets: a log over the made data segment.
Exnode ExnodeOf(const std::string& layout_text, SegmentType* made_type) {
  VolumeLayout layout = *ParseVolumeLayout(layout_text);
  LunOptions lun{.n_devices = layout.devices, .chunk_size = layout.chunk, .max_block_size = 4 * layout.chunk};
  auto data = MakeDataSegment(layout, lun, nullptr, nullptr);
  EXPECT_TRUE(data) << data.error().ToString();
  Exnode exnode{.id = 5, .name = "v"};
  ExnodeSegment log{.id = 1, .type = SegmentType::kLog};
  log.Add("size", "4096");
  log.Add("data", std::to_string((*data)->id()));
  exnode.segments.push_back(log);
  EXPECT_TRUE((*data)->Serialize(exnode));
  *made_type = (*data)->type();
  return exnode;
}

TEST(DataSegmentTypes, EachLayoutIsMadeAndDescribedBack) {
  struct Case {
    std::string layout;
    SegmentType type;
    uint32_t parity;
  };
  for (const Case& c : {Case{"simple", SegmentType::kLun, 0}, Case{"stripe:3", SegmentType::kLun, 0},
                        Case{"rs:4+2", SegmentType::kJerasure, 2}, Case{"mirror:2", SegmentType::kJerasure, 1},
                        Case{"mirror:3", SegmentType::kJerasure, 2}}) {
    SCOPED_TRACE(c.layout);
    SegmentType made{};
    Exnode exnode = ExnodeOf(c.layout, &made);
    EXPECT_EQ(made, c.type);
    auto sections = FindDataSections(exnode, "v");
    ASSERT_TRUE(sections) << sections.error().ToString();
    EXPECT_EQ(sections->type->type, c.type);
    EXPECT_EQ(sections->lun->type, SegmentType::kLun);
    EXPECT_EQ(*sections->type->describe(*sections->data, *sections->lun), c.layout);
    EXPECT_EQ(*sections->type->parity(*sections->data), c.parity);
    auto opened = OpenDataSegment(exnode, *sections, nullptr, nullptr);
    ASSERT_TRUE(opened) << opened.error().ToString();
    EXPECT_EQ((*opened)->parity(), c.parity);
    EXPECT_EQ(&(*opened)->lun(), &(*opened)->lun().lun()) << "the lun is its own lun";
  }
}

TEST(DataSegmentTypes, ALogOverANonDataSegmentIsCorruptionNamingTheVolume) {
  SegmentType made{};
  Exnode exnode = ExnodeOf("simple", &made);
  ExnodeSegment cache{.id = 77, .type = SegmentType::kCache};
  exnode.segments.push_back(cache);
  for (ExnodeSegment& s : exnode.segments) {
    if (s.type != SegmentType::kLog) continue;
    s.params.clear();
    s.Add("size", "4096");
    s.Add("data", "77");
  }
  auto sections = FindDataSections(exnode, "vol7");
  ASSERT_FALSE(sections);
  EXPECT_EQ(sections.error().code(), Code::kCorruption);
  EXPECT_NE(sections.error().message().find("vol7"), std::string::npos) << sections.error().ToString();
  EXPECT_NE(sections.error().message().find("not a data segment"), std::string::npos) << sections.error().ToString();
}

TEST(DataSegmentTypes, AnExnodeWithoutALogIsCorruption) {
  Exnode exnode{.id = 5, .name = "v"};
  auto sections = FindDataSections(exnode, "v");
  ASSERT_FALSE(sections);
  EXPECT_EQ(sections.error().code(), Code::kCorruption);
}

}  // namespace
}  // namespace tessera
