// The log's row counters (live blocks per row) stay exact while writes of
// consecutive runs, overlapping runs within one WriteBlocks, single blocks
// and trims are applied: design note 7 of core/segment/log_segment.cc reads
// the old mappings of a run with one Scan, and the counters must come out as
// a recount of the mappings says, with the data as a model says.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <vector>

#include "core/pool/config.h"
#include "core/pool/pool.h"
#include "core/segment/log_format.h"
#include "core/segment/log_segment.h"
#include "core/segment/lun_segment.h"
#include "core/tree/memory_node_store.h"
#include "core/tree/node_cache.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/segment/log_test_util.h"

namespace tessera {
namespace {

constexpr uint64_t kVolumeBlocks = 256;
constexpr uint64_t kVdevBytes = 64ull << 20;
// Rows hold a whole batch (kLogMaxEntries blocks and its header), as every
// volume's rows do (4 MiB at least); runs still cross row ends, where the log
// cuts them (design note 2 of log_segment.cc).
constexpr uint64_t kRowBlocks = 256;

using testing::OneVdevRowSource;

class LogRowCounters : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolConfig config;
    config.vdevs.push_back(VdevConfig{.name = "v0", .path = "/v0", .size_bytes = kVdevBytes});
    auto pool = Pool::Create(config, {std::make_shared<MemoryVdev>(BlockCount{kVdevBytes / kBlockSize})});
    ASSERT_TRUE(pool) << pool.error().ToString();
    pool_ = std::move(*pool);
    lun_ = std::make_shared<LunSegment>(1, LunOptions{.n_devices = 1, .chunk_size = kBlockSize,
                                                      .max_block_size = kRowBlocks * kBlockSize},
                                        pool_.get(), &source_);
    ASSERT_TRUE(lun_->Grow());
    ASSERT_TRUE(lun_->Grow());
    auto tree = Tree::Create(&store_, &cache_, &actions_, TreeOptions{});
    ASSERT_TRUE(tree);
    tree_ = std::move(*tree);
    log_ = std::make_unique<LogSegment>(2, 7, kVolumeBlocks * kBlockSize, tree_.get(), lun_, nullptr,
                                        [this]() -> Status {
                                          TRY_STATUS(lun_->Grow());
                                          return Ok();
                                        });
  }

  // Live blocks per row start, recounted from the mappings themselves.
  std::map<uint64_t, int64_t> Recount() {
    std::map<uint64_t, int64_t> out;
    const uint64_t row = lun_->row_bytes();
    auto scanned = tree_->Scan(MappingKey(0), MappingKey(kVolumeBlocks), [&](std::string_view, std::string_view v) {
      auto m = DecodeMapping(v);
      EXPECT_TRUE(m);
      if (m && !m->zero()) out[m->data_offset - m->data_offset % row]++;
      return true;
    });
    EXPECT_TRUE(scanned) << scanned.error().ToString();
    return out;
  }

  void ExpectCountersExact(const std::string& after) {
    auto counted = log_->RowLiveBlocks();
    ASSERT_TRUE(counted) << counted.error().ToString();
    std::map<uint64_t, int64_t> nonzero;
    for (auto [row, n] : *counted) {
      if (n != 0) nonzero[row] = n;
    }
    std::map<uint64_t, int64_t> recount = Recount();
    std::string differ;
    for (auto [row, n] : nonzero) {
      if (recount[row] != n) differ += " row " + std::to_string(row) + ": " + std::to_string(n) + " counted, " +
                                       std::to_string(recount[row]) + " mapped;";
    }
    for (auto [row, n] : recount) {
      if (n != 0 && !nonzero.contains(row)) differ += " row " + std::to_string(row) + ": not counted, " + std::to_string(n) + " mapped;";
    }
    ASSERT_EQ(differ, "") << "after " << after;
  }

  void ExpectData(const std::vector<uint8_t>& model) {
    std::vector<std::byte> all(kVolumeBlocks * kBlockSize);
    ASSERT_TRUE(log_->Read(0, all));
    for (uint64_t lba = 0; lba < kVolumeBlocks; lba++) {
      ASSERT_EQ(all[lba * kBlockSize], std::byte{model[lba]}) << "block " << lba;
      ASSERT_EQ(all[lba * kBlockSize + kBlockSize - 1], std::byte{model[lba]}) << "block " << lba;
    }
  }

  MemoryNodeStore store_;
  NodeCache cache_{64ull << 20};
  DefaultMessageActions actions_;
  std::unique_ptr<Pool> pool_;
  OneVdevRowSource source_;
  std::shared_ptr<LunSegment> lun_;
  std::unique_ptr<Tree> tree_;
  std::unique_ptr<LogSegment> log_;
};

TEST_F(LogRowCounters, RunsOverlapsSinglesAndTrimsKeepThemExact) {
  std::mt19937_64 rng(20261206);
  std::vector<uint8_t> model(kVolumeBlocks, 0);
  uint8_t token = 0;
  // A run of `n` blocks at `lba`, each block filled with a fresh token.
  auto run = [&](uint64_t lba, uint64_t n, std::vector<std::vector<std::byte>>& keep) -> BlockWrite {
    keep.emplace_back(n * kBlockSize);
    for (uint64_t i = 0; i < n; i++) {
      token = static_cast<uint8_t>(token % 250 + 1);
      std::fill_n(keep.back().begin() + static_cast<ptrdiff_t>(i * kBlockSize), kBlockSize, std::byte{token});
      model[lba + i] = token;
    }
    return BlockWrite{.offset = lba * kBlockSize, .data = keep.back()};
  };
  for (int op = 0; op < 150; op++) {
    std::vector<std::vector<std::byte>> keep;
    std::vector<BlockWrite> writes;
    std::string what;
    switch (rng() % 4) {
      case 0: {  // one long run of consecutive blocks
        uint64_t n = 4 + rng() % 28, lba = rng() % (kVolumeBlocks - n);
        writes.push_back(run(lba, n, keep));
        what = "a run";
        break;
      }
      case 1: {  // runs overlapping each other within one WriteBlocks
        uint64_t n = 6 + rng() % 10, lba = rng() % (kVolumeBlocks - 2 * n);
        writes.push_back(run(lba, n, keep));
        writes.push_back(run(lba + n / 2, n, keep));
        writes.push_back(run(lba + 1, 2, keep));
        what = "overlapping runs";
        break;
      }
      case 2: {  // scattered single blocks
        for (int k = 0; k < 5; k++) writes.push_back(run(rng() % kVolumeBlocks, 1, keep));
        what = "single blocks";
        break;
      }
      default: {
        uint64_t n = 1 + rng() % 24, lba = rng() % (kVolumeBlocks - n);
        ASSERT_TRUE(log_->Trim(lba * kBlockSize, n * kBlockSize));
        std::fill_n(model.begin() + static_cast<ptrdiff_t>(lba), n, 0);
        what = "a trim";
      }
    }
    if (!writes.empty()) {
      auto written = log_->WriteBlocks(writes);
      ASSERT_TRUE(written) << written.error().ToString();
    }
    ExpectCountersExact("op " + std::to_string(op) + ", " + what);
    if (op % 25 == 24) ExpectData(model);
  }
  ExpectData(model);
}

}  // namespace
}  // namespace tessera
