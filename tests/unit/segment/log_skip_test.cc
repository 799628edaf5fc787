// LogSegment::SkipToRow: the head moves to a later row's start, and a batch
// written there after the last commit is found by replay after a crash
// (log_replay.cc design note 2), however many rows were skipped.
#include <gtest/gtest.h>

#include <memory>

#include "core/pool/config.h"
#include "core/pool/pool.h"
#include "core/segment/log_segment.h"
#include "core/segment/lun_segment.h"
#include "core/tree/memory_node_store.h"
#include "core/tree/node_cache.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/segment/log_test_util.h"

namespace tessera {
namespace {

constexpr uint64_t kVolumeId = 11;
constexpr uint64_t kVolumeBytes = 64 * kBlockSize;
constexpr uint64_t kRowBytes = 16 * kBlockSize;

using testing::OneVdevRowSource;

class LogSkip : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolConfig config;
    config.vdevs.push_back(VdevConfig{.name = "v0", .path = "/v0", .size_bytes = kMinVdevBytes});
    auto pool = Pool::Create(config, {std::make_shared<MemoryVdev>(BlockCount{kMinVdevBytes / kBlockSize})});
    ASSERT_TRUE(pool) << pool.error().ToString();
    pool_ = std::move(*pool);
    lun_ = std::make_shared<LunSegment>(
        1, LunOptions{.n_devices = 1, .chunk_size = kBlockSize, .max_block_size = kRowBytes}, pool_.get(), &source_);
    for (int i = 0; i < 5; i++) ASSERT_TRUE(lun_->Grow());
    auto tree = Tree::Create(&store_, &cache_, &actions_, TreeOptions{});
    ASSERT_TRUE(tree);
    tree_ = std::move(*tree);
  }

  std::unique_ptr<LogSegment> OpenLog(uint64_t* replayed = nullptr) {
    auto log = std::make_unique<LogSegment>(2, kVolumeId, kVolumeBytes, tree_.get(), lun_, nullptr,
                                            [] { return Ok(); });
    auto n = log->Replay();
    EXPECT_TRUE(n) << n.error().ToString();
    if (replayed) *replayed = n.value_or(0);
    return log;
  }

  // Commits (head recorded, tree synced); `after` runs on the same log; then
  // the crash: the tree goes back to the commit, the lun keeps its data.
  void CommitThenCrash(LogSegment& log, const std::function<void(LogSegment&)>& after) {
    ASSERT_TRUE(log.RecordHead());
    auto synced = tree_->Sync();
    ASSERT_TRUE(synced) << synced.error().ToString();
    after(log);
    auto tree = Tree::Open(&store_, &cache_, &actions_, TreeOptions{}, *synced);
    ASSERT_TRUE(tree) << tree.error().ToString();
    tree_ = std::move(*tree);
  }

  static std::vector<std::byte> Block(uint8_t fill) { return std::vector<std::byte>(kBlockSize, std::byte{fill}); }

  std::unique_ptr<Pool> pool_;
  OneVdevRowSource source_;
  std::shared_ptr<LunSegment> lun_;
  MemoryNodeStore store_;
  NodeCache cache_{1u << 20};
  DefaultMessageActions actions_;
  std::unique_ptr<Tree> tree_;
};

TEST_F(LogSkip, ABatchRowsPastTheCommittedHeadIsReplayed) {
  {
    auto log = OpenLog();
    ASSERT_TRUE(log->Write(0, Block(1), kWriteNone));
    // Uncommitted: the head skips rows 1 and 2, and a batch lands in row 3.
    CommitThenCrash(*log, [&](LogSegment& l) {
      ASSERT_TRUE(l.SkipToRow(3 * kRowBytes));
      EXPECT_EQ(l.HeadOffset(), 3 * kRowBytes);
      ASSERT_TRUE(l.Write(kBlockSize, Block(2), kWriteNone));
      ASSERT_TRUE(l.Flush());
    });
  }
  uint64_t replayed = 0;
  auto log = OpenLog(&replayed);
  EXPECT_EQ(replayed, 1u);
  std::vector<std::byte> got(2 * kBlockSize);
  ASSERT_TRUE(log->Read(0, got));
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + kBlockSize, Block(1).begin()));
  EXPECT_TRUE(std::equal(got.begin() + kBlockSize, got.end(), Block(2).begin()));
  // And the head goes on from there.
  EXPECT_EQ(log->HeadOffset(), 3 * kRowBytes + 2 * kBlockSize);
}

TEST_F(LogSkip, OnlyToRowStartsAndNeverBack) {
  auto log = OpenLog();
  ASSERT_TRUE(log->Write(0, Block(1), kWriteNone));
  for (uint64_t to : {kBlockSize, kRowBytes + kBlockSize, 5 * kRowBytes, 9 * kRowBytes}) {
    auto skipped = log->SkipToRow(to);
    ASSERT_FALSE(skipped) << to;
    EXPECT_EQ(skipped.error().code(), Code::kInvalidArgument);
  }
  // The head's own row: it is there already.
  ASSERT_TRUE(log->SkipToRow(0));
  EXPECT_EQ(log->HeadOffset(), 2 * kBlockSize);  // unchanged
  // A removed row cannot be skipped to either.
  ASSERT_TRUE(lun_->RemoveRow(2 * kRowBytes));
  EXPECT_FALSE(log->SkipToRow(2 * kRowBytes));
  ASSERT_TRUE(log->SkipToRow(3 * kRowBytes));
  EXPECT_EQ(log->HeadOffset(), 3 * kRowBytes);
  // Back to a row before the head's: nothing changes.
  ASSERT_TRUE(log->SkipToRow(kRowBytes));
  EXPECT_EQ(log->HeadOffset(), 3 * kRowBytes);
}

}  // namespace
}  // namespace tessera
