// The clone ops of the control protocol: clone.create, volume.flatten and
// snapshot.rollback, through DispatchRequest against a real Storage.
#include <gtest/gtest.h>

#include <cstring>

#include "control_test_util.h"
#include "core/control/clone_protocol.h"
#include "core/control/dispatch.h"
#include "core/control/ops.h"

namespace tessera {
namespace {

using testing::TempPool;

class CloneOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = pool_.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    storage_ = std::move(*storage);
    ASSERT_TRUE(storage_->CreateVolume({.name = "a", .size = 8 << 20}));
    Fill("a", 'A');
    ASSERT_TRUE(storage_->CreateSnapshot("a", "s1"));
    Fill("a", 'B');
  }

  Result<Json> Call(const Json& request) { return ResultFromResponse(DispatchRequest(*storage_, request)); }

  void Fill(const std::string& name, char c) {
    auto volume = storage_->OpenVolume(name);
    ASSERT_TRUE(volume);
    std::vector<std::byte> data(1 << 20, std::byte(c));
    ASSERT_TRUE((*volume)->Write(0, data, true));
  }
  char FirstByte(const std::string& name) {
    auto volume = storage_->OpenVolume(name);
    EXPECT_TRUE(volume);
    std::vector<std::byte> data(4096);
    EXPECT_TRUE((*volume)->Read(0, data));
    return static_cast<char>(data[0]);
  }

  TempPool pool_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(CloneOpsTest, CloneFlattenAndRollbackReachStorage) {
  auto clone = Call(RequestJson<ops::CloneCreate>({"a", "s1", "c"}));
  ASSERT_TRUE(clone) << clone.error().ToString();
  auto info = FromJson<VolumeInfo>(*clone);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->name, "c");
  EXPECT_EQ(info->origin, "a@s1");
  EXPECT_EQ(FirstByte("c"), 'A');

  uint64_t offset = 0;
  int steps = 0;
  for (;;) {
    auto step = Call(RequestJson<ops::VolumeFlatten>({"c", offset, 2 << 20}));
    ASSERT_TRUE(step) << step.error().ToString();
    auto progress = FromJson<FlattenProgress>(*step);
    ASSERT_TRUE(progress) << progress.error().ToString();
    steps++;
    if (progress->done) break;
    EXPECT_EQ(progress->size, 8u << 20);
    offset = progress->offset;
  }
  EXPECT_EQ(steps, 5);
  EXPECT_EQ(storage_->GetVolumeInfo("c")->origin, "");
  EXPECT_EQ(FirstByte("c"), 'A');

  ASSERT_TRUE(Call(RequestJson<ops::SnapshotRollback>({"a", "s1", false})));
  EXPECT_EQ(FirstByte("a"), 'A');
}

TEST_F(CloneOpsTest, BadRequestsAreInvalidArgumentAndChangeNothing) {
  auto code = [&](const Json& request) {
    auto result = Call(request);
    return result ? std::optional<Code>() : std::optional<Code>(result.error().code());
  };
  Json extra = RequestJson<ops::CloneCreate>({"a", "s1", "c"});
  extra["x"] = 1;
  EXPECT_EQ(code(extra), Code::kInvalidArgument);
  EXPECT_EQ(code(Json{{"op", "clone.create"}, {"volume", "a"}, {"snapshot", "s1"}}), Code::kInvalidArgument);
  EXPECT_EQ(code(Json{{"op", "volume.flatten"}, {"name", "a"}, {"offset", "0"}}), Code::kInvalidArgument);
  EXPECT_EQ(code(Json{{"op", "snapshot.rollback"}, {"volume", "a"}, {"snapshot", "s1"}, {"force", 1}}),
            Code::kInvalidArgument);
  EXPECT_EQ(code(RequestJson<ops::VolumeFlatten>({"a", 0, 1 << 20})), Code::kInvalidArgument);  // not a clone
  EXPECT_EQ(code(RequestJson<ops::SnapshotRollback>({"a", "nope", false})), Code::kNotFound);
  EXPECT_EQ(storage_->ListVolumes()->size(), 1u);
  EXPECT_EQ(FirstByte("a"), 'B');
}

TEST(CloneProtocol, FlattenProgressRoundTrips) {
  FlattenProgress progress{.offset = 4096, .size = 1 << 20, .copied_bytes = 8192, .done = true};
  Json json = ToJson(progress);
  json["added_later"] = 1;
  auto back = FromJson<FlattenProgress>(json);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->offset, 4096u);
  EXPECT_EQ(back->size, 1u << 20);
  EXPECT_EQ(back->copied_bytes, 8192u);
  EXPECT_TRUE(back->done);
  json.erase("done");
  EXPECT_FALSE(FromJson<FlattenProgress>(json));
}

}  // namespace
}  // namespace tessera
