// The diff ops through the dispatcher: volume.diff, diff.stream and
// diff.apply reach Storage, bad requests change nothing, and the value
// types round-trip.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <filesystem>
#include <fstream>

#include "control_test_util.h"
#include "core/control/client.h"
#include "core/control/dispatch.h"
#include "core/control/ops.h"
#include "core/control/server.h"

namespace tessera {
namespace {

using testing::TempPool;

class DiffOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = pool_.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    storage_ = std::move(*storage);
    ASSERT_TRUE(storage_->CreateVolume({.name = "v", .size = 16 << 20}));
    ASSERT_TRUE(storage_->CreateVolume({.name = "w", .size = 16 << 20}));
    auto volume = std::move(*storage_->OpenVolume("v"));
    std::vector<std::byte> data(8192, std::byte{7});
    ASSERT_TRUE(volume->Write(4096, data, false));
    ASSERT_TRUE(storage_->CreateSnapshot("v", "a"));
    ASSERT_TRUE(volume->Write(1 << 20, data, false));
    ASSERT_TRUE(storage_->CreateSnapshot("v", "b"));
  }
  Result<Json> Call(const Json& request, int passed_fd = -1) {
    return ResultFromResponse(DispatchRequest(*storage_, request, {}, passed_fd));
  }
  // Stream files live outside the pool directory (storage.h).
  std::string Outside(const std::string& name) { return pool_.dir() + "." + name; }
  void TearDown() override {
    for (const char* name : {"a.tds", "b.tds", "x"}) std::filesystem::remove(Outside(name));
  }

