// Log replay over an erasure-coded data segment: a batch is accepted only
// when every stripe under it holds one complete write, and its stripes come
// out of replay fully redundant (design note 3a of core/segment/log_replay.cc,
// contract 8 of core/segment/jerasure_segment.h). tessera_thrash found the
// torn case (tests/thrash/README.md, bug 6): a power loss kept the data chunk
// holding a batch's header and blocks, and only the headers of the stripe's
// other data chunks, and replay accepted the batch, leaving below the head a
// stripe that scrub and vdev replace could not rebuild. And a batch torn
// at a row's end does not stay below the head (bug 7; design note 2 of
// core/segment/log_segment.cc).
#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "core/segment/log_segment.h"
#include "core/tree/memory_node_store.h"
#include "core/tree/node_cache.h"
#include "tests/unit/segment/jerasure_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kVolumeId = 5;
constexpr uint64_t kVolumeBytes = 64 * kBlockSize;

class LogReplayStripes : public ::testing::Test {
 protected:
  // rs:4+2 with 16 KiB chunks: a stripe holds 12 blocks, so a batch of one
  // block (header + block) fills part of data chunk 0 and pads the rest.
  LogReplayStripes() : rig_([] {
      EcRigOptions o = Rs(4, 2);
      o.rows = 2;
      return o;
    }()) {
    auto tree = Tree::Create(&store_, &cache_, &actions_, TreeOptions{});
    EXPECT_TRUE(tree);
    tree_ = std::move(*tree);
    // A second segment object over the same lun and id: the log's, as a
    // reopened volume builds it; rig_.seg stays for inspecting.
    auto seg = JerasureSegment::Create(88, rig_.options.code, rig_.lun, rig_.pool.get());
    EXPECT_TRUE(seg) << seg.error().ToString();
    data_ = std::shared_ptr<DataSegment>(std::move(*seg));
  }

  std::unique_ptr<LogSegment> OpenLog() {
    auto log = std::make_unique<LogSegment>(2, kVolumeId, kVolumeBytes, tree_.get(), data_, nullptr,
                                            [] { return Ok(); });
    auto replayed = log->Replay();
    EXPECT_TRUE(replayed) << replayed.error().ToString();
    replayed_ = replayed.value_or(0);
    return log;
  }

  // Runs `committed` on a fresh log and commits (head recorded, tree
  // synced), runs `uncommitted`, then crashes: the tree goes back to the
  // commit, the data segment keeps what was written.
  void CommitThenCrash(const std::function<void(LogSegment&)>& committed,
                       const std::function<void(LogSegment&)>& uncommitted) {
    BlockPtr root;
    {
      auto log = OpenLog();
      committed(*log);
      ASSERT_TRUE(log->RecordHead());
      auto synced = tree_->Sync();
      ASSERT_TRUE(synced) << synced.error().ToString();
      root = *synced;
      uncommitted(*log);
    }
    auto tree = Tree::Open(&store_, &cache_, &actions_, TreeOptions{}, root);
    ASSERT_TRUE(tree) << tree.error().ToString();
    tree_ = std::move(*tree);
  }

  // Batch A (block 0, stripe 0) committed; batch B (block 1, stripe 1)
  // written after the committed head; then the crash.
  void WriteCommittedThenUncommittedThenCrash() {
    CommitThenCrash([&](LogSegment& log) { ASSERT_TRUE(log.Write(0, a_, kWriteNone)); },
                    [&](LogSegment& log) {
                      ASSERT_TRUE(log.Write(kBlockSize, b_, kWriteNone));
                      ASSERT_EQ(log.HeadOffset(), 2 * stripe());
                    });
  }

  // Chunk j of `stripe` keeps its header; its data is what the device held
  // before (the data went down in a request the power loss dropped).
  void LoseDataOf(uint64_t stripe, uint32_t j) {
    std::vector<std::byte> raw = rig_.RawChunk(stripe, j);
    std::fill(raw.begin() + kChunkHeaderBytes, raw.end(), std::byte{0x6b});
    rig_.PutRawChunk(stripe, j, raw);
  }
  // Nothing of chunk j's write landed (the block is fresh: zeros).
  void LoseChunk(uint64_t stripe, uint32_t j) {
    rig_.PutRawChunk(stripe, j, std::vector<std::byte>(rig_.options.chunk_size));
  }

  std::vector<std::byte> ReadBlock(LogSegment& log, uint64_t lba) {
    std::vector<std::byte> out(kBlockSize);
    auto read = log.Read(lba * kBlockSize, out);
    EXPECT_TRUE(read) << read.error().ToString();
    return out;
  }

  // Every stripe below the log's head reads whole and is fully redundant.
  void ExpectWholeBelow(uint64_t head) {
    auto report = rig_.seg->InspectRows(InspectMode::kFull, RowInspectOptions{.live_end = head});
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_EQ(report->bad, 0u) << (report->problems.empty() ? "" : report->problems[0]);
    EXPECT_EQ(report->unrecoverable, 0u);
  }

  uint64_t stripe() const { return rig_.seg->stripe_bytes(); }

