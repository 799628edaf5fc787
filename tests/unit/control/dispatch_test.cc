#include "core/control/dispatch.h"

#include <gtest/gtest.h>

#include "control_test_util.h"
#include "core/control/op_table.h"
#include "core/control/ops.h"

namespace tessera {
namespace {

using testing::TempPool;

class DispatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = pool_.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    storage_ = std::move(*storage);
  }

  Result<Json> Call(const Json& request) {
    return ResultFromResponse(DispatchRequest(*storage_, request));
  }
  std::vector<std::string> Names() {
    std::vector<std::string> names;
    auto volumes = storage_->ListVolumes();
    EXPECT_TRUE(volumes);
    if (volumes) {
      for (const VolumeInfo& v : *volumes) names.push_back(v.name);
    }
    return names;
  }

  TempPool pool_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(DispatchTest, EveryOpReachesStorage) {
  auto created = Call(RequestJson<ops::VolumeCreate>({.name = "vol1", .size = 64 << 20}));
  ASSERT_TRUE(created) << created.error().ToString();
  EXPECT_EQ((*created)["name"], "vol1");
  EXPECT_EQ((*created)["size"], 64u << 20);
  EXPECT_EQ((*created)["layout"], "simple");

  auto listed = Call(RequestJson<ops::VolumeList>({}));
  ASSERT_TRUE(listed);
  auto infos = ListFromJson<VolumeInfo>(*listed);
  ASSERT_TRUE(infos);
  ASSERT_EQ(infos->size(), 1u);
  EXPECT_EQ((*infos)[0].name, "vol1");

  ASSERT_TRUE(Call(RequestJson<ops::VolumeResize>({"vol1", 128 << 20, false})));
  auto info = Call(RequestJson<ops::VolumeInfoOp>({"vol1"}));
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["size"], 128u << 20);
  EXPECT_EQ(storage_->GetVolumeInfo("vol1")->size, 128u << 20);

  auto exnode = Call(RequestJson<ops::ExnodeShow>({"vol1"}));
  ASSERT_TRUE(exnode);
  ASSERT_TRUE(exnode->is_string());
  EXPECT_EQ(exnode->get<std::string>(), *storage_->ExnodeText("vol1"));

  auto status = Call(RequestJson<ops::PoolStatusOp>({}));
  ASSERT_TRUE(status);
  auto decoded = FromJson<PoolStatus>(*status);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->volumes, 1u);
  EXPECT_EQ(decoded->vdevs.size(), 2u);

  ASSERT_TRUE(Call(RequestJson<ops::Commit>({})));
  auto check = Call(RequestJson<ops::PoolCheck>({}));
  ASSERT_TRUE(check);
  EXPECT_EQ((*check)["clean"], true) << check->dump();

  ASSERT_TRUE(Call(RequestJson<ops::VolumeDelete>({"vol1"})));
  EXPECT_TRUE(Names().empty());
}

TEST_F(DispatchTest, BadRequestsAreInvalidArgumentAndChangeNothing) {
  ASSERT_TRUE(storage_->CreateVolume({.name = "keep", .size = 32 << 20}));
  const std::vector<Json> bad = {
      Json::array(),
      Json{{"name", "x"}},                                                        // no op
      Json{{"op", 5}},                                                            // op not a string
      Json{{"op", "volume.explode"}},                                             // unknown op
      Json{{"op", "volume.create"}, {"size", 4096}},                              // no name
      Json{{"op", "volume.create"}, {"name", "x"}},                               // no size
      Json{{"op", "volume.create"}, {"name", "x"}, {"size", "1G"}},               // size as text
      Json{{"op", "volume.create"}, {"name", "x"}, {"size", -4096}},              // negative
      Json{{"op", "volume.create"}, {"name", "x"}, {"size", 4096}, {"sise", 1}},  // typo
      Json{{"op", "volume.create"}, {"name", "x"}, {"size", 4096}, {"tier", "medium"}},
      Json{{"op", "volume.resize"}, {"name", "keep"}, {"size", 4096}, {"force", "yes"}},
      Json{{"op", "volume.delete"}, {"name", "keep"}, {"really", true}},
      Json{{"op", "volume.list"}, {"all", true}},
      Json{{"op", "commit"}, {"now", 1}},
  };
  for (const Json& request : bad) {
    auto result = Call(request);
    ASSERT_FALSE(result) << request.dump();
    EXPECT_EQ(result.error().code(), Code::kInvalidArgument) << request.dump();
  }
  EXPECT_EQ(Names(), std::vector<std::string>{"keep"});
  EXPECT_EQ(storage_->GetVolumeInfo("keep")->size, 32u << 20);
}

