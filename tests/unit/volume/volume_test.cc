#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

TEST(Storage, CreateOpenLockAndBadInput) {
  PoolDir pd;
  {
    auto storage = pd.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto second = pd.Open();
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Code::kBusy);
    EXPECT_NE(second.error().message().find("in use"), std::string::npos);
    auto again = pd.Create();
    ASSERT_FALSE(again);
    EXPECT_NE(again.error().message().find("already holds a pool"), std::string::npos);
    EXPECT_EQ((*storage)->CreateVolume({.name = "bad/name", .size = 1 << 20}).error().code(), Code::kInvalidArgument);
    EXPECT_EQ((*storage)->CreateVolume({.name = "v", .size = 1000}).error().code(), Code::kInvalidArgument);
    EXPECT_EQ((*storage)->CreateVolume({.name = "v", .size = 1 << 20, .layout = "raid9"}).error().code(),
              Code::kInvalidArgument);
    EXPECT_EQ((*storage)->CreateVolume({.name = "v", .size = 1 << 20, .layout = "stripe:3"}).error().code(),
              Code::kInvalidArgument);  // only 2 vdevs
    ASSERT_TRUE((*storage)->CreateVolume({.name = "v", .size = 16 << 20}));
    EXPECT_EQ((*storage)->CreateVolume({.name = "v", .size = 16 << 20}).error().code(), Code::kInvalidArgument);
    EXPECT_EQ((*storage)->OpenVolume("nope").error().code(), Code::kNotFound);
    auto list = (*storage)->ListVolumes();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].layout, "simple");
    EXPECT_EQ((*list)[0].size, 16u << 20);
  }
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  EXPECT_EQ((*storage)->ListVolumes()->size(), 1u);
  auto report = (*storage)->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
}

// Random unaligned writes, reads, trims and flushes against a flat byte
// array, with reopens of the whole storage in between.
TEST(Volume, RandomizedAgainstFlatModel) {
  for (const char* layout : {"simple", "stripe:2"}) {
    SCOPED_TRACE(layout);
    PoolDir pd;
    constexpr uint64_t kSize = 8 << 20;
    std::vector<std::byte> model(kSize);
    std::mt19937_64 rng(99);
    {
      auto storage = std::move(*pd.Create());
      ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize, .layout = layout}));
    }
    for (int session = 0; session < 3; session++) {
      auto storage = pd.Open();
      ASSERT_TRUE(storage) << storage.error().ToString();
      auto volume = std::move(*(*storage)->OpenVolume("v"));
      // Everything written before still reads back.
      std::vector<std::byte> all(kSize);
      ASSERT_TRUE(volume->Read(0, all));
      ASSERT_TRUE(all == model) << "session " << session;
      for (int op = 0; op < 400; op++) {
        uint64_t off = rng() % kSize;
        uint64_t len = 1 + rng() % std::min<uint64_t>(200000, kSize - off);
        switch (rng() % 6) {
          case 0:
          case 1:
          case 2: {
            auto data = Pattern(len, rng());
            ASSERT_TRUE(volume->Write(off, data, rng() % 8 == 0));
            std::memcpy(model.data() + off, data.data(), len);
            break;
          }
          case 3: {
            std::vector<std::byte> got(len);
            ASSERT_TRUE(volume->Read(off, got));
            ASSERT_EQ(0, std::memcmp(got.data(), model.data() + off, len)) << "op " << op;
            break;
          }
          case 4:
            ASSERT_TRUE(volume->Trim(off, len, false));
            std::memset(model.data() + off, 0, len);
            break;
          case 5:
            ASSERT_TRUE(volume->Flush());
            break;
        }
      }
      ASSERT_TRUE(volume->Flush());
      volume.reset();
      auto report = (*storage)->Check();
      ASSERT_TRUE(report);
      EXPECT_TRUE(report->clean()) << report->Summary();
    }
  }
}

