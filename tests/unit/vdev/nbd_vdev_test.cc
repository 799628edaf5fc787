// NbdVdev against real nbdkit servers on Unix sockets: the same model test
// every vdev passes, then what a remote device adds: a server that dies,
// stops answering, or comes back.
#include "core/vdev/nbd_vdev.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/wait.h>

#include "tests/unit/vdev/nbdkit_server.h"
#include "tests/unit/vdev/vdev_test_util.h"

namespace tessera {
namespace {

using namespace std::chrono_literals;
using testing::AllZero;
using testing::NbdkitServer;
using testing::Pattern;
using Clock = std::chrono::steady_clock;

std::unique_ptr<NbdVdev> OpenOrFail(const std::string& uri, std::chrono::milliseconds timeout = 2000ms,
                                    BlockCount size = BlockCount{}) {
  auto vdev = NbdVdev::Open({.uri = uri, .timeout = timeout, .backoff_min = 20ms, .backoff_max = 200ms,
                             .size = size});
  EXPECT_TRUE(vdev) << (vdev ? "" : vdev.error().ToString());
  return vdev ? std::move(*vdev) : nullptr;
}

// Retries a one-block read until it succeeds or `limit` passes.
bool ReadsAgainWithin(NbdVdev& vdev, std::chrono::milliseconds limit) {
  AlignedBuffer block(kBlockSize);
  auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (vdev.Read(BlockNo{0}, block.span())) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

TEST(NbdVdev, MemoryExportPassesTheModelTest) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri(), 2000ms, BlockCount{256});
  ASSERT_TRUE(vdev);
  EXPECT_EQ(vdev->Size().value, 256u);
  EXPECT_EQ(vdev->ExportBytes(), 64u << 20);
  testing::RunModelTest(*vdev, testing::TestSeed(), 2000);
  EXPECT_TRUE(vdev->Flush());
}

TEST(NbdVdev, FileExportPassesTheModelTestAndKeepsDataAcrossReopen) {
  NbdkitServer probe({"memory", "1M"});  // only for its private directory
  std::string file = probe.dir() + "/depot.img";
  { std::ofstream create(file); }
  std::filesystem::resize_file(file, 32 << 20);
  NbdkitServer server({"file", file});
  auto vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  EXPECT_EQ(vdev->Size().value, (32u << 20) / kBlockSize);
  testing::RunModelTest(*vdev, testing::TestSeed(), 500);
  AlignedBuffer out = Pattern(4, 100, 7);
  ASSERT_TRUE(vdev->Write(BlockNo{100}, out.span()));
  ASSERT_TRUE(vdev->Flush());
  vdev.reset();
  vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  AlignedBuffer in(4 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{100}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), out.size()));
}

// A server that takes at most 64 KiB at once and has no write-zeroes:
// requests are split (a 1 MiB write is 16 commands) and discards write zeros.
TEST(NbdVdev, SplitsLargeRequestsAndDiscardsWithoutWriteZeroes) {
  NbdkitServer server({"memory", "64M", "blocksize-maximum=65536"},
                      {"--filter=blocksize-policy", "--filter=nozero"});
  auto vdev = OpenOrFail(server.uri(), 2000ms, BlockCount{1024});
  ASSERT_TRUE(vdev);
  AlignedBuffer out = Pattern(256, 3, 9);
  ASSERT_TRUE(vdev->Write(BlockNo{3}, out.span()));
  AlignedBuffer in(256 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{3}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), out.size()));
  ASSERT_TRUE(vdev->Discard(BlockNo{3}, BlockCount{300}));
  ASSERT_TRUE(vdev->Read(BlockNo{3}, in.span()));
  EXPECT_TRUE(AllZero(in.span()));
  testing::RunModelTest(*vdev, testing::TestSeed(), 300);
}