  TempPool pool_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(DiffOpsTest, DiffStreamAndApplyReachStorage) {
  auto diff = Call(RequestJson<ops::VolumeDiffOp>({"v", "a", "b"}));
  ASSERT_TRUE(diff) << diff.error().ToString();
  auto decoded = FromJson<VolumeDiff>(*diff);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  ASSERT_EQ(decoded->ranges.size(), 1u);
  EXPECT_EQ(decoded->ranges[0].offset, 1u << 20);
  EXPECT_EQ(decoded->ranges[0].length, 8192u);
  EXPECT_FALSE(decoded->ranges[0].zero);

  auto full = Call(RequestJson<ops::VolumeDiffOp>({"v", "", "a"}));  // from nothing
  ASSERT_TRUE(full);
  EXPECT_EQ((*full)["changed_bytes"], 8192u);

  UniqueFd out(::open(Outside("a.tds").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  auto written = Call(RequestJson<ops::DiffStream>({"v", "", "a"}), out.get());
  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ((*written)["data_bytes"], 8192u);
  UniqueFd in(::open(Outside("a.tds").c_str(), O_RDONLY | O_CLOEXEC));
  auto applied = Call(RequestJson<ops::DiffApply>({"w"}), in.get());
  ASSERT_TRUE(applied) << applied.error().ToString();
  auto info = FromJson<DiffStreamInfo>(*applied);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->target, "a");
  EXPECT_EQ(info->data_bytes, 8192u);
  auto snapshots = storage_->ListSnapshots("w");
  ASSERT_TRUE(snapshots);
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ((*snapshots)[0].name, "a");
}

// dispatch.h contract 4: a request names no file the server would open; the
// stream travels as a descriptor, and one must come with the request.
TEST_F(DiffOpsTest, BadRequestsChangeNothing) {
  Json with_path = RequestJson<ops::DiffStream>({"v", "a", "b"});
  with_path["path"] = Outside("b.tds");
  auto named = Call(with_path);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(Outside("b.tds")));
  Json apply_with_path = RequestJson<ops::DiffApply>({"w"});
  apply_with_path["path"] = Outside("b.tds");
  EXPECT_EQ(Call(apply_with_path).error().code(), Code::kInvalidArgument);
  auto no_fd = Call(RequestJson<ops::DiffStream>({"v", "a", "b"}));
  ASSERT_FALSE(no_fd);
  EXPECT_NE(no_fd.error().message().find("SCM_RIGHTS"), std::string::npos) << no_fd.error().ToString();
  EXPECT_EQ(Call(RequestJson<ops::DiffApply>({"w"})).error().code(), Code::kInvalidArgument);
  Json apply_with_from = RequestJson<ops::DiffApply>({"w"});
  apply_with_from["from"] = "a";
  EXPECT_EQ(Call(apply_with_from).error().code(), Code::kInvalidArgument);
  Json typo = RequestJson<ops::VolumeDiffOp>({"v", "a", "b"});
  typo["too"] = "b";
  EXPECT_EQ(Call(typo).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(Call(RequestJson<ops::VolumeDiffOp>({"v", "nope", ""})).error().code(), Code::kNotFound);
  std::ofstream(Outside("x")) << "not a stream";
  UniqueFd junk(::open(Outside("x").c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_EQ(Call(RequestJson<ops::DiffApply>({"w"}), junk.get()).error().code(), Code::kCorruption);
  auto snapshots = storage_->ListSnapshots("w");
  ASSERT_TRUE(snapshots);
  EXPECT_TRUE(snapshots->empty());
}

// The descriptor crosses the control socket with the request (SCM_RIGHTS).
TEST_F(DiffOpsTest, StreamDescriptorTravelsOverTheControlSocket) {
  auto server = ControlServer::Start(*storage_, pool_.dir() + "/control.sock");
  ASSERT_TRUE(server) << server.error().ToString();
  auto client = ControlClient::Connect(pool_.dir() + "/control.sock", std::chrono::seconds(5));
  ASSERT_TRUE(client) << client.error().ToString();
  UniqueFd out(::open(Outside("b.tds").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  auto written = (*client)->Call(RequestJson<ops::DiffStream>({"v", "a", "b"}), std::chrono::seconds(30), {}, out.get());
  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ((*written)["data_bytes"], 8192u);
  EXPECT_EQ(std::filesystem::file_size(Outside("b.tds")), (*written)["stream_bytes"].get<uint64_t>());
  // Without a descriptor the server refuses, and the connection still works.
  auto refused = (*client)->Call(RequestJson<ops::DiffApply>({"w"}), std::chrono::seconds(30));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE((*client)->Call(RequestJson<ops::VolumeList>({}), std::chrono::seconds(30)));
  (*server)->Stop();
}

TEST(DiffProtocol, ValueTypesRoundTrip) {
  VolumeDiff diff{.volume = "v",
                  .from = "a",
                  .to = "",
                  .size = 1 << 30,
                  .changed_bytes = 12288,
                  .nodes_visited = 9};
  diff.ranges = {{.offset = 0, .length = 4096, .zero = true}, {.offset = 8192, .length = 8192}};
  auto back = FromJson<VolumeDiff>(ToJson(diff));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->to, "");
  EXPECT_EQ(back->size, 1u << 30);
  EXPECT_EQ(back->nodes_visited, 9u);
  ASSERT_EQ(back->ranges.size(), 2u);
  EXPECT_TRUE(back->ranges[0].zero);
  EXPECT_EQ(back->ranges[1].offset, 8192u);

  std::vector<SnapshotInfo> snapshots{{.name = "s",
                                       .txg = 4,
                                       .created_unix = 5,
                                       .guid = 77,
                                       .referenced_bytes = 1 << 20,
                                       .unique_bytes = 4096}};
  auto list = ListFromJson<SnapshotInfo>(ToJson(snapshots));
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0].guid, 77u);
  EXPECT_EQ((*list)[0].referenced_bytes, 1u << 20);
  EXPECT_EQ((*list)[0].unique_bytes, 4096u);

  PoolStatus status{.dead_pinned_bytes = 3 << 20, .metadata_copies = 3, .metadata_copies_written = 2};
  auto pool = FromJson<PoolStatus>(ToJson(status));
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->dead_pinned_bytes, 3u << 20);
  EXPECT_EQ(pool->metadata_copies, 3u);
  EXPECT_EQ(pool->metadata_copies_written, 2u);
}

}  // namespace
}  // namespace tessera