TEST(Volume, ExtentsReportHolesAfterTrim) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 4 << 20}));
  auto volume = std::move(*storage->OpenVolume("v"));
  auto e = volume->Extents(0, 4 << 20);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->size(), 1u);
  EXPECT_TRUE((*e)[0].hole);
  auto data = Pattern(1 << 20, 1);
  ASSERT_TRUE(volume->Write(0, data, false));
  ASSERT_TRUE(volume->Trim(256 << 10, 128 << 10, false));
  e = volume->Extents(0, 4 << 20);
  ASSERT_TRUE(e);
  std::vector<SegmentExtent> want = {{0, 256 << 10, false}, {256 << 10, 128 << 10, true},
                                     {384 << 10, (1 << 20) - (384 << 10), false},
                                     {1 << 20, 3 << 20, true}};
  EXPECT_EQ(*e, want);
  std::vector<std::byte> got(4096);
  ASSERT_TRUE(volume->Read(300 << 10, got));
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](std::byte b) { return b == std::byte{0}; }));
  EXPECT_EQ(volume->Read((4 << 20) - 10, got).error().code(), Code::kInvalidArgument);
  EXPECT_EQ(volume->Write(UINT64_MAX - 10, got, false).error().code(), Code::kInvalidArgument);
}

TEST(Volume, GrowsRowsAndResizes) {
  PoolDir pd(1, 256ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 16 << 20}));
  auto volume = std::move(*storage->OpenVolume("v"));
  // 4 MiB rows: 24 MiB of writes need several new rows.
  auto data = Pattern(1 << 20, 5);
  for (int i = 0; i < 24; i++) ASSERT_TRUE(volume->Write((i % 16) << 20, data, true));
  ASSERT_TRUE(volume->Flush());
  auto info = storage->GetVolumeInfo("v");
  ASSERT_TRUE(info);
  EXPECT_GT(info->allocated_bytes, 16u << 20);  // more rows than the 2 it started with
  EXPECT_EQ(info->mapped_bytes, 16u << 20);
  EXPECT_EQ(storage->ResizeVolume("v", 8 << 20, false).error().code(), Code::kInvalidArgument);
  ASSERT_TRUE(storage->ResizeVolume("v", 32 << 20, false));
  EXPECT_EQ(volume->size(), 32u << 20);
  EXPECT_EQ(storage->ResizeVolume("v", 8 << 20, true).error().code(), Code::kBusy);  // in use
  EXPECT_EQ(storage->DeleteVolume("v").error().code(), Code::kBusy);
  volume.reset();
  ASSERT_TRUE(storage->ResizeVolume("v", 8 << 20, true));
  EXPECT_EQ(storage->GetVolumeInfo("v")->mapped_bytes, 8u << 20);
  EXPECT_EQ(storage->GetVolumeInfo("v")->size, 8u << 20);
  EXPECT_EQ(storage->OpenVolume("x").error().code(), Code::kNotFound);
  auto long_name = storage->OpenVolume(std::string(4096, 'x'));
  ASSERT_FALSE(long_name);
  EXPECT_NE(long_name.error().message().find("too long (at most 255)"), std::string::npos) << long_name.error().message();
  ASSERT_TRUE(storage->DeleteVolume("v"));
  auto report = storage->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
  auto status = storage->GetPoolStatus();
  ASSERT_TRUE(status);
  EXPECT_LT(status->used_bytes, 2u << 20);  // the rows went back to the pool
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// A volume overwritten many times over on a pool that holds only a few
// copies of it: the cleaner must keep reclaiming rows, and no data is lost.
TEST(Cleaner, OverwritesNeverRunOutOfSpaceAndTrimGivesSpaceBack) {
  PoolDir pd(1, 64ull << 20);
  auto storage = std::move(*pd.Create());
  constexpr uint64_t kSize = 16 << 20;
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  std::vector<std::byte> model(kSize);
  std::mt19937_64 rng(3);
  uint64_t used = 0;
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    for (int pass = 0; pass < 12; pass++) {  // 12 x 16 MiB through a 64 MiB pool
      for (int op = 0; op < 64; op++) {
        uint64_t off = (rng() % (kSize / 4096 - 64)) * 4096;
        auto data = Pattern(256 << 10, rng());
        ASSERT_TRUE(volume->Write(off, data, false)) << "pass " << pass;
        std::memcpy(model.data() + off, data.data(), data.size());
      }
      ASSERT_TRUE(volume->Flush());
      ASSERT_TRUE(storage->Commit());
    }
    std::vector<std::byte> all(kSize);
    ASSERT_TRUE(volume->Read(0, all));
    ASSERT_TRUE(all == model);
    auto report = storage->Check();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->clean()) << report->Summary();
    used = storage->GetPoolStatus()->used_bytes;
    ASSERT_TRUE(volume->Trim(0, kSize, true));
    ASSERT_TRUE(storage->Commit());
    ASSERT_TRUE(volume->Flush());
  }
  ASSERT_TRUE(storage->CloseIdleVolumes());  // closing the volume runs the cleaner
  uint64_t after = storage->GetPoolStatus()->used_bytes;
  EXPECT_LT(after, used / 2) << "trimming the whole volume gave back too little";
  auto reopened = storage->OpenVolume("v");
  ASSERT_TRUE(reopened);
  std::vector<std::byte> block(4096);
  ASSERT_TRUE((*reopened)->Read(4096 * 7, block));
  EXPECT_TRUE(std::all_of(block.begin(), block.end(), [](std::byte b) { return b == std::byte{0}; }));
}

