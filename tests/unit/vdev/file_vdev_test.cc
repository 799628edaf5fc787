#include "core/vdev/file_vdev.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>

#include "tests/unit/vdev/vdev_test_util.h"

namespace tessera {
namespace {

using testing::AllZero;
using testing::Pattern;
using testing::TempPath;

struct Mode {
  bool io_uring;
  bool direct;
  bool cache_reads = false;
};

class FileVdevTest : public ::testing::TestWithParam<Mode> {
 protected:
  FileVdevOptions Options(BlockCount size) const {
    return {.create = true, .create_size = size, .use_direct = GetParam().direct,
            .cache_reads = GetParam().cache_reads, .use_io_uring = GetParam().io_uring};
  }
  std::unique_ptr<FileVdev> Create(BlockCount size) {
    auto vdev = FileVdev::Open(tmp_.path(), Options(size));
    EXPECT_TRUE(vdev) << vdev.error().ToString();
    return vdev ? std::move(*vdev) : nullptr;
  }
  TempPath tmp_;
};

TEST_P(FileVdevTest, ProbesAsRequested) {
  auto vdev = Create(BlockCount{16});
  ASSERT_NE(vdev, nullptr);
  EXPECT_EQ(vdev->Size().value, 16u);
  EXPECT_FALSE(vdev->IsBlockDevice());
  if (!GetParam().io_uring) {
    EXPECT_FALSE(vdev->UsingIoUring());
  }
  if (!GetParam().direct) {
    EXPECT_FALSE(vdev->UsingDirectIo());
  }
  EXPECT_EQ(vdev->Describe(), "file:" + tmp_.path());
}

TEST_P(FileVdevTest, BatchedRandomWritesReadBack) {
  constexpr uint64_t kBlocks = 2048;
  auto vdev = Create(BlockCount{kBlocks});
  ASSERT_NE(vdev, nullptr);
  std::vector<uint64_t> order(kBlocks);
  for (uint64_t i = 0; i < kBlocks; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  order.resize(300);  // More than one ring's depth: the batch is split.
  std::vector<AlignedBuffer> bufs;
  std::vector<IoRequest> writes;
  for (uint64_t b : order) {
    bufs.push_back(Pattern(1, b, 1));
    writes.push_back({.op = IoOp::kWrite, .block = BlockNo{b}, .buffer = bufs.back().span()});
  }
  ASSERT_TRUE(vdev->SubmitBatch(writes));
  for (const IoRequest& w : writes) EXPECT_TRUE(w.result);

  std::vector<AlignedBuffer> back;
  std::vector<IoRequest> reads;
  for (uint64_t b : order) {
    back.emplace_back(kBlockSize);
    reads.push_back({.op = IoOp::kRead, .block = BlockNo{b}, .buffer = back.back().span()});
  }
  ASSERT_TRUE(vdev->SubmitBatch(reads));
  for (size_t i = 0; i < order.size(); ++i) {
    ASSERT_EQ(0, std::memcmp(back[i].data(), bufs[i].data(), kBlockSize)) << "block " << order[i];
  }
  AlignedBuffer untouched(kBlockSize);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    if (std::find(order.begin(), order.end(), b) != order.end()) continue;
    ASSERT_TRUE(vdev->Read(BlockNo{b}, untouched.span()));
    ASSERT_TRUE(AllZero(untouched.span())) << "block " << b;
    break;
  }
  EXPECT_TRUE(vdev->Flush());
}

TEST_P(FileVdevTest, RandomizedAgainstModel) {
  auto vdev = Create(BlockCount{128});
  ASSERT_NE(vdev, nullptr);
  testing::RunModelTest(*vdev, testing::TestSeed(), 3000);
}

TEST_P(FileVdevTest, ReopenKeepsFlushedData) {
  AlignedBuffer out = Pattern(4, 10, 3);
  {
    auto vdev = Create(BlockCount{32});
    ASSERT_NE(vdev, nullptr);
    ASSERT_TRUE(vdev->Write(BlockNo{10}, out.span()));
    ASSERT_TRUE(vdev->Flush());
  }
  FileVdevOptions reopen = Options(BlockCount{});
  reopen.create = false;
  auto vdev = FileVdev::Open(tmp_.path(), reopen);
  ASSERT_TRUE(vdev) << vdev.error().ToString();
  EXPECT_EQ((*vdev)->Size().value, 32u);
  AlignedBuffer in(4 * kBlockSize);
  ASSERT_TRUE((*vdev)->Read(BlockNo{10}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), out.size()));
}

// Flush syncs the file when a write or discard completed since the last
// sync began, and only then; an async-queue write counts too.
TEST_P(FileVdevTest, FlushSyncsOnlyAfterChanges) {
  auto vdev = Create(BlockCount{32});
  ASSERT_NE(vdev, nullptr);
  ASSERT_TRUE(vdev->Flush());
  EXPECT_EQ(vdev->DeviceFlushes(), 0u) << "nothing written yet";
  AlignedBuffer data = Pattern(1, 3, 7);
  ASSERT_TRUE(vdev->Write(BlockNo{3}, data.span()));
  ASSERT_TRUE(vdev->Flush());
  EXPECT_EQ(vdev->DeviceFlushes(), 1u);
  AlignedBuffer in(kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{3}, in.span()));
  ASSERT_TRUE(vdev->Flush());
  EXPECT_EQ(vdev->DeviceFlushes(), 1u) << "a read needs no sync";
  IoRequest discard{.op = IoOp::kDiscard, .block = BlockNo{3}, .discard_count = BlockCount{1}};
  ASSERT_TRUE(vdev->SubmitBatch(std::span(&discard, 1)));
  ASSERT_TRUE(vdev->Flush());
  EXPECT_EQ(vdev->DeviceFlushes(), 2u) << "a discard needs a sync";
  auto queue = vdev->NewAsyncQueue(2);
  ASSERT_TRUE(queue) << queue.error().ToString();
  IoRequest write{.op = IoOp::kWrite, .block = BlockNo{5}, .buffer = data.span()};
  ASSERT_TRUE((*queue)->Submit(&write));
  ASSERT_TRUE((*queue)->WaitOne());
  ASSERT_TRUE(vdev->Flush());
  ASSERT_TRUE(vdev->Flush());
  EXPECT_EQ(vdev->DeviceFlushes(), 3u);
}

