// The self-healing ops through DispatchRequest: each reaches Storage, bad
// arguments change nothing, progress is sent only when asked for, and the
// reports round-trip through their JSON forms.
#include <gtest/gtest.h>

#include "control_test_util.h"
#include "core/control/dispatch.h"
#include "core/control/ops.h"
#include "core/control/protocol_repair.h"

namespace tessera {
namespace {

using testing::TempPool;

class DispatchRepairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = pool_.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    storage_ = std::move(*storage);
    ASSERT_TRUE(storage_->CreateVolume({.name = "vol", .size = 32 << 20}));
  }
  Result<Json> Call(const Json& request, const ProgressFn& progress = {}) {
    return ResultFromResponse(DispatchRequest(*storage_, request, progress));
  }

  TempPool pool_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(DispatchRepairTest, InspectScrubAndVdevListReachStorage) {
  std::vector<Progress> seen;
  auto inspect = Call(RequestJson<ops::VolumeInspect>({"vol", InspectDepth::kFull, false, true}),
                      [&](const Progress& p) { seen.push_back(p); });
  ASSERT_TRUE(inspect) << inspect.error().ToString();
  auto report = FromJson<VolumeInspectReport>(*inspect);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->volume, "vol");
  EXPECT_EQ(report->depth, "full");
  EXPECT_TRUE(report->clean());
  EXPECT_FALSE(seen.empty());  // the last report of a phase is always sent
  EXPECT_EQ(seen.back().done, seen.back().total);

  seen.clear();
  auto scrub = Call(RequestJson<ops::PoolScrub>({false}), [&](const Progress& p) { seen.push_back(p); });
  ASSERT_TRUE(scrub) << scrub.error().ToString();
  EXPECT_TRUE(seen.empty());  // not asked for
  auto scrubbed = FromJson<ScrubReport>(*scrub);
  ASSERT_TRUE(scrubbed) << scrubbed.error().ToString();
  EXPECT_EQ(scrubbed->volumes, 1u);
  EXPECT_TRUE(scrubbed->clean());
  EXPECT_EQ(ToJson(*scrubbed), *scrub);

  auto vdevs = Call(RequestJson<ops::VdevList>({}));
  ASSERT_TRUE(vdevs);
  auto list = ListFromJson<VdevStatus>(*vdevs);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].state, "online");
  EXPECT_EQ(ToJson(*list), *vdevs);
}

TEST_F(DispatchRepairTest, BadArgumentsAreRefusedAndChangeNothing) {
  auto depth = Call(Json{{"op", "volume.inspect"}, {"name", "vol"}, {"depth", "deep"}});
  ASSERT_FALSE(depth);
  EXPECT_EQ(depth.error().code(), Code::kInvalidArgument);
  EXPECT_NE(depth.error().message().find("quick, scan or full"), std::string::npos);
  auto extra = Call(Json{{"op", "vdev.list"}, {"verbose", true}});
  ASSERT_FALSE(extra);
  EXPECT_EQ(extra.error().code(), Code::kInvalidArgument);
  auto missing = Call(RequestJson<ops::VdevOffline>({"nope"}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  // Both vdevs hold metadata: either may go offline (the other holds a copy
  // of everything), but not both (database.h contract 6).
  ASSERT_TRUE(Call(RequestJson<ops::VdevOffline>({"vdev0"})));
  auto last = Call(RequestJson<ops::VdevOffline>({"vdev1"}));
  ASSERT_FALSE(last);
  EXPECT_EQ(last.error().code(), Code::kInvalidArgument);
  ASSERT_TRUE(Call(RequestJson<ops::VdevOnline>({"vdev0"})));
  auto no_path = Call(Json{{"op", "vdev.replace"}, {"name", "vdev1"}});
  ASSERT_FALSE(no_path);
  EXPECT_EQ(no_path.error().code(), Code::kInvalidArgument);
  auto existing = Call(RequestJson<ops::VdevReplace>({"vdev1", pool_.dir() + "/vdev0.img", false}));
  ASSERT_FALSE(existing);
  EXPECT_EQ(existing.error().code(), Code::kInvalidArgument);
  auto vdevs = *storage_->ListVdevs();
  for (const auto& v : vdevs) EXPECT_EQ(v.state, "online") << v.name;
  EXPECT_EQ(storage_->GetPoolStatus()->health, "online");
}

TEST(ProtocolRepair, ProgressLinesAreRecognized) {
  Progress p{.what = "stripes of vol", .done = 3, .total = 9};
  auto back = ProgressFromLine(ProgressLine(p));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->what, p.what);
  EXPECT_EQ(back->done, 3u);
  EXPECT_EQ(back->total, 9u);
  EXPECT_FALSE(ProgressFromLine(OkResponse(Json())));
  EXPECT_FALSE(ProgressFromLine(Json{{"progress", "half"}}));
}

}  // namespace
}  // namespace tessera