// A volume of 16 rows in a pool with room for 19 (the vdev holds 20 rows
// beside the metadata, and data leaves the metadata reserve), overwritten
// evenly: every old row loses the same share, so when the pool fills each is
// about 87% live, while the head's row has already taken part of the batch
// that crossed into it. The cleaner must relocate a row that fits the room
// left, with the rows written since the last commit reclaimable, rather than
// fail the write with NoSpace (volume_clean.cc notes 3 and 4, log_segment.cc
// note 5). With 18 rows no cleaner can: the head never has room for a row.
TEST(Cleaner, EvenOverwritesOfANearlyFullPoolNeverRunOutOfSpace) {
  constexpr uint64_t kSize = 64 << 20;  // 16 rows of 4 MiB
  constexpr uint64_t kRow = 4 << 20;
  uint64_t overhead = 0;
  {
    PoolDir probe(1, 256ull << 20);
    auto storage = std::move(*probe.Create());
    overhead = (256ull << 20) - storage->GetPoolStatus()->free_bytes;
  }
  PoolDir pd(1, overhead + 20 * kRow + (2 << 20));
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  std::vector<std::byte> model(kSize);
  auto volume = std::move(*storage->OpenVolume("v"));
  for (uint64_t off = 0; off < kSize; off += 1 << 20) {
    auto data = Pattern(1 << 20, off);
    ASSERT_TRUE(volume->Write(off, data, false));
    std::memcpy(model.data() + off, data.data(), data.size());
  }
  ASSERT_TRUE(volume->Flush());
  ASSERT_TRUE(storage->Commit());
  for (uint64_t pass = 0; pass < 6; pass++) {  // one row's worth per pass, over every row
    for (uint64_t off = pass * 4096; off < kSize; off += 64 << 10) {
      auto data = Pattern(4096, pass * kSize + off);
      auto written = volume->Write(off, data, false);
      ASSERT_TRUE(written) << "pass " << pass << " offset " << off << ": " << written.error().ToString();
      std::memcpy(model.data() + off, data.data(), data.size());
    }
    ASSERT_TRUE(volume->Flush());
    ASSERT_TRUE(storage->Commit());
  }
  EXPECT_LT(storage->GetPoolStatus()->free_bytes, 3 * kRow) << "the pool never filled: the test tests nothing";
  std::vector<std::byte> all(kSize);
  ASSERT_TRUE(volume->Read(0, all));
  EXPECT_TRUE(all == model);
  auto report = storage->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// An rs:4+2 volume keeps serving correct data with two of its six vdevs
// failing every I/O, and fails with IOError, never wrong data, with three.
TEST(ErasureVolume, SurvivesTwoLostVdevsAndRefusesThree) {
  PoolDir pd(6, 64ull << 20);
  auto storage = std::move(*pd.Create());
  constexpr uint64_t kSize = 8 << 20;
  auto info = storage->CreateVolume({.name = "v", .size = kSize, .layout = "rs:4+2"});
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_EQ(info->layout, "rs:4+2");
  auto volume = std::move(*storage->OpenVolume("v"));
  auto data = Pattern(kSize, 11);
  ASSERT_TRUE(volume->Write(0, data, false));
  ASSERT_TRUE(volume->Flush());
  ASSERT_TRUE(storage->Commit());
  volume.reset();
  ASSERT_TRUE(storage->CloseIdleVolumes());  // drop the cache: reads must come from the vdevs
  volume = std::move(*storage->OpenVolume("v"));
  pd.faults()[1]->FailNth(1, true, FaultOpKind::kRead);
  pd.faults()[4]->FailNth(1, true, FaultOpKind::kRead);
  std::vector<std::byte> got(kSize);
  ASSERT_TRUE(volume->Read(0, got));
  EXPECT_TRUE(got == data);
  volume.reset();
  ASSERT_TRUE(storage->CloseIdleVolumes());
  volume = std::move(*storage->OpenVolume("v"));
  pd.faults()[2]->FailNth(1, true, FaultOpKind::kRead);
  auto lost = volume->Read(0, got);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code(), Code::kIOError) << lost.error().ToString();
  for (auto& f : pd.faults()) f->ClearFailures();
  ASSERT_TRUE(volume->Read(0, got));
  EXPECT_TRUE(got == data);
  volume.reset();
  auto report = storage->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

// Write pattern A, snapshot, write pattern B: the snapshot reads A and the
// volume B, also after a restart; the snapshot refuses writes; overwriting
// the volume many times over (the cleaner at work) leaves the snapshot
// intact; deleting the snapshot gives the space back.
TEST(VolumeSnapshot, PinsDataAcrossOverwritesAndRestart) {
  PoolDir pd(1, 128ull << 20);
  constexpr uint64_t kSize = 8 << 20;
  auto a = Pattern(kSize, 1);
  auto b = Pattern(kSize, 2);
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, a, false));  // not flushed: the snapshot flushes
    ASSERT_TRUE(storage->CreateSnapshot("v", "s1"));
    EXPECT_EQ(storage->CreateSnapshot("v", "s1").error().code(), Code::kInvalidArgument);
    EXPECT_EQ(storage->CreateSnapshot("nope", "s1").error().code(), Code::kNotFound);
    for (int pass = 0; pass < 12; pass++) {  // 96 MiB through a 128 MiB pool
      auto data = pass == 11 ? b : Pattern(kSize, 100 + pass);
      ASSERT_TRUE(volume->Write(0, data, false)) << "pass " << pass;
      ASSERT_TRUE(volume->Flush());
      ASSERT_TRUE(storage->Commit());
    }
    auto snap = storage->OpenVolume("v@s1");
    ASSERT_TRUE(snap) << snap.error().ToString();
    EXPECT_TRUE((*snap)->read_only());
    std::vector<std::byte> got(kSize);
    ASSERT_TRUE((*snap)->Read(0, got));
    EXPECT_TRUE(got == a) << "the snapshot lost its data";
    EXPECT_EQ((*snap)->Write(0, std::span(got).first(4096), false).error().code(), Code::kReadOnly);
    EXPECT_EQ(storage->DeleteSnapshot("v", "s1").error().code(), Code::kBusy);
    ASSERT_TRUE(volume->Read(0, got));
    EXPECT_TRUE(got == b);
    auto report = storage->Check();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->clean()) << report->Summary();
  }
  auto storage = std::move(*pd.Open());
  auto list = storage->ListSnapshots("v");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "s1");
  std::vector<std::byte> got(kSize);
  {
    auto snap = std::move(*storage->OpenVolume("v@s1"));
    ASSERT_TRUE(snap->Read(0, got));
    EXPECT_TRUE(got == a);
    auto live = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(live->Read(0, got));
    EXPECT_TRUE(got == b);
  }
  uint64_t pinned = storage->GetPoolStatus()->used_bytes;
  ASSERT_TRUE(storage->DeleteSnapshot("v", "s1"));
  EXPECT_EQ(storage->OpenVolume("v@s1").error().code(), Code::kNotFound);
  {
    auto live = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(live->Read(0, got));
    EXPECT_TRUE(got == b);
  }  // closing runs the cleaner: the unpinned dead rows go
  EXPECT_LT(storage->GetPoolStatus()->used_bytes, pinned);
  auto report = storage->Check();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->clean()) << report->Summary();
}

}  // namespace
}  // namespace tessera::testing