// The messages a bad request gets (docs/control-protocol.md quotes some).
TEST_F(DispatchTest, BadRequestsGetTheirMessages) {
  auto error_of = [&](const Json& request) -> std::string {
    auto result = Call(request);
    EXPECT_FALSE(result) << request.dump();
    if (result) return "";
    EXPECT_EQ(result.error().code(), Code::kInvalidArgument) << request.dump();
    return result.error().message();
  };
  EXPECT_EQ(error_of(Json{{"name", "x"}}), "request: missing field 'op'");
  EXPECT_EQ(error_of(Json{{"op", "volume.create"}, {"size", 4096}}), "request: missing field 'name'");
  EXPECT_EQ(error_of(Json{{"op", "volume.create"}, {"name", "x"}, {"size", "1G"}}),
            "request: field 'size' must be an unsigned integer");
  EXPECT_EQ(error_of(Json{{"op", "volume.create"}, {"name", "x"}, {"size", 4096}, {"sise", 1}}),
            "request: unknown field 'sise'");
  EXPECT_EQ(error_of(Json{{"op", "volume.create"}, {"name", "x"}, {"size", 4096}, {"tier", "medium"}}),
            "request: unknown tier 'medium' in field 'tier'; expected fastest, fast, slow or slowest");
  EXPECT_EQ(error_of(Json{{"op", "volume.resize"}, {"name", "x"}, {"size", 4096}, {"force", "yes"}}),
            "request: field 'force' must be true or false");
  EXPECT_EQ(error_of(Json{{"op", "volume.inspect"}, {"name", "x"}, {"depth", "deep"}}),
            "unknown inspect depth 'deep'; expected quick, scan or full");
  EXPECT_EQ(error_of(Json{{"op", "commit"}, {"now", 1}}), "request: unknown field 'now'");
  EXPECT_EQ(error_of(Json{{"op", "diff.apply"}, {"volume", "v"}, {"from", "a"}}), "request: unknown field 'from'");
  EXPECT_EQ(error_of(RequestJson<ops::DiffStream>({"v", "", "b"})),
            "diff.stream needs the stream file's descriptor passed with the request (SCM_RIGHTS)");
  EXPECT_EQ(error_of(Json{{"op", "volume.explode"}}), UnknownOpError("volume.explode").message());
}

TEST_F(DispatchTest, StorageErrorsKeepTheirCode) {
  auto missing = Call(RequestJson<ops::VolumeInfoOp>({"ghost"}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);

  ASSERT_TRUE(storage_->CreateVolume({.name = "busy", .size = 32 << 20}));
  auto open = storage_->OpenVolume("busy");
  ASSERT_TRUE(open);
  auto deleted = Call(RequestJson<ops::VolumeDelete>({"busy"}));
  ASSERT_FALSE(deleted);
  EXPECT_EQ(deleted.error().code(), Code::kBusy);
  open->reset();
  EXPECT_TRUE(Call(RequestJson<ops::VolumeDelete>({"busy"})));
}

TEST_F(DispatchTest, HandleRequestLineAnswersEveryLine) {
  for (const char* line : {"not json", "", "[]", "{\"op\":\"volume.list\"}"}) {
    std::string response = HandleRequestLine(*storage_, line);
    EXPECT_EQ(response.find('\n'), std::string::npos);
    auto parsed = ParseLine(response);
    ASSERT_TRUE(parsed) << response;
    EXPECT_TRUE((*parsed)["ok"].is_boolean()) << response;
  }
  auto listed = ParseLine(HandleRequestLine(*storage_, "{\"op\":\"volume.list\"}"));
  EXPECT_EQ((*listed)["ok"], true);
  EXPECT_TRUE((*listed)["result"].is_array());
  auto garbage = ParseLine(HandleRequestLine(*storage_, "garbage"));
  EXPECT_EQ((*garbage)["code"], "InvalidArgument");
}

}  // namespace
}  // namespace tessera
