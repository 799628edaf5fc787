// snapshot rollback -r: rolling back past newer snapshots deletes them,
// once every check has passed (storage_rollback.cc, design note 7); without
// -r they are kept (storage_rollback_keep.cc).
#include <gtest/gtest.h>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

class RollbackDestroy : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::move(*pd_.Create());
    ASSERT_TRUE(storage_->CreateVolume({.name = "v", .size = 4 << 20}));
    for (int i = 1; i <= 3; i++) {
      data_.push_back(Pattern(1 << 20, 10 + i));
      Write(data_.back());
      ASSERT_TRUE(storage_->CreateSnapshot("v", fmt::format("s{}", i)));
    }
    Write(Pattern(1 << 20, 99));  // the live volume differs from s3
  }
  void Write(const std::vector<std::byte>& data) {
    auto volume = std::move(*storage_->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, data, false));
    ASSERT_TRUE(volume->Flush());
  }
  std::vector<std::string> Snapshots() {
    std::vector<std::string> names;
    auto listed = storage_->ListSnapshots("v");
    EXPECT_TRUE(listed) << listed.error().ToString();
    if (!listed) return names;
    for (const SnapshotInfo& s : *listed) names.push_back(s.name);
    return names;
  }
  void ExpectReads(const std::string& name, const std::vector<std::byte>& want) {
    auto volume = storage_->OpenVolume(name);
    ASSERT_TRUE(volume) << volume.error().ToString();
    std::vector<std::byte> got(want.size());
    ASSERT_TRUE((*volume)->Read(0, got));
    EXPECT_TRUE(got == want) << name;
  }

  PoolDir pd_{1, 128ull << 20};
  std::unique_ptr<Storage> storage_;
  std::vector<std::vector<std::byte>> data_;  // of s1, s2, s3
};

TEST_F(RollbackDestroy, DeletesTheNewerSnapshotsAndRollsBack) {
  ASSERT_TRUE(storage_->RollbackSnapshot("v", "s1", false, /*destroy_newer=*/true));
  EXPECT_EQ(Snapshots(), (std::vector<std::string>{"s1"}));
  ExpectReads("v", data_[0]);
  ExpectReads("v@s1", data_[0]);
  ExpectClean(*storage_);
  ASSERT_TRUE(storage_->Close());
  storage_.reset();
  auto reopened = pd_.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  storage_ = std::move(*reopened);
  ExpectReads("v", data_[0]);
  EXPECT_EQ(Snapshots(), (std::vector<std::string>{"s1"}));
  ExpectClean(*storage_);
}

TEST_F(RollbackDestroy, WithoutItTheNewerSnapshotsAreKept) {
  ASSERT_TRUE(storage_->RollbackSnapshot("v", "s1", false));
  EXPECT_EQ(Snapshots(), (std::vector<std::string>{"s1", "s2", "s3"}));
  ExpectReads("v", data_[0]);
  ExpectReads("v@s2", data_[1]);
  ExpectReads("v@s3", data_[2]);
  ExpectClean(*storage_);
}

TEST_F(RollbackDestroy, BadTargetsAreRefusedAndChangeNothing) {
  ASSERT_TRUE(storage_->CloneSnapshot("v", "s2", "c"));
  const std::vector<std::byte> live = [&] {
    std::vector<std::byte> got(1 << 20);
    auto volume = std::move(*storage_->OpenVolume("v"));
    EXPECT_TRUE(volume->Read(0, got));
    return got;
  }();
  struct Bad {
    std::string volume, snapshot;
    Code code;
  };
  for (const Bad& bad : {Bad{"v", "nope", Code::kNotFound}, Bad{"ghost", "s1", Code::kNotFound},
                         Bad{"c", "s1", Code::kNotFound}, Bad{"v@s1", "s1", Code::kNotFound},
                         Bad{"v", "", Code::kNotFound}}) {
    for (bool destroy : {false, true}) {
      auto refused = storage_->RollbackSnapshot(bad.volume, bad.snapshot, false, destroy);
      ASSERT_FALSE(refused) << bad.volume << "@" << bad.snapshot;
      EXPECT_EQ(refused.error().code(), bad.code) << refused.error().ToString();
    }
  }
  EXPECT_EQ(Snapshots(), (std::vector<std::string>{"s1", "s2", "s3"}));
  ExpectReads("v", live);
  ExpectReads("v@s1", data_[0]);
  ExpectReads("c", data_[1]);
  ExpectClean(*storage_);
}

TEST_F(RollbackDestroy, ACloneOfANewerSnapshotRefusesAndDeletesNothing) {
  ASSERT_TRUE(storage_->CloneSnapshot("v", "s2", "c"));
  auto refused = storage_->RollbackSnapshot("v", "s1", false, true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kBusy);
  EXPECT_NE(refused.error().message().find("'c'"), std::string::npos) << refused.error().message();
  EXPECT_EQ(Snapshots(), (std::vector<std::string>{"s1", "s2", "s3"}));
  ExpectReads("v@s3", data_[2]);
  ExpectClean(*storage_);
}

TEST_F(RollbackDestroy, AnExportedNewerSnapshotOrAWriterRefusesAndDeletesNothing) {
  {
    auto exported = std::move(*storage_->OpenVolume("v@s3"));
    auto refused = storage_->RollbackSnapshot("v", "s1", false, true);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kBusy) << refused.error().ToString();
  }
  {
    auto writer = std::move(*storage_->OpenVolume("v"));
    auto refused = storage_->RollbackSnapshot("v", "s1", false, true);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kBusy) << refused.error().ToString();
  }
  EXPECT_EQ(Snapshots(), (std::vector<std::string>{"s1", "s2", "s3"}));
  ExpectReads("v@s2", data_[1]);
}

}  // namespace
}  // namespace tessera::testing
