// Rows spread over a vdev attribute (row_query.h, `volume create --spread
// host`): the query, the refusals, and that a spread volume loses at most
// one device per row when every vdev of one host goes away, while the same
// layout without a spread loses rows.
#include <gtest/gtest.h>

#include "core/volume/row_query.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

TEST(Spread, TheRowQueryCarriesTheSpreadKeyThroughATierChange) {
  const std::string query = RowQuery(Tier::kSlow, 3, "host");
  EXPECT_EQ(query, "1:tier:1:slow:1.1:name:65:any:3.3:any:3:any:3.1:host:65:any:3.3:any:3:any:3");
  EXPECT_EQ(SpreadOfRowQuery(query), "host");
  auto fast = RowQueryWithTier(query, Tier::kFast);
  ASSERT_TRUE(fast);
  EXPECT_EQ(TierOfRowQuery(*fast), Tier::kFast);
  EXPECT_EQ(SpreadOfRowQuery(*fast), "host");
  EXPECT_EQ(SpreadOfRowQuery(RowQuery(Tier::kSlow, 3)), "");
  EXPECT_EQ(RowQuery(Tier::kSlow, 1, "host"), RowQuery(Tier::kSlow, 1));  // one device: nothing to spread
}

TEST(Spread, SpreadKeysAreAttributesThatCanDiffer) {
  EXPECT_TRUE(ValidateSpreadKey("host"));
  EXPECT_TRUE(ValidateSpreadKey("rack_2-b"));
  for (const char* bad : {"", "1host", "-host", "ho.st", "ho:st", "ho st", "name", "tier", "path", "kind", "uri"}) {
    auto status = ValidateSpreadKey(bad);
    ASSERT_FALSE(status) << "'" << bad << "' was accepted";
    EXPECT_EQ(status.error().code(), Code::kInvalidArgument);
  }
  EXPECT_FALSE(ValidateSpreadKey(std::string(65, 'h')));
}

TEST(Spread, RowWidthCountsDistinctValuesAndSkipsVdevsWithoutThem) {
  VdevConfig a{.name = "a", .attrs = {{"host", "h0"}}}, b{.name = "b", .attrs = {{"host", "h0"}}};
  VdevConfig c{.name = "c", .attrs = {{"host", "h1"}}}, d{.name = "d"};
  std::vector<const VdevConfig*> vdevs = {&a, &b, &c, &d};
  EXPECT_EQ(RowWidth(vdevs, ""), 4u);
  EXPECT_EQ(RowWidth(vdevs, "host"), 2u);
  EXPECT_EQ(RowWidth(vdevs, "rack"), 0u);
}

// Three metadata vdevs, and six data vdevs on three hosts, two on each.
class SpreadPool : public ::testing::Test {
 protected:
  static constexpr uint64_t kVolumeBytes = 24ull << 20;

  SpreadPool() {
    for (uint32_t i = 0; i < 3; i++) {
      config_.vdevs.push_back(VdevConfig{.name = fmt::format("m{}", i), .path = fmt::format("{}/m{}.img", pd_.dir(), i),
                                         .size_bytes = 48ull << 20, .tier = Tier::kFastest, .index = i});
    }
    for (uint32_t i = 0; i < 6; i++) {
      config_.vdevs.push_back(VdevConfig{.name = fmt::format("d{}", i), .path = fmt::format("{}/d{}.img", pd_.dir(), i),
                                         .size_bytes = 64ull << 20, .tier = Tier::kSlow, .index = i,
                                         .attrs = {{"host", fmt::format("h{}", i / 2)}}});
    }
    std::filesystem::create_directories(pd_.dir());
    auto created = Storage::Create(pd_.dir(), config_, pd_.Options());
    EXPECT_TRUE(created) << created.error().ToString();
    if (created) storage_ = std::move(*created);
  }

  // Creates `name` (rs:2+1 in the slow tier) and fills it with a pattern.
  std::vector<std::byte> CreateFilled(const std::string& name, const std::string& spread) {
    auto info = storage_->CreateVolume(
        VolumeSpec{.name = name, .size = kVolumeBytes, .layout = "rs:2+1", .tier = Tier::kSlow, .spread = spread});
    EXPECT_TRUE(info) << info.error().ToString();
    auto data = Pattern(kVolumeBytes, name.size());
    auto volume = storage_->OpenVolume(name);
    EXPECT_TRUE(volume);
    EXPECT_TRUE((*volume)->Write(0, data, false));
    EXPECT_TRUE((*volume)->Flush());
    return data;
  }