TEST_P(FileVdevTest, OutOfRangeFailsAndTouchesNothing) {
  auto vdev = Create(BlockCount{8});
  ASSERT_NE(vdev, nullptr);
  AlignedBuffer good = Pattern(1, 0, 1), bad = Pattern(1, 8, 1);
  IoRequest batch[] = {
      {.op = IoOp::kWrite, .block = BlockNo{0}, .buffer = good.span()},
      {.op = IoOp::kWrite, .block = BlockNo{8}, .buffer = bad.span()},
  };
  Status s = vdev->SubmitBatch(batch);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  AlignedBuffer all(8 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{0}, all.span()));
  EXPECT_TRUE(AllZero(all.span()));
  EXPECT_EQ(vdev->Discard(BlockNo{4}, BlockCount{5}).error().code(), Code::kInvalidArgument);
}

TEST_P(FileVdevTest, UnalignedBuffersBounce) {
  auto vdev = Create(BlockCount{8});
  ASSERT_NE(vdev, nullptr);
  std::vector<std::byte> raw_out(3 * kBlockSize + 3), raw_in(3 * kBlockSize + 5);
  std::span<std::byte> out(raw_out.data() + 3, 3 * kBlockSize);
  std::span<std::byte> in(raw_in.data() + 5, 3 * kBlockSize);
  testing::FillPattern(out, 2, 9);
  ASSERT_TRUE(vdev->Write(BlockNo{2}, out));
  ASSERT_TRUE(vdev->Read(BlockNo{2}, in));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), out.size()));
}

TEST_P(FileVdevTest, DiscardReadsZeros) {
  auto vdev = Create(BlockCount{16});
  ASSERT_NE(vdev, nullptr);
  AlignedBuffer out = Pattern(16, 0, 1);
  ASSERT_TRUE(vdev->Write(BlockNo{0}, out.span()));
  ASSERT_TRUE(vdev->Discard(BlockNo{4}, BlockCount{8}));
  AlignedBuffer in(16 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{0}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), 4 * kBlockSize));
  EXPECT_TRUE(AllZero(in.span().subspan(4 * kBlockSize, 8 * kBlockSize)));
  EXPECT_EQ(0, std::memcmp(in.data() + 12 * kBlockSize, out.data() + 12 * kBlockSize,
                           4 * kBlockSize));
}

TEST_P(FileVdevTest, ShortReadPastShrunkenFileIsIOError) {
  auto vdev = Create(BlockCount{16});
  ASSERT_NE(vdev, nullptr);
  ASSERT_EQ(0, ::truncate(tmp_.path().c_str(), 8 * kBlockSize));  // Shrunk behind its back.
  AlignedBuffer in(2 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{6}, in.span()));
  Status s = vdev->Read(BlockNo{12}, in.span());
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kIOError);
  EXPECT_NE(s.error().message().find("block 12"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find(tmp_.path()), std::string::npos) << s.error().message();
  // Straddling the new end: the first block arrives, then the remainder is short.
  s = vdev->Read(BlockNo{7}, in.span());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("block 8"), std::string::npos) << s.error().message();
}

