// Tier fallback (volume_impl.cc design note 4b): when a volume's tier is
// full its new rows go to the nearest tier with room; the volume reads as
// written, volume info shows its rows per tier, and a move back to the full
// tier is refused (NoSpace) without changing anything.
#include <gtest/gtest.h>

#include <cstring>

#include "core/volume/row_query.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

TEST(TierFallback, NearestTiersComeSlowerFirst) {
  EXPECT_EQ(TiersNearest(Tier::kFast), (std::vector<Tier>{Tier::kSlow, Tier::kFastest, Tier::kSlowest}));
  EXPECT_EQ(TiersNearest(Tier::kFastest), (std::vector<Tier>{Tier::kFast, Tier::kSlow, Tier::kSlowest}));
  EXPECT_EQ(TiersNearest(Tier::kSlowest), (std::vector<Tier>{Tier::kSlow, Tier::kFast, Tier::kFastest}));
}

TEST(TierFallback, AFullTiersRowsGoToTheNearestTierWithRoom) {
  PoolDir pd;
  PoolConfig config;
  for (uint32_t i = 0; i < 2; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("f{}", i), .path = fmt::format("{}/f{}.img", pd.dir(), i),
                                      .size_bytes = 32ull << 20, .tier = Tier::kFast, .index = i});
    config.vdevs.push_back(VdevConfig{.name = fmt::format("s{}", i), .path = fmt::format("{}/s{}.img", pd.dir(), i),
                                      .size_bytes = 256ull << 20, .tier = Tier::kSlow, .index = i});
  }
  std::filesystem::create_directories(pd.dir());
  auto created = Storage::Create(pd.dir(), config, pd.Options());
  ASSERT_TRUE(created) << created.error().ToString();
  auto storage = std::move(*created);
  constexpr uint64_t kSize = 96ull << 20;
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize, .tier = Tier::kFast}));
  std::vector<std::byte> model(kSize);
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    for (uint64_t at = 0; at < (88ull << 20); at += 1 << 20) {  // more than the fast tier holds
      auto data = Pattern(1 << 20, at);
      auto wrote = volume->Write(at, data, false);
      ASSERT_TRUE(wrote) << "at " << at << ": " << wrote.error().ToString();
      std::memcpy(model.data() + at, data.data(), data.size());
    }
    ASSERT_TRUE(volume->Flush());
  }
  auto info = storage->GetVolumeInfo("v");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->tier, "fast");
  EXPECT_GT(info->tier_bytes["fast"], 0u);
  EXPECT_GT(info->tier_bytes["slow"], 0u);
  // pool status says the same of every volume.
  auto status = storage->GetPoolStatus();
  ASSERT_TRUE(status) << status.error().ToString();
  ASSERT_EQ(status->placement.size(), 1u);
  EXPECT_EQ(status->placement[0].name, "v");
  EXPECT_EQ(status->placement[0].tier, "fast");
  EXPECT_EQ(status->placement[0].tier_bytes, info->tier_bytes);
  auto read_all = [&] {
    auto volume = std::move(*storage->OpenVolume("v"));
    std::vector<std::byte> got(kSize);
    EXPECT_TRUE(volume->Read(0, got));
    return got == model;
  };
  EXPECT_TRUE(read_all());
  ExpectClean(*storage);
  // Back to the fast tier: no room, refused, nothing lost.
  auto moved = storage->MoveVolume("v", Tier::kFast);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code(), Code::kNoSpace) << moved.error().ToString();
  EXPECT_TRUE(read_all());
  ExpectClean(*storage);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  auto reopened = pd.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  storage = std::move(*reopened);
  EXPECT_TRUE(read_all());
}

}  // namespace
}  // namespace tessera::testing
