// A full pool (issue: "faults that must cost nothing but an error"): once
// data has used every block it may, writes fail with NoSpace, but trims,
// commits, snapshot and volume deletes still work, the pool is not failed,
// and writes work again once space is given back.
#include <gtest/gtest.h>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kChunk = 1 << 20;

// Writes 1 MiB chunks from offset 0 until NoSpace; returns the bytes written.
uint64_t FillUntilNoSpace(Volume& volume, uint64_t size, uint64_t seed) {
  uint64_t at = 0;
  for (; at < size; at += kChunk) {
    auto written = volume.Write(at, Pattern(kChunk, seed + at), false);
    if (!written) {
      EXPECT_EQ(written.error().code(), Code::kNoSpace) << written.error().ToString();
      std::printf("writes stop at %lu MiB: %s\n", static_cast<unsigned long>(at >> 20),
                  written.error().ToString().c_str());
      break;
    }
  }
  return at;
}

TEST(FullPool, TrimGivesSpaceBackAndWritesWorkAgain) {
  for (const char* layout : {"simple", "stripe:2"}) {
    SCOPED_TRACE(layout);
    PoolDir pd(2, 64ull << 20);
    auto storage = std::move(*pd.Create());
    constexpr uint64_t kSize = 256ull << 20;  // twice the pool: rows of 16 MiB
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize, .layout = layout}));
    ASSERT_TRUE(storage->CreateVolume({.name = "other", .size = 4 << 20}));
    ASSERT_TRUE(storage->CreateSnapshot("other", "s"));
    auto volume = std::move(*storage->OpenVolume("v"));
    uint64_t filled = FillUntilNoSpace(*volume, kSize, 1);
    ASSERT_GT(filled, 16u << 20);
    ASSERT_LT(filled, kSize);
    // Everything acknowledged is still there, and flushes and commits work.
    ASSERT_TRUE(volume->Flush());
    ASSERT_TRUE(storage->Commit());
    std::vector<std::byte> got(kChunk);
    ASSERT_TRUE(volume->Read(filled - kChunk, got));
    EXPECT_TRUE(got == Pattern(kChunk, 1 + filled - kChunk));
    // Management still works in a full pool.
    ASSERT_TRUE(storage->DeleteSnapshot("other", "s"));
    ASSERT_TRUE(storage->DeleteVolume("other"));
    // The client gives everything back.
    auto trimmed = volume->Trim(0, filled, false);
    ASSERT_TRUE(trimmed) << trimmed.error().ToString();
    ASSERT_TRUE(volume->Flush());
    ASSERT_TRUE(storage->Commit());
    // And can write about as much again.
    uint64_t refilled = FillUntilNoSpace(*volume, kSize, 2);
    EXPECT_GE(refilled, filled / 2) << "trimming gave back too little";
    ASSERT_TRUE(volume->Read(0, got));
    EXPECT_TRUE(got == Pattern(kChunk, 2));
    ASSERT_TRUE(volume->Flush());
    volume.reset();
    ExpectClean(*storage);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace tessera::testing
