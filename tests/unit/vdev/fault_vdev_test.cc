#include "core/vdev/fault_vdev.h"

#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <thread>

#include "core/vdev/file_vdev.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/vdev/vdev_test_util.h"

namespace tessera {
namespace {

using testing::AllZero;
using testing::Pattern;

constexpr uint64_t kBlocks = 64;

class FaultVdevTest : public ::testing::Test {
 protected:
  // Reads `count` blocks at `block` straight from the wrapped device.
  AlignedBuffer Below(uint64_t block, uint64_t count = 1) {
    AlignedBuffer buf(count * kBlockSize);
    EXPECT_TRUE(base_->Read(BlockNo{block}, buf.span()));
    return buf;
  }
  bool BelowIs(uint64_t block, uint64_t version) {
    return std::memcmp(Below(block).data(), Pattern(1, block, version).data(), kBlockSize) == 0;
  }
  Status WriteVersion(uint64_t block, uint64_t version) {
    return fault_.Write(BlockNo{block}, Pattern(1, block, version).span());
  }

  std::shared_ptr<MemoryVdev> base_ = std::make_shared<MemoryVdev>(BlockCount{kBlocks});
  FaultVdev fault_{base_};
};

TEST_F(FaultVdevTest, ForwardsWhileHealthy) {
  EXPECT_EQ(fault_.Size().value, kBlocks);
  testing::RunModelTest(fault_, testing::TestSeed(), 500);
}

TEST_F(FaultVdevTest, PowerLossDropsExactlyUnflushedWrites) {
  ASSERT_TRUE(WriteVersion(0, 1));
  ASSERT_TRUE(WriteVersion(1, 1));
  ASSERT_TRUE(fault_.Flush());
  ASSERT_TRUE(WriteVersion(1, 2));  // Overwrites flushed data.
  ASSERT_TRUE(WriteVersion(1, 3));  // Twice: restore must go newest-first.
  ASSERT_TRUE(WriteVersion(5, 2));  // Fresh block.
  ASSERT_TRUE(fault_.Discard(BlockNo{0}, BlockCount{1}));
  EXPECT_EQ(fault_.UnflushedMutations(), 4u);

  ASSERT_TRUE(fault_.SimulatePowerLoss());
  EXPECT_TRUE(fault_.IsDead());
  EXPECT_TRUE(BelowIs(0, 1));
  EXPECT_TRUE(BelowIs(1, 1));
  EXPECT_TRUE(AllZero(Below(5).span()));

  AlignedBuffer buf(kBlockSize);
  Status read = fault_.Read(BlockNo{0}, buf.span());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
  EXPECT_NE(read.error().message().find("lost power"), std::string::npos);
  EXPECT_FALSE(WriteVersion(2, 1));
  EXPECT_FALSE(fault_.Flush());
  EXPECT_TRUE(AllZero(Below(2).span()));  // The dead write did not land.

  fault_.Revive();
  ASSERT_TRUE(fault_.Read(BlockNo{1}, buf.span()));
  EXPECT_EQ(0, std::memcmp(buf.data(), Pattern(1, 1, 1).data(), kBlockSize));
  EXPECT_EQ(fault_.Counters().power_losses, 1u);
}

// Writes versions 1..3 of blocks 0..31 unflushed over a flushed version 0.
void WriteSubsetWorkload(FaultVdev& fault) {
  for (uint64_t b = 0; b < 32; ++b) ASSERT_TRUE(fault.Write(BlockNo{b}, Pattern(1, b, 0).span()));
  ASSERT_TRUE(fault.Flush());
  for (uint64_t v = 1; v <= 3; ++v) {
    for (uint64_t b = 0; b < 32; ++b) {
      ASSERT_TRUE(fault.Write(BlockNo{b}, Pattern(1, b, v).span()));
    }
  }
}

TEST_F(FaultVdevTest, RandomSubsetPowerLossKeepsSomeAndIsDeterministic) {
  const uint64_t seed = testing::TestSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  ASSERT_NO_FATAL_FAILURE(WriteSubsetWorkload(fault_));
  ASSERT_TRUE(fault_.SimulatePowerLoss(seed));
  std::vector<int> version(32, -1);
  for (uint64_t b = 0; b < 32; ++b) {
    for (int v = 0; v <= 3; ++v) {
      if (BelowIs(b, v)) version[b] = v;
    }
    ASSERT_NE(version[b], -1) << "block " << b << " holds none of its versions";
  }
  // 96 independent coin flips. A block shows its last version when that
  // write landed (1/2) and its durable one when all three were dropped
  // (1/8), so "some block at version 0" fails one run in 70 ((7/8)^32);
  // what is asserted is that some write was dropped (some block is not at
  // version 3: fails with probability 2^-32) and some kept (some block is
  // not at version 0: 8^-32).
  EXPECT_TRUE(std::any_of(version.begin(), version.end(), [](int v) { return v != 3; }));
  EXPECT_TRUE(std::any_of(version.begin(), version.end(), [](int v) { return v != 0; }));

  auto base2 = std::make_shared<MemoryVdev>(BlockCount{kBlocks});
  FaultVdev fault2(base2);
  ASSERT_NO_FATAL_FAILURE(WriteSubsetWorkload(fault2));
  ASSERT_TRUE(fault2.SimulatePowerLoss(seed));
  AlignedBuffer a(32 * kBlockSize), b(32 * kBlockSize);
  ASSERT_TRUE(base_->Read(BlockNo{0}, a.span()));
  ASSERT_TRUE(base2->Read(BlockNo{0}, b.span()));
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size())) << "same seed, different image";
}