TEST(NbdVdev, InvalidBatchFailsWholeAndSendsNothing) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri(), 2000ms, BlockCount{8});
  ASSERT_TRUE(vdev);
  AlignedBuffer good = Pattern(1, 0, 1);
  AlignedBuffer bad = Pattern(2, 7, 1);
  IoRequest batch[] = {
      {.op = IoOp::kWrite, .block = BlockNo{0}, .buffer = good.span()},
      {.op = IoOp::kWrite, .block = BlockNo{7}, .buffer = bad.span()},  // crosses the end
  };
  Status s = vdev->SubmitBatch(batch);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(batch[0].result.error().code(), Code::kInvalidArgument);
  AlignedBuffer all(8 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{0}, all.span()));
  EXPECT_TRUE(AllZero(all.span()));
}

TEST(NbdVdev, ManyThreadsShareTheConnection) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (uint64_t t = 0; t < 8; t++) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 50; i++) {
        uint64_t block = t * 1000 + i * 4;
        AlignedBuffer out = Pattern(4, block, t);
        AlignedBuffer in(4 * kBlockSize);
        if (!vdev->Write(BlockNo{block}, out.span()) || !vdev->Read(BlockNo{block}, in.span()) ||
            std::memcmp(in.data(), out.data(), out.size()) != 0) {
          failures++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(NbdVdev, OpenRefusesWhatCannotHoldAVdev) {
  auto missing = NbdVdev::Open({.uri = "nbd+unix:///?socket=/nonexistent/tessera.sock", .timeout = 1000ms});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound) << missing.error().ToString();
  EXPECT_NE(missing.error().message().find("/nonexistent/tessera.sock"), std::string::npos);

  auto bad = NbdVdev::Open({.uri = "http://example.com/", .timeout = 1000ms});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument) << bad.error().ToString();

  NbdkitServer small({"memory", "1M"});
  auto too_small = NbdVdev::Open({.uri = small.uri(), .min_bytes = 16 << 20});
  ASSERT_FALSE(too_small);
  EXPECT_EQ(too_small.error().code(), Code::kInvalidArgument) << too_small.error().ToString();

  NbdkitServer read_only({"memory", "64M"}, {"-r"});
  auto ro = NbdVdev::Open({.uri = read_only.uri()});
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code(), Code::kInvalidArgument) << ro.error().ToString();
}

TEST(NbdVdev, KilledServerGivesErrorsNotHangs) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri(), 2000ms);
  ASSERT_TRUE(vdev);
  AlignedBuffer out = Pattern(1, 0, 1);
  ASSERT_TRUE(vdev->Write(BlockNo{0}, out.span()));
  server.Kill(SIGKILL);
  auto start = Clock::now();
  Status write = vdev->Write(BlockNo{1}, out.span());
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().code(), Code::kIOError);
  EXPECT_NE(write.error().message().find("nbd:"), std::string::npos) << write.error().ToString();
  Status flush = vdev->Flush();
  EXPECT_FALSE(flush);
  EXPECT_LT(Clock::now() - start, 2500ms);
  EXPECT_FALSE(vdev->Connected());
}

TEST(NbdVdev, SilentServerTimesOutThenRecovers) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri(), 1000ms);
  ASSERT_TRUE(vdev);
  AlignedBuffer block(kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{0}, block.span()));
  server.Kill(SIGSTOP);
  std::this_thread::sleep_for(100ms);  // the stop reaches every thread of the server
  auto start = Clock::now();
  Status read = vdev->Read(BlockNo{0}, block.span());
  auto took = Clock::now() - start;
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 2500ms) << "a request outlived its timeout by far";
  server.Kill(SIGCONT);
  EXPECT_TRUE(ReadsAgainWithin(*vdev, 5000ms));
  EXPECT_GE(vdev->Reconnects(), 1u);
}