TEST_P(FileVdevTest, ConcurrentBatchesFromManyThreads) {
  constexpr int kThreads = 6;
  constexpr uint64_t kPerThread = 64;
  auto vdev = Create(BlockCount{kThreads * kPerThread});
  ASSERT_NE(vdev, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t round = 0; round < 4; ++round) {
        std::vector<AlignedBuffer> bufs;
        std::vector<IoRequest> batch;
        for (uint64_t i = 0; i < kPerThread; ++i) {
          uint64_t b = t * kPerThread + i;
          bufs.push_back(Pattern(1, b, round));
          batch.push_back({.op = IoOp::kWrite, .block = BlockNo{b}, .buffer = bufs.back().span()});
        }
        if (!vdev->SubmitBatch(batch)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  AlignedBuffer in(kBlockSize);
  for (uint64_t b = 0; b < kThreads * kPerThread; ++b) {
    ASSERT_TRUE(vdev->Read(BlockNo{b}, in.span()));
    ASSERT_EQ(0, std::memcmp(in.data(), Pattern(1, b, 3).data(), kBlockSize)) << "block " << b;
  }
}

TEST_P(FileVdevTest, AsyncQueueSustainsDepth) {
  constexpr uint64_t kBlocks = 256;
  constexpr unsigned kDepth = 8;
  auto vdev = Create(BlockCount{kBlocks});
  ASSERT_NE(vdev, nullptr);
  auto queue = vdev->NewAsyncQueue(kDepth);
  ASSERT_TRUE(queue) << queue.error().ToString();
  std::vector<AlignedBuffer> bufs;
  std::vector<IoRequest> reqs(kBlocks);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    bufs.push_back(Pattern(1, b, 5));
    reqs[b] = {.op = IoOp::kWrite, .block = BlockNo{b}, .buffer = bufs.back().span()};
  }
  uint64_t next = 0, done = 0;
  while (done < kBlocks) {
    while (next < kBlocks && (*queue)->InFlight() < kDepth) {
      ASSERT_TRUE((*queue)->Submit(&reqs[next++]));
    }
    if (next < kBlocks) {
      IoRequest extra{.op = IoOp::kWrite, .block = BlockNo{0}, .buffer = bufs[0].span()};
      EXPECT_EQ((*queue)->Submit(&extra).error().code(), Code::kInvalidArgument);  // Full.
    }
    auto completed = (*queue)->WaitOne();
    ASSERT_TRUE(completed) << completed.error().ToString();
    ASSERT_TRUE((*completed)->result) << (*completed)->result.error().ToString();
    ++done;
  }
  EXPECT_EQ((*queue)->WaitOne().error().code(), Code::kInvalidArgument);  // Nothing in flight.
  AlignedBuffer all(kBlocks * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{0}, all.span()));
  for (uint64_t b = 0; b < kBlocks; ++b) {
    ASSERT_EQ(0, std::memcmp(all.data() + b * kBlockSize, bufs[b].data(), kBlockSize)) << b;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, FileVdevTest,
                         ::testing::Values(Mode{true, true}, Mode{true, false}, Mode{false, true},
                                           Mode{false, false}, Mode{true, true, true},
                                           Mode{false, true, true}),
                         [](const auto& info) {
                           return std::string(info.param.io_uring ? "Uring" : "Pread") +
                                  (info.param.direct ? "Direct" : "Buffered") +
                                  (info.param.cache_reads ? "CachedReads" : "");
                         });

// Reads through the page cache see every O_DIRECT write that completed
// before them, also for blocks that were read (and cached) before the write.
TEST(FileVdevCachedReads, SeeEveryCompletedDirectWrite) {
  TempPath tmp;
  auto opened = FileVdev::Open(tmp.path(), {.create = true, .create_size = BlockCount{64}, .cache_reads = true});
  ASSERT_TRUE(opened) << opened.error().ToString();
  FileVdev& vdev = **opened;
  if (!vdev.UsingDirectIo()) GTEST_SKIP() << "the file system refuses O_DIRECT";
  EXPECT_TRUE(vdev.CachingReads());
  std::mt19937_64 rng(5);
  std::vector<std::vector<std::byte>> model(64, std::vector<std::byte>(kBlockSize));
  AlignedBuffer block(kBlockSize);
  for (int op = 0; op < 2000; ++op) {
    uint64_t b = rng() % 64;
    if (rng() % 2) {
      for (auto& byte : model[b]) byte = static_cast<std::byte>(rng());
      std::memcpy(block.data(), model[b].data(), kBlockSize);
      ASSERT_TRUE(vdev.Write(BlockNo{b}, block.span()));
    } else {
      std::vector<std::byte> out(kBlockSize + 1);  // unaligned on purpose
      ASSERT_TRUE(vdev.Read(BlockNo{b}, std::span(out).subspan(1)));
      ASSERT_EQ(0, std::memcmp(out.data() + 1, model[b].data(), kBlockSize)) << "block " << b << " op " << op;
    }
  }
}

TEST(FileVdevOpen, ReportsMissingExistingAndWrongKind) {
  TempPath tmp;
  auto missing = FileVdev::Open(tmp.path() + ".absent", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);

  auto exclusive = FileVdev::Open(
      tmp.path(), {.create = true, .create_size = BlockCount{4}, .create_exclusive = true});
  ASSERT_FALSE(exclusive);  // mkstemp created it.
  EXPECT_EQ(exclusive.error().code(), Code::kInvalidArgument);

  auto chardev = FileVdev::Open("/dev/null", {});
  ASSERT_FALSE(chardev);
  EXPECT_EQ(chardev.error().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace tessera