TEST_F(FaultVdevTest, CrashAfterWritesAtEveryPoint) {
  // Workload: 10 writes to distinct blocks, a flush after the 4th and the 7th.
  for (uint64_t crash_at = 0; crash_at <= 10; ++crash_at) {
    SCOPED_TRACE("crash after " + std::to_string(crash_at) + " writes");
    auto base = std::make_shared<MemoryVdev>(BlockCount{kBlocks});
    FaultVdev fault(base);
    fault.CrashAfterWrites(crash_at);
    uint64_t durable = 0;  // Writes covered by a successful flush.
    uint64_t written = 0;
    for (uint64_t w = 0; w < 10; ++w) {
      Status s = fault.Write(BlockNo{w}, Pattern(1, w, 1).span());
      if (!s) {
        EXPECT_EQ(w, crash_at);
        EXPECT_TRUE(fault.IsDead());
        break;
      }
      ++written;
      if ((w == 3 || w == 6) && fault.Flush()) durable = written;
    }
    EXPECT_EQ(written, std::min<uint64_t>(crash_at, 10));
    if (crash_at >= 10) {
      EXPECT_FALSE(fault.IsDead());
      ASSERT_TRUE(fault.SimulatePowerLoss());
    }
    for (uint64_t w = 0; w < 10; ++w) {
      AlignedBuffer buf(kBlockSize);
      ASSERT_TRUE(base->Read(BlockNo{w}, buf.span()));
      bool holds = std::memcmp(buf.data(), Pattern(1, w, 1).data(), kBlockSize) == 0;
      EXPECT_EQ(holds, w < durable) << "block " << w;
      if (!holds) {
        EXPECT_TRUE(AllZero(buf.span())) << "block " << w;
      }
    }
  }
}

TEST_F(FaultVdevTest, FailNthOnce) {
  fault_.FailNth(2, /*persistent=*/false, FaultOpKind::kWrite);
  AlignedBuffer buf(kBlockSize);
  ASSERT_TRUE(fault_.Read(BlockNo{0}, buf.span()));  // Reads do not count.
  EXPECT_TRUE(WriteVersion(0, 1));
  Status s = WriteVersion(1, 1);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kIOError);
  EXPECT_TRUE(AllZero(Below(1).span()));  // Not forwarded.
  EXPECT_TRUE(WriteVersion(2, 1));
  EXPECT_TRUE(WriteVersion(1, 1));
  EXPECT_TRUE(BelowIs(1, 1));
  EXPECT_FALSE(fault_.IsDead());
}

TEST_F(FaultVdevTest, FailNthPersistentAnyKindUntilCleared) {
  fault_.FailNth(3, /*persistent=*/true);
  AlignedBuffer buf(kBlockSize);
  EXPECT_TRUE(WriteVersion(0, 1));                   // 1
  EXPECT_TRUE(fault_.Read(BlockNo{0}, buf.span()));  // 2
  EXPECT_FALSE(fault_.Flush());                      // 3
  EXPECT_FALSE(fault_.Read(BlockNo{0}, buf.span())); // 4
  EXPECT_FALSE(WriteVersion(1, 1));                  // 5
  fault_.ClearFailures();
  EXPECT_TRUE(fault_.Read(BlockNo{0}, buf.span()));
  // The failed flush made nothing durable: power loss still drops write 1.
  ASSERT_TRUE(fault_.SimulatePowerLoss());
  EXPECT_TRUE(AllZero(Below(0).span()));
}

TEST_F(FaultVdevTest, FailedRequestDoesNotStopTheRestOfItsBatch) {
  fault_.FailNth(2, false, FaultOpKind::kWrite);
  AlignedBuffer a = Pattern(1, 0, 1), b = Pattern(1, 1, 1), c = Pattern(1, 2, 1);
  IoRequest batch[] = {{.op = IoOp::kWrite, .block = BlockNo{0}, .buffer = a.span()},
                       {.op = IoOp::kWrite, .block = BlockNo{1}, .buffer = b.span()},
                       {.op = IoOp::kWrite, .block = BlockNo{2}, .buffer = c.span()}};
  EXPECT_FALSE(fault_.SubmitBatch(batch));
  EXPECT_TRUE(batch[0].result);
  EXPECT_FALSE(batch[1].result);
  EXPECT_TRUE(batch[2].result);
  EXPECT_TRUE(BelowIs(0, 1));
  EXPECT_TRUE(AllZero(Below(1).span()));
  EXPECT_TRUE(BelowIs(2, 1));
}

