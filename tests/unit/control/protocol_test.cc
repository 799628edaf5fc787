#include "core/control/protocol.h"

#include <gtest/gtest.h>

#include "core/control/json_fields.h"
#include "core/control/ops.h"

namespace tessera {
namespace {

VolumeInfo SampleVolume(std::string name = "vol1") {
  return VolumeInfo{.name = std::move(name),
                    .id = 7,
                    .size = 10ull << 30,
                    .layout = "stripe:2",
                    .tier = "slow",
                    .mapped_bytes = 4096,
                    .allocated_bytes = 32ull << 20,
                    .open = true,
                    .origin = "vol0@base"};
}

bool Equal(const VolumeInfo& a, const VolumeInfo& b) {
  return a.name == b.name && a.id == b.id && a.size == b.size && a.layout == b.layout &&
         a.tier == b.tier && a.mapped_bytes == b.mapped_bytes &&
         a.allocated_bytes == b.allocated_bytes && a.open == b.open && a.origin == b.origin;
}

TEST(Protocol, VolumeInfoRoundTrips) {
  VolumeInfo info = SampleVolume();
  auto back = FromJson<VolumeInfo>(ToJson(info));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_TRUE(Equal(*back, info));

  std::vector<VolumeInfo> list = {SampleVolume("a"), SampleVolume("b")};
  auto list_back = ListFromJson<VolumeInfo>(ToJson(list));
  ASSERT_TRUE(list_back);
  ASSERT_EQ(list_back->size(), 2u);
  EXPECT_TRUE(Equal((*list_back)[1], list[1]));
  EXPECT_TRUE(ListFromJson<VolumeInfo>(ToJson(std::vector<VolumeInfo>{}))->empty());
}

TEST(Protocol, PoolStatusRoundTripsWithVdevAttributes) {
  PoolStatus status{.name = "default",
                    .uuid = "6364cc94-b751-03fa-2a13-0ca99a7f4d7c",
                    .txg = 42,
                    .size_bytes = 2ull << 30,
                    .used_bytes = 1 << 20,
                    .free_bytes = (2ull << 30) - (1 << 20),
                    .vdevs = {VdevStatus{.name = "vdev0",
                                         .path = "/p/vdev0.img",
                                         .tier = "fastest",
                                         .index = 3,
                                         .size_bytes = 1ull << 30,
                                         .used_bytes = 4096,
                                         .state = "online",
                                         .attrs = {{"host", "h1"}, {"kind", "ssd"}}}},
                    .volumes = 5};
  auto back = FromJson<PoolStatus>(ToJson(status));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->name, status.name);
  EXPECT_EQ(back->uuid, status.uuid);
  EXPECT_EQ(back->txg, 42u);
  EXPECT_EQ(back->free_bytes, status.free_bytes);
  EXPECT_EQ(back->volumes, 5u);
  ASSERT_EQ(back->vdevs.size(), 1u);
  EXPECT_EQ(back->vdevs[0].index, 3u);
  EXPECT_EQ(back->vdevs[0].attrs, status.vdevs[0].attrs);
  EXPECT_EQ(back->vdevs[0].path, "/p/vdev0.img");
}

TEST(Protocol, CheckReportRoundTripsAndCarriesVerdict) {
  CheckReport report;
  report.nodes = 4;
  report.referenced_blocks = 10;
  report.allocated_blocks = 11;
  report.leaks = {"fastest:0:99"};
  report.checksum_failures = {"node at fastest:0:5", "node at fastest:0:6"};
  Json json = ToJson(report);
  EXPECT_EQ(json["clean"], false);
  EXPECT_EQ(json["summary"], report.Summary());
  auto back = FromJson<CheckReport>(json);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->leaks, report.leaks);
  EXPECT_EQ(back->checksum_failures, report.checksum_failures);
  EXPECT_TRUE(back->double_references.empty());
  EXPECT_EQ(back->allocated_blocks, 11u);
  EXPECT_FALSE(back->clean());
  EXPECT_EQ(ToJson(CheckReport{})["clean"], true);
}

TEST(Protocol, RequestsCarryTheirArguments) {
  VolumeSpec spec{.name = "v", .size = 1 << 20, .layout = "simple", .tier = Tier::kSlow};
  Json create = RequestJson<ops::VolumeCreate>(spec);
  EXPECT_EQ(create["op"], "volume.create");
  EXPECT_EQ(create["name"], "v");
  EXPECT_EQ(create["size"], 1u << 20);
  EXPECT_EQ(create["tier"], "slow");
  spec.tier.reset();
  EXPECT_FALSE(RequestJson<ops::VolumeCreate>(spec).contains("tier"));

  Json resize = RequestJson<ops::VolumeResize>({"v", 8192, true});
  EXPECT_EQ(resize["op"], "volume.resize");
  EXPECT_EQ(resize["force"], true);
  EXPECT_EQ(RequestJson<ops::VolumeList>({}), (Json{{"op", "volume.list"}}));
  EXPECT_EQ(RequestJson<ops::ExnodeShow>({"x"})["op"], "exnode.show");
  EXPECT_EQ(RequestJson<ops::Commit>({})["op"], "commit");
}