TEST(NbdVdev, RestartedServerIsReconnectedAndKeepsFlushedData) {
  NbdkitServer probe({"memory", "1M"});
  std::string file = probe.dir() + "/depot.img";
  { std::ofstream create(file); }
  std::filesystem::resize_file(file, 32 << 20);
  NbdkitServer server({"file", file});
  auto vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  AlignedBuffer out = Pattern(2, 10, 3);
  ASSERT_TRUE(vdev->Write(BlockNo{10}, out.span()));
  ASSERT_TRUE(vdev->Flush());
  server.Kill(SIGKILL);
  AlignedBuffer in(2 * kBlockSize);
  EXPECT_FALSE(vdev->Read(BlockNo{10}, in.span()));
  EXPECT_FALSE(vdev->Connected());
  Status absent = vdev->Flush();  // nothing to flush, but no device either
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().code(), Code::kIOError);
  ASSERT_TRUE(server.Start());
  ASSERT_TRUE(ReadsAgainWithin(*vdev, 5000ms));
  EXPECT_TRUE(vdev->Connected());
  EXPECT_EQ(vdev->Reconnects(), 1u);
  ASSERT_TRUE(vdev->Read(BlockNo{10}, in.span()));
  EXPECT_EQ(0, std::memcmp(in.data(), out.data(), out.size()));
  // Nothing was lost: writes and flushes go on.
  ASSERT_TRUE(vdev->Write(BlockNo{12}, out.span()));
  EXPECT_TRUE(vdev->Flush());
}

// nbdkit opens the pool, then forks: the child has no I/O thread and shares
// the parent's socket. It must make its own connection, not hang.
TEST(NbdVdev, AForkedChildMakesItsOwnConnection) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  AlignedBuffer out = Pattern(1, 7, 1);
  ASSERT_TRUE(vdev->Write(BlockNo{7}, out.span()));
  ASSERT_TRUE(vdev->Flush());
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    AlignedBuffer in(kBlockSize);
    AlignedBuffer again = Pattern(1, 8, 2);
    bool ok = vdev->Read(BlockNo{7}, in.span()) && std::memcmp(in.data(), out.data(), kBlockSize) == 0 &&
              vdev->Write(BlockNo{8}, again.span()) && vdev->Flush();
    ::_exit(ok ? 0 : 1);  // no destructors: the parent's objects are not the child's
  }
  int status = 0;
  pid_t reaped = 0;
  for (int i = 0; i < 1000 && reaped == 0; i++) {
    reaped = ::waitpid(child, &status, WNOHANG);
    if (reaped == 0) std::this_thread::sleep_for(10ms);
  }
  if (reaped == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    FAIL() << "the child's I/O hung for 10 s";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "the child crashed";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's I/O failed";
  AlignedBuffer in(kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{8}, in.span()));  // the parent's link still works
  EXPECT_EQ(0, std::memcmp(in.data(), Pattern(1, 8, 2).data(), kBlockSize));
}

TEST(NbdVdev, ConnectionLostWithUnflushedWritesFailsEveryLaterFlush) {
  NbdkitServer server({"memory", "64M"});
  auto vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  AlignedBuffer out = Pattern(1, 5, 1);
  ASSERT_TRUE(vdev->Write(BlockNo{5}, out.span()));  // acknowledged, not flushed
  server.Kill(SIGKILL);
  ASSERT_TRUE(server.Start());  // a fresh memory export: the write is gone
  ASSERT_TRUE(ReadsAgainWithin(*vdev, 5000ms));
  Status flush = vdev->Flush();
  ASSERT_FALSE(flush);
  EXPECT_EQ(flush.error().code(), Code::kIOError);
  EXPECT_NE(flush.error().message().find("not yet flushed"), std::string::npos) << flush.error().ToString();
  EXPECT_FALSE(vdev->Flush()) << "the loss must not be forgotten";
  // A reopened vdev starts clean.
  vdev = OpenOrFail(server.uri());
  ASSERT_TRUE(vdev);
  EXPECT_TRUE(vdev->Flush());
}

}  // namespace
}  // namespace tessera