TEST_F(FaultVdevTest, BitFlipsOnReadOnly) {
  AlignedBuffer data = Pattern(4, 0, 1);
  ASSERT_TRUE(fault_.Write(BlockNo{0}, data.span()));
  fault_.FlipBitsOnRead(BlockNo{2}, 10, 0x81);
  AlignedBuffer in(4 * kBlockSize);
  for (int pass = 0; pass < 2; ++pass) {  // Persistent across reads.
    ASSERT_TRUE(fault_.Read(BlockNo{0}, in.span()));
    for (size_t i = 0; i < in.size(); ++i) {
      std::byte expect = data.data()[i];
      if (i == 2 * kBlockSize + 10) expect ^= std::byte{0x81};
      ASSERT_EQ(in.data()[i], expect) << "byte " << i;
    }
  }
  EXPECT_EQ(0, std::memcmp(Below(0, 4).data(), data.data(), data.size()));  // Device clean.
  fault_.ClearBitFlips();
  ASSERT_TRUE(fault_.Read(BlockNo{0}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), data.data(), data.size()));

  fault_.SetRandomBitFlips(1.0, 42);
  ASSERT_TRUE(fault_.Read(BlockNo{0}, in.span()));
  for (uint64_t b = 0; b < 4; ++b) {
    int bits = 0;
    for (size_t i = 0; i < kBlockSize; ++i) {
      bits += std::popcount(static_cast<unsigned>(in.data()[b * kBlockSize + i] ^
                                                  data.data()[b * kBlockSize + i]));
    }
    EXPECT_EQ(bits, 1) << "block " << b;
  }
}

TEST_F(FaultVdevTest, TornWriteKeepsPrefixAndLosesPower) {
  AlignedBuffer old_data = Pattern(2, 4, 1);
  ASSERT_TRUE(fault_.Write(BlockNo{4}, old_data.span()));
  ASSERT_TRUE(fault_.Flush());
  ASSERT_TRUE(WriteVersion(9, 1));  // Unflushed: dropped by the power loss.
  fault_.TearNextWrite(5000);
  AlignedBuffer new_data = Pattern(2, 4, 2);
  Status s = fault_.Write(BlockNo{4}, new_data.span());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kIOError);
  EXPECT_TRUE(fault_.IsDead());
  AlignedBuffer now = Below(4, 2);
  EXPECT_EQ(0, std::memcmp(now.data(), new_data.data(), 5000));
  EXPECT_EQ(0, std::memcmp(now.data() + 5000, old_data.data() + 5000, 2 * kBlockSize - 5000));
  EXPECT_TRUE(AllZero(Below(9).span()));
  // The tear is one-shot and survives revival.
  fault_.Revive();
  ASSERT_TRUE(WriteVersion(9, 2));
  EXPECT_TRUE(BelowIs(9, 2));
}

TEST_F(FaultVdevTest, LatencyKeepsConcurrentIoCorrect) {
  fault_.SetLatency(std::chrono::microseconds(300));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 8; ++i) {
        uint64_t b = t * 8 + i;
        if (!fault_.Write(BlockNo{b}, Pattern(1, b, 1).span())) ++failures;
        AlignedBuffer in(kBlockSize);
        if (!fault_.Read(BlockNo{b}, in.span()) ||
            std::memcmp(in.data(), Pattern(1, b, 1).data(), kBlockSize) != 0) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  FaultVdevCounters c = fault_.Counters();
  EXPECT_EQ(c.writes, 32u);
  EXPECT_EQ(c.reads, 32u);
  EXPECT_EQ(c.flushes, 0u);
}

TEST_F(FaultVdevTest, InvalidBatchDoesNotAdvanceFaultRules) {
  fault_.FailNth(1, false, FaultOpKind::kWrite);
  AlignedBuffer buf = Pattern(1, 0, 1);
  EXPECT_EQ(fault_.Write(BlockNo{kBlocks}, buf.span()).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(WriteVersion(0, 1).error().code(), Code::kIOError);  // Still the 1st write.
  EXPECT_TRUE(WriteVersion(0, 1));
}

TEST(FaultVdevOverFile, PowerLossThenReopen) {
  testing::TempPath tmp;
  auto file = FileVdev::Open(tmp.path(), {.create = true, .create_size = BlockCount{16}});
  ASSERT_TRUE(file) << file.error().ToString();
  std::shared_ptr<Vdev> base = std::move(*file);
  {
    FaultVdev fault(base);
    ASSERT_TRUE(fault.Write(BlockNo{0}, Pattern(1, 0, 1).span()));
    ASSERT_TRUE(fault.Flush());
    ASSERT_TRUE(fault.Write(BlockNo{0}, Pattern(1, 0, 2).span()));
    ASSERT_TRUE(fault.Write(BlockNo{1}, Pattern(1, 1, 2).span()));
    ASSERT_TRUE(fault.SimulatePowerLoss());
  }
  FaultVdev rebooted(base);  // "Reboot" on the surviving device.
  AlignedBuffer in(2 * kBlockSize);
  ASSERT_TRUE(rebooted.Read(BlockNo{0}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), Pattern(1, 0, 1).data(), kBlockSize));
  EXPECT_TRUE(AllZero(in.span().subspan(kBlockSize)));
}

}  // namespace
}  // namespace tessera
