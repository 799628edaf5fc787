// Faults during a commit (issue: "faults that must cost nothing but an
// error"): EIO from a metadata vdev at any write of a commit fails that
// commit and the ones after it cleanly, and the pool reopens at the last
// good commit with every flushed write and a clean check.
#include <gtest/gtest.h>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kSize = 4 << 20;

TEST(CommitFault, WriteErrorAtEachStepOfACommitFailsItCleanly) {
  // How many device writes one commit of this workload makes.
  uint64_t writes_per_commit = 0;
  {
    PoolDir pd(2, 64ull << 20);
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, Pattern(256 << 10, 1), false));
    ASSERT_TRUE(volume->Flush());
    uint64_t before = pd.faults()[0]->Counters().writes + pd.faults()[1]->Counters().writes;
    ASSERT_TRUE(storage->Commit());
    writes_per_commit = pd.faults()[0]->Counters().writes + pd.faults()[1]->Counters().writes - before;
  }
  ASSERT_GT(writes_per_commit, 2u);
  int failed_commits = 0;
  for (uint64_t n = 1; n <= writes_per_commit; n++) {
    SCOPED_TRACE(fmt::format("EIO at write {} of {} of the commit", n, writes_per_commit));
    PoolDir pd(2, 64ull << 20);
    auto first = Pattern(256 << 10, 1);
    auto second = Pattern(256 << 10, 2);
    {
      auto storage = std::move(*pd.Create());
      ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
      auto volume = std::move(*storage->OpenVolume("v"));
      ASSERT_TRUE(volume->Write(0, first, false));
      ASSERT_TRUE(volume->Flush());
      ASSERT_TRUE(storage->Commit());  // the last good commit
      ASSERT_TRUE(volume->Write(1 << 20, second, false));
      ASSERT_TRUE(volume->Flush());  // durable in the log, not yet committed
      // Both vdevs hold metadata copies; fail one of them from its nth write on.
      pd.faults()[n % 2]->FailNth((n + 1) / 2, /*persistent=*/true, FaultOpKind::kWrite);
      auto failed = storage->Commit();
      if (failed) continue;  // the commit wrote fewer than n on that vdev
      failed_commits++;
      EXPECT_EQ(failed.error().code(), Code::kIOError) << failed.error().ToString();
      // Later commits fail with an error too, never a crash.
      EXPECT_FALSE(storage->Commit());
      volume.reset();
      (void)storage->Close();
    }
    for (auto& f : pd.faults()) f->ClearFailures();
    auto storage = pd.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto volume = std::move(*(*storage)->OpenVolume("v"));
    std::vector<std::byte> got(256 << 10);
    ASSERT_TRUE(volume->Read(0, got));
    EXPECT_TRUE(got == first);
    ASSERT_TRUE(volume->Read(1 << 20, got));
    EXPECT_TRUE(got == second) << "a write flushed before the failed commit was lost";
    volume.reset();
    auto report = (*storage)->Check();
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_TRUE(report->clean()) << report->Summary();
    if (HasFailure()) return;
  }
  EXPECT_GE(failed_commits, static_cast<int>(writes_per_commit / 2));
  std::printf("%d of %lu commits failed as armed\n", failed_commits, static_cast<unsigned long>(writes_per_commit));
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// A vdev file truncated under a running pool: what it held reads as IOError
// or Corruption (both EIO over NBD), metadata from its other copy, never as
// wrong data, and nothing crashes; writes and commits go on or fail with an
// error.
TEST(VdevFault, TruncatedVdevFileGivesErrorsNotWrongData) {
  PoolDir pd(2, 64ull << 20);
  // Plain file vdevs: a FaultVdev would read the truncated file itself.
  StorageOptions options;
  options.metadata_cache_bytes = 32 << 20;
  auto created = Storage::Create(pd.dir(), Storage::DefaultConfig(pd.dir(), 2, 64ull << 20), options);
  ASSERT_TRUE(created) << created.error().ToString();
  auto storage = std::move(*created);
  constexpr uint64_t kBytes = 16 << 20;
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kBytes, .layout = "stripe:2"}));
  auto data = Pattern(kBytes, 5);
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, data, false));
    ASSERT_TRUE(volume->Flush());
  }
  ASSERT_TRUE(storage->CloseIdleVolumes());  // reads below come from the vdevs
  std::filesystem::resize_file(pd.dir() + "/vdev1.img", 1 << 20);
  auto opened = storage->OpenVolume("v");
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto volume = std::move(*opened);
  uint64_t failed = 0;
  constexpr uint64_t kPiece = 64 << 10;
  std::vector<std::byte> got(kPiece);
  for (uint64_t at = 0; at < kBytes; at += kPiece) {
    auto read = volume->Read(at, got);
    if (!read) {
      // IOError past the end of the file; Corruption where a later write
      // extended the file again and the lost blocks read as holes.
      EXPECT_TRUE(read.error().code() == Code::kIOError || read.error().code() == Code::kCorruption)
          << read.error().ToString();
      failed++;
      continue;
    }
    EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + at)) << "wrong data at " << at;
  }
  EXPECT_GT(failed, 0u) << "the truncated half of every stripe read without an error";
  // Writes, flushes and commits: an error or success, no crash.
  (void)volume->Write(0, Pattern(kPiece, 6), true);
  (void)storage->Commit();
  volume.reset();
  (void)storage->Close();
}

}  // namespace
}  // namespace tessera::testing