  // How many 1 MiB pieces of `name` fail to read; a piece that reads must
  // read as written.
  size_t UnreadableMiB(const std::string& name, const std::vector<std::byte>& model) {
    auto volume = storage_->OpenVolume(name);
    EXPECT_TRUE(volume);
    size_t failed = 0;
    std::vector<std::byte> got(1 << 20);
    for (uint64_t at = 0; at < kVolumeBytes; at += got.size()) {
      if (!(*volume)->Read(at, got)) {
        failed++;
        continue;
      }
      EXPECT_TRUE(std::equal(got.begin(), got.end(), model.begin() + static_cast<ptrdiff_t>(at)))
          << name << ": wrong data at " << at;
    }
    return failed;
  }

  PoolDir pd_;
  PoolConfig config_;
  std::unique_ptr<Storage> storage_;
};

TEST_F(SpreadPool, LosingAHostCostsASpreadRowOneDeviceAndAPlainRowMore) {
  ASSERT_TRUE(storage_);
  auto spread = CreateFilled("spread", "host");
  auto plain = CreateFilled("plain", "");
  ASSERT_TRUE(storage_->CloseIdleVolumes());  // reads come from the vdevs, not the cache
  ASSERT_TRUE(storage_->OfflineVdev("d0"));   // both vdevs of host h0
  ASSERT_TRUE(storage_->OfflineVdev("d1"));
  EXPECT_EQ(UnreadableMiB("spread", spread), 0u);
  // The same layout placed by distinct vdevs only puts some rows on both
  // (rows rotate over d0..d5), and they fail with an error, never wrong data.
  EXPECT_GT(UnreadableMiB("plain", plain), 0u);
}

TEST_F(SpreadPool, TheSpreadIsKeptByReopenAndClone) {
  ASSERT_TRUE(storage_);
  CreateFilled("v", "host");
  ASSERT_TRUE(storage_->CreateSnapshot("v", "s"));
  auto clone = storage_->CloneSnapshot("v", "s", "c");
  ASSERT_TRUE(clone) << clone.error().ToString();
  EXPECT_EQ(clone->spread, "host");
  storage_.reset();
  auto opened = pd_.Open();
  ASSERT_TRUE(opened) << opened.error().ToString();
  for (const char* name : {"v", "c"}) {
    auto info = (*opened)->GetVolumeInfo(name);
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_EQ(info->spread, "host") << name;
  }
}

TEST_F(SpreadPool, ASpreadThePoolCannotGiveIsRefusedAndCreatesNothing) {
  ASSERT_TRUE(storage_);
  struct Case {
    std::string layout, spread, message;
  };
  for (const Case& c : {Case{"rs:3+1", "host", "needs 4 distinct values of 'host' among the vdevs of tier slow, "
                                               "which have 3"},
                        Case{"rs:2+1", "rack", "which have 0"},
                        Case{"simple", "host", "nothing to spread"},
                        Case{"rs:2+1", "name", "cannot spread rows"}}) {
    auto info = storage_->CreateVolume(
        VolumeSpec{.name = "x", .size = kVolumeBytes, .layout = c.layout, .tier = Tier::kSlow, .spread = c.spread});
    ASSERT_FALSE(info) << c.layout << " --spread " << c.spread << " was accepted";
    EXPECT_EQ(info.error().code(), Code::kInvalidArgument);
    EXPECT_NE(info.error().message().find(c.message), std::string::npos) << info.error().message();
  }
  auto volumes = storage_->ListVolumes();
  ASSERT_TRUE(volumes);
  EXPECT_TRUE(volumes->empty());
}

TEST_F(SpreadPool, VdevRemoveKeepsEnoughHostsForASpreadVolume) {
  ASSERT_TRUE(storage_);
  CreateFilled("v", "host");
  auto first = storage_->RemoveVdev("d5");  // h2 keeps d4
  ASSERT_TRUE(first) << first.error().ToString();
  while (first && !first->done) first = storage_->RemoveVdev("d5");
  ASSERT_TRUE(first) << first.error().ToString();
  auto second = storage_->RemoveVdev("d4");  // h2 would be gone: two hosts for rows of three
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message().find("spans 3 vdevs of distinct host"), std::string::npos)
      << second.error().message();
}

}  // namespace
}  // namespace tessera::testing