TEST(Protocol, ResponsesCarryResultsAndErrors) {
  auto ok = ResultFromResponse(OkResponse(Json{{"a", 1}}));
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)["a"], 1);
  auto null_result = ResultFromResponse(Json{{"ok", true}});
  ASSERT_TRUE(null_result);
  EXPECT_TRUE(null_result->is_null());

  auto error = ResultFromResponse(ErrorResponse(Error(Code::kBusy, "volume 'v' is open")));
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code(), Code::kBusy);
  EXPECT_EQ(error.error().message(), "volume 'v' is open");

  auto unknown = ResultFromResponse(Json{{"ok", false}, {"code", "Weird"}, {"error", "boom"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Code::kIOError);
  EXPECT_NE(unknown.error().message().find("boom"), std::string::npos);

  for (const Json& bad : {Json::array(), Json{{"result", 1}}, Json{{"ok", "yes"}},
                          Json{{"ok", false}, {"code", "NotFound"}}}) {
    auto malformed = ResultFromResponse(bad);
    ASSERT_FALSE(malformed) << bad.dump();
    EXPECT_EQ(malformed.error().code(), Code::kIOError) << bad.dump();
  }
}

TEST(Protocol, DecodersNameTheBadField) {
  Json info = ToJson(SampleVolume());
  info.erase("layout");
  auto missing = FromJson<VolumeInfo>(info);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kInvalidArgument);
  EXPECT_NE(missing.error().message().find("'layout'"), std::string::npos);

  for (Json size : {Json(-1), Json(1.5), Json("10G"), Json(nullptr)}) {
    Json bad = ToJson(SampleVolume());
    bad["size"] = size;
    auto result = FromJson<VolumeInfo>(bad);
    ASSERT_FALSE(result) << size.dump();
    EXPECT_NE(result.error().message().find("'size'"), std::string::npos);
  }

  Json status = ToJson(PoolStatus{.vdevs = {VdevStatus{}}});
  status["vdevs"][0]["attrs"]["k"] = 5;
  EXPECT_FALSE(FromJson<PoolStatus>(status));
  Json report = ToJson(CheckReport{});
  report["leaks"] = Json::array({1});
  EXPECT_FALSE(FromJson<CheckReport>(report));
  EXPECT_FALSE(ListFromJson<VolumeInfo>(Json::object()));
  EXPECT_FALSE(StringFromJson(Json(3)));
  EXPECT_EQ(*StringFromJson(Json("[exnode]\n")), "[exnode]\n");
}

TEST(Protocol, ValueDecodersIgnoreFieldsFromNewerServers) {
  Json info = ToJson(SampleVolume());
  info["added_later"] = "x";
  EXPECT_TRUE(FromJson<VolumeInfo>(info));
}

TEST(Protocol, LinesNeverBreakOrThrow) {
  Json json = ErrorResponse(Error(Code::kNotFound, std::string("no volume '\xff\xfe\n'")));
  std::string line;
  ASSERT_NO_THROW(line = EncodeLine(json));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
  auto back = ParseLine(line);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["code"], "NotFound");
}

TEST(Protocol, ParseLineWantsOneObject) {
  for (const char* bad : {"", "{", "nope", "[1,2]", "3", "{\"op\":1} {}", "\"op\""}) {
    auto result = ParseLine(bad);
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().code(), Code::kInvalidArgument) << bad;
  }
  auto ok = ParseLine(" {\"op\": \"volume.list\"} ");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)["op"], "volume.list");
}

TEST(JsonFields, RejectsUnknownFieldsAndWrongTypes) {
  Json json = {{"name", "v"}, {"size", 4096}, {"force", true}, {"extra", 1}};
  auto fields = JsonFields::Of(json, "volume.resize");
  ASSERT_TRUE(fields);
  EXPECT_EQ(*fields->String("name"), "v");
  EXPECT_EQ(*fields->Unsigned("size"), 4096u);
  EXPECT_EQ(*fields->OptionalBool("force"), true);
  EXPECT_FALSE(*fields->OptionalString("layout"));
  auto others = fields->NoOtherFields();
  ASSERT_FALSE(others);
  EXPECT_NE(others.error().message().find("'extra'"), std::string::npos);
  EXPECT_NE(others.error().message().find("volume.resize"), std::string::npos);

  auto wrong = fields->Bool("name");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("'name' must be true or false"), std::string::npos);
  EXPECT_FALSE(fields->Array("size"));
  EXPECT_FALSE(fields->Object("missing"));
  EXPECT_FALSE(JsonFields::Of(Json::array(), "x"));
}

}  // namespace
}  // namespace tessera
