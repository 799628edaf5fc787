// Log replay against batches that verify (sealed header, true block
// checksums, expected epoch and sequence) but name blocks outside the
// volume: design note 5 of core/segment/log_replay.cc.
#include <gtest/gtest.h>

#include <memory>

#include "core/pool/config.h"
#include "core/pool/pool.h"
#include "core/segment/log_segment.h"
#include "core/segment/lun_segment.h"
#include "core/tree/memory_node_store.h"
#include "core/tree/node_cache.h"
#include "core/util/checksum.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/segment/log_test_util.h"

namespace tessera {
namespace {

constexpr uint64_t kVolumeId = 9;
constexpr uint64_t kVolumeBlocks = 64;

using testing::OneVdevRowSource;

class LogReplayBounds : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolConfig config;
    config.vdevs.push_back(VdevConfig{.name = "v0", .path = "/v0", .size_bytes = kMinVdevBytes});
    auto pool = Pool::Create(config, {std::make_shared<MemoryVdev>(BlockCount{kMinVdevBytes / kBlockSize})});
    ASSERT_TRUE(pool) << pool.error().ToString();
    pool_ = std::move(*pool);
    lun_ = std::make_shared<LunSegment>(1, LunOptions{.n_devices = 1, .chunk_size = kBlockSize,
                                                      .max_block_size = 16 * kBlockSize},
                                        pool_.get(), &source_);
    ASSERT_TRUE(lun_->Grow());
    auto tree = Tree::Create(&store_, &cache_, &actions_, TreeOptions{});
    ASSERT_TRUE(tree);
    tree_ = std::move(*tree);
  }

  // Writes a sealed batch of `kind` at data offset 0, as the first batch
  // after an empty head (epoch 0, seq 0); data blocks get true checksums.
  void WriteBatch(LogBatchKind kind, std::vector<LogEntry> entries) {
    LogHeader h{.kind = kind, .volume_id = kVolumeId, .entries = std::move(entries)};
    std::vector<std::byte> batch(kBlockSize);
    for (LogEntry& e : h.entries) {
      if (kind != LogBatchKind::kData) break;
      std::vector<std::byte> block(kBlockSize, std::byte{0x5a});
      e.b = Checksum64(block);
      batch.insert(batch.end(), block.begin(), block.end());
    }
    EncodeLogHeader(h, std::span(batch).first(kBlockSize));
    ASSERT_TRUE(lun_->Write(0, batch, 0));
  }

  Result<uint64_t> Replay() {
    LogSegment log(2, kVolumeId, kVolumeBlocks * kBlockSize, tree_.get(), lun_, nullptr, [] { return Ok(); });
    return log.Replay();
  }

  void ExpectCorruption(const Result<uint64_t>& replayed, std::string_view says = "outside the volume") {
    ASSERT_FALSE(replayed) << "replayed " << *replayed << " batches";
    EXPECT_EQ(replayed.error().code(), Code::kCorruption) << replayed.error().ToString();
    EXPECT_NE(replayed.error().message().find(says), std::string::npos)
        << replayed.error().ToString();
  }

  std::unique_ptr<Pool> pool_;
  OneVdevRowSource source_;
  std::shared_ptr<LunSegment> lun_;
  MemoryNodeStore store_;
  NodeCache cache_{1u << 20};
  DefaultMessageActions actions_;
  std::unique_ptr<Tree> tree_;
};

TEST_F(LogReplayBounds, InRangeBatchesReplay) {
  WriteBatch(LogBatchKind::kData, {{.a = kVolumeBlocks - 1}, {.a = 0}});
  auto replayed = Replay();
  ASSERT_TRUE(replayed) << replayed.error().ToString();
  EXPECT_EQ(*replayed, 1u);
}

TEST_F(LogReplayBounds, WholeVolumeTrimReplays) {
  WriteBatch(LogBatchKind::kTrim, {{.a = 0, .b = kVolumeBlocks}});
  auto replayed = Replay();
  ASSERT_TRUE(replayed) << replayed.error().ToString();
  EXPECT_EQ(*replayed, 1u);
}

TEST_F(LogReplayBounds, DataPastTheEndIsCorruption) {
  WriteBatch(LogBatchKind::kData, {{.a = 3}, {.a = kVolumeBlocks}});
  ExpectCorruption(Replay());
  // Nothing of the batch reached the tree.
  auto mapped = tree_->Get(MappingKey(3));
  ASSERT_TRUE(mapped);
  EXPECT_FALSE(mapped->has_value());
}

TEST_F(LogReplayBounds, DataAtAHugeLbaIsCorruption) {
  WriteBatch(LogBatchKind::kData, {{.a = UINT64_MAX / kBlockSize + 5}});
  ExpectCorruption(Replay());
}

TEST_F(LogReplayBounds, TrimWhoseSumWrapsIsCorruption) {
  // first + count overflows to 3: the range [5, 3) must not reach the tree.
  WriteBatch(LogBatchKind::kTrim, {{.a = 5, .b = UINT64_MAX - 1}});
  ExpectCorruption(Replay());
}

TEST_F(LogReplayBounds, TrimPastTheEndIsCorruption) {
  WriteBatch(LogBatchKind::kTrim, {{.a = kVolumeBlocks - 4, .b = 5}});
  ExpectCorruption(Replay());
}

TEST_F(LogReplayBounds, EmptyTrimIsCorruption) {
  WriteBatch(LogBatchKind::kTrim, {{.a = 1, .b = 0}});
  ExpectCorruption(Replay());
}

// A grow's trim of the range it adds, or a shrink's trim of what it left
// past the new end: it starts at the volume's end (log_segment.cc, design
// note 6), and nowhere else.
TEST_F(LogReplayBounds, TrimPastEndFromTheEndReplays) {
  WriteBatch(LogBatchKind::kTrimPastEnd, {{.a = kVolumeBlocks, .b = 3 * kVolumeBlocks}});
  auto replayed = Replay();
  ASSERT_TRUE(replayed) << replayed.error().ToString();
  EXPECT_EQ(*replayed, 1u);
}

TEST_F(LogReplayBounds, TrimPastEndInsideTheVolumeIsCorruption) {
  WriteBatch(LogBatchKind::kTrimPastEnd, {{.a = kVolumeBlocks - 1, .b = 2}});
  ExpectCorruption(Replay(), "not starting at the end");
}

TEST_F(LogReplayBounds, TrimPastEndThatWrapsOrIsEmptyIsCorruption) {
  WriteBatch(LogBatchKind::kTrimPastEnd, {{.a = kVolumeBlocks, .b = UINT64_MAX - 1}});
  ExpectCorruption(Replay(), "not starting at the end");
  WriteBatch(LogBatchKind::kTrimPastEnd, {{.a = kVolumeBlocks, .b = 0}});
  ExpectCorruption(Replay(), "not starting at the end");
}

}  // namespace
}  // namespace tessera
