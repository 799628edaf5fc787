// The diff ops through the dispatcher: volume.diff, diff.stream and
// diff.apply reach Storage, bad requests change nothing, and the value
// types round-trip.
#include <gtest/gtest.h>

#include <filesystem>

#include "control_test_util.h"
#include "core/control/dispatch.h"

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
  Result<Json> Call(const Json& request) {
    return ResultFromResponse(DispatchRequest(*storage_, request));
  }

  TempPool pool_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(DiffOpsTest, DiffStreamAndApplyReachStorage) {
  auto diff = Call(VolumeDiffRequest("v", "a", "b"));
  ASSERT_TRUE(diff) << diff.error().ToString();
  auto decoded = VolumeDiffFromJson(*diff);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  ASSERT_EQ(decoded->ranges.size(), 1u);
  EXPECT_EQ(decoded->ranges[0].offset, 1u << 20);
  EXPECT_EQ(decoded->ranges[0].length, 8192u);
  EXPECT_FALSE(decoded->ranges[0].zero);

  auto full = Call(VolumeDiffRequest("v", "", "a"));  // from nothing
  ASSERT_TRUE(full);
  EXPECT_EQ((*full)["changed_bytes"], 8192u);

  std::string path = pool_.dir() + "/a.tds";
  auto written = Call(DiffStreamRequest("v", "", "a", path));
  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_EQ((*written)["data_bytes"], 8192u);
  auto applied = Call(DiffApplyRequest("w", path));
  ASSERT_TRUE(applied) << applied.error().ToString();
  auto info = DiffStreamInfoFromJson(*applied);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->target, "a");
  EXPECT_EQ(info->data_bytes, 8192u);
  auto snapshots = storage_->ListSnapshots("w");
  ASSERT_TRUE(snapshots);
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ((*snapshots)[0].name, "a");
}

TEST_F(DiffOpsTest, BadRequestsChangeNothing) {
  auto relative = Call(DiffStreamRequest("v", "a", "b", "relative.tds"));
  ASSERT_FALSE(relative);
  EXPECT_EQ(relative.error().code(), Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists("relative.tds"));
  Json apply_with_from = DiffApplyRequest("w", pool_.dir() + "/x");
  apply_with_from["from"] = "a";
  EXPECT_EQ(Call(apply_with_from).error().code(), Code::kInvalidArgument);
  Json typo = VolumeDiffRequest("v", "a", "b");
  typo["too"] = "b";
  EXPECT_EQ(Call(typo).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(Call(VolumeDiffRequest("v", "nope", "")).error().code(), Code::kNotFound);
  auto missing = Call(DiffApplyRequest("w", pool_.dir() + "/none.tds"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  auto snapshots = storage_->ListSnapshots("w");
  ASSERT_TRUE(snapshots);
  EXPECT_TRUE(snapshots->empty());
}

TEST(DiffProtocol, ValueTypesRoundTrip) {
  VolumeDiff diff{.volume = "v",
                  .from = "a",
                  .to = "",
                  .size = 1 << 30,
                  .changed_bytes = 12288,
                  .nodes_visited = 9};
  diff.ranges = {{.offset = 0, .length = 4096, .zero = true}, {.offset = 8192, .length = 8192}};
  auto back = VolumeDiffFromJson(ToJson(diff));
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
  auto list = SnapshotInfosFromJson(ToJson(snapshots));
  ASSERT_TRUE(list);
  EXPECT_EQ((*list)[0].guid, 77u);
  EXPECT_EQ((*list)[0].referenced_bytes, 1u << 20);
  EXPECT_EQ((*list)[0].unique_bytes, 4096u);

  PoolStatus status{.dead_pinned_bytes = 3 << 20};
  auto pool = PoolStatusFromJson(ToJson(status));
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->dead_pinned_bytes, 3u << 20);
}

}  // namespace
}  // namespace tessera