  EcRig rig_;
  MemoryNodeStore store_;
  NodeCache cache_{1u << 20};
  DefaultMessageActions actions_;
  std::unique_ptr<Tree> tree_;
  std::shared_ptr<DataSegment> data_;
  uint64_t replayed_ = 0;
  const std::vector<std::byte> a_ = std::vector<std::byte>(kBlockSize, std::byte{0xa1});
  const std::vector<std::byte> b_ = std::vector<std::byte>(kBlockSize, std::byte{0xb2});
};

// The thrasher's case: data chunk 0 (the batch's header and block) landed,
// data chunks 1-3 only as headers, the parity not at all. The blocks read
// back, but the stripe has one good chunk of six: the batch is torn, and
// replay must end the log before it.
TEST_F(LogReplayStripes, BatchOverATornStripeIsNotReplayed) {
  WriteCommittedThenUncommittedThenCrash();
  for (uint32_t j = 1; j <= 3; j++) LoseDataOf(1, j);
  LoseChunk(1, 4);
  LoseChunk(1, 5);
  auto log = OpenLog();
  EXPECT_EQ(replayed_, 0u) << "a batch over a stripe with 1 good chunk of 6 was replayed";
  EXPECT_EQ(log->HeadOffset(), stripe());
  EXPECT_EQ(ReadBlock(*log, 0), a_);
  EXPECT_EQ(ReadBlock(*log, 1), std::vector<std::byte>(kBlockSize));
  ExpectWholeBelow(log->HeadOffset());
  // The next batch goes where the torn one was.
  ASSERT_TRUE(log->Write(kBlockSize, b_, kWriteNone));
  EXPECT_EQ(log->HeadOffset(), 2 * stripe());
  ExpectWholeBelow(log->HeadOffset());
}

// Torn within the parity (both parity chunks lost): the batch is replayed,
// and its stripe is rebuilt, so it is fully redundant again.
TEST_F(LogReplayStripes, BatchOverAStripeMissingItsParityIsReplayedAndRepaired) {
  WriteCommittedThenUncommittedThenCrash();
  LoseChunk(1, 4);
  LoseChunk(1, 5);
  auto log = OpenLog();
  EXPECT_EQ(replayed_, 1u);
  EXPECT_EQ(log->HeadOffset(), 2 * stripe());
  EXPECT_EQ(ReadBlock(*log, 1), b_);
  ExpectWholeBelow(log->HeadOffset());
}

// An acknowledged batch with a device lost since is still replayed: a
// chunk that cannot be read is within the parity.
TEST_F(LogReplayStripes, BatchWithAnUnreadableChunkIsReplayed) {
  WriteCommittedThenUncommittedThenCrash();
  rig_.FailVdev(rig_.Locate(1, 2).address.vdev(), FaultOpKind::kRead);
  auto log = OpenLog();
  EXPECT_EQ(replayed_, 1u);
  EXPECT_EQ(log->HeadOffset(), 2 * stripe());
  EXPECT_EQ(ReadBlock(*log, 1), b_);
}

// Bug 7: a batch torn at a row's end stays there when the next batch does
// not fit in the rest of the row. Skipped to the next row, it would sit
// below the head for good, an incomplete write that every scrub counts;
// cut at the row's end, the next batch overwrites it.
TEST_F(LogReplayStripes, TornBatchAtARowEndIsOverwrittenByTheNextBatch) {
  const uint64_t row_blocks = rig_.seg->row_bytes() / kBlockSize;  // 4 stripes of 12 blocks
  const uint64_t stripe_blocks = stripe() / kBlockSize;
  std::mt19937_64 rng(7);
  auto first = Random((row_blocks - stripe_blocks - 1) * kBlockSize, rng);  // stripes 0-2
  CommitThenCrash([&](LogSegment& log) { ASSERT_TRUE(log.Write(0, first, kWriteNone)); },
                  [&](LogSegment& log) {
                    ASSERT_TRUE(log.Write(40 * kBlockSize, b_, kWriteNone));  // stripe 3, the row's last
                    ASSERT_EQ(log.HeadOffset(), row_blocks * kBlockSize);
                  });
  for (uint32_t j = 1; j < 6; j++) LoseChunk(3, j);  // only data chunk 0 landed
  auto log = OpenLog();
  EXPECT_EQ(replayed_, 0u);
  ASSERT_EQ(log->HeadOffset(), 3 * stripe());
  // More than the rest of the row (one stripe) holds.
  auto next = Random(20 * kBlockSize, rng);
  ASSERT_TRUE(log->Write(44 * kBlockSize, next, kWriteNone));
  EXPECT_GT(log->HeadOffset(), rig_.seg->row_bytes());
  ExpectWholeBelow(log->HeadOffset());
  std::vector<std::byte> got(next.size());
  ASSERT_TRUE(log->Read(44 * kBlockSize, got));
  EXPECT_EQ(got, next);
  got.resize(first.size());
  ASSERT_TRUE(log->Read(0, got));
  EXPECT_EQ(got, first);
}

}  // namespace
}  // namespace tessera::testing
