// vdev add (PoolApi::AddVdev, core/volume/storage_vdev_add.cc): on a pool
// opened directly and under a volume being written; refusals that change
// nothing; and a crash at each device write of the add (FaultVdev), after
// which the pool opens, with the vdev usable or without it, and checks
// clean.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/pool/label.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/aligned_buffer.h"
#include "tests/unit/volume/vdev_change_test_util.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}




TEST(VdevAdd, OfflineAddIsUsedAndSurvivesReopen) {
  PoolDir pd(1, 64 * kMiB);
  Bytes model(16 * kMiB, std::byte{0});
  {
    auto storage = std::move(*pd.Create());
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = model.size()}));
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(WriteRounds(*volume, model, 16, 1, 3));
    volume.reset();
    EXPECT_EQ(storage->GetPoolStatus()->metadata_copies_written, 1u);

    auto added = storage->AddVdev({.name = "d1", .path = "d1.img", .size = 64 * kMiB});
    ASSERT_TRUE(added) << added.error().ToString();
    EXPECT_EQ(added->name, "d1");
    EXPECT_EQ(added->tier, "fastest");
    EXPECT_EQ(added->index, 1u);
    EXPECT_EQ(added->path, pd.dir() + "/d1.img");
    EXPECT_EQ(added->state, "online");
    // A second vdev of a metadata tier: every node now gets its second copy.
    EXPECT_EQ(storage->GetPoolStatus()->metadata_copies_written, 2u);
    EXPECT_NE(ReadText(pd.dir() + "/pool.conf").find("[vdev d1]\npath = d1.img\n"),
              std::string::npos);
    ExpectClean(*storage);
    // Every tree node and the superblock have a copy on d1 now: vdev0 may
    // go offline (it is refused while some node lives only there).
    ASSERT_TRUE(storage->OfflineVdev("vdev0"));
    ASSERT_TRUE(storage->OnlineVdev("vdev0"));

    // New rows land on the new vdev.
    volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(WriteRounds(*volume, model, 48, 100, 3));
    volume.reset();
    auto vdevs = storage->ListVdevs();
    ASSERT_TRUE(vdevs);
    ASSERT_NE(Named(*vdevs, "d1"), nullptr);
    EXPECT_GT(Named(*vdevs, "d1")->used_bytes, 2 * kMiB);
    ASSERT_TRUE(storage->Close());
  }
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  auto vdevs = (*storage)->ListVdevs();
  ASSERT_EQ(vdevs->size(), 2u);
  EXPECT_GT(Named(*vdevs, "d1")->used_bytes, 2 * kMiB);
  auto read = ReadAll(**storage, "v");
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == model);
  ExpectClean(**storage);
  auto scrub = (*storage)->Scrub();
  ASSERT_TRUE(scrub) << scrub.error().ToString();
  EXPECT_TRUE(scrub->clean());
}

// Adds d2 to a pool of `vdevs` while a thread writes volume v and the
// background thread commits, as a server does.
void AddWhileWriting(uint32_t vdevs) {
  PoolDir pd(vdevs, 48 * kMiB);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 16 * kMiB}));
  storage->StartBackground(std::chrono::milliseconds(20));
  auto volume = std::move(*storage->OpenVolume("v"));
  Bytes model(16 * kMiB, std::byte{0});
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> rounds{0};
  Status written = Ok();
  std::thread writer([&] {  // 8 MiB a round, before, during and after the add
    for (uint64_t round = 0; written && !stop; round++) {
      written = WriteRounds(*volume, model, 8, round * 8, 3);
      rounds++;
    }
  });
  while (rounds < 2) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto result = storage->AddVdev(
      {.name = "d2", .path = pd.dir() + "/d2.img", .size = 64 * kMiB, .tier = "fastest"});
  const uint64_t at_add = rounds;
  while (rounds < at_add + 6 && written) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  writer.join();
  ASSERT_TRUE(result) << result.error().ToString();
  ASSERT_TRUE(written) << written.error().ToString();
  // Keep writing until rows have landed on d2 (bounded).
  for (int i = 0; i < 20 && Named(*storage->ListVdevs(), "d2")->used_bytes < 2 * kMiB; i++) {
    ASSERT_TRUE(WriteRounds(*volume, model, 16, 1000 + i * 16, 3));
  }
  EXPECT_GE(Named(*storage->ListVdevs(), "d2")->used_bytes, 2 * kMiB);
  Bytes now(model.size());
  ASSERT_TRUE(volume->Read(0, now));
  EXPECT_TRUE(now == model);
  volume.reset();
  ExpectClean(*storage);
  EXPECT_EQ(storage->GetPoolStatus()->metadata_copies_written, 2u);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  auto reopened = pd.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->ListVdevs()->size(), vdevs + 1);
  auto read = ReadAll(**reopened, "v");
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == model);
  ExpectClean(**reopened);
}

TEST(VdevAdd, OnlineWhileAVolumeIsWritten) { AddWhileWriting(2); }

// The add also rewrites every tree node with its second copy, the volume's
// tree among them, while that tree takes writes.
TEST(VdevAdd, OnlineToAOneVdevPoolWhileAVolumeIsWritten) { AddWhileWriting(1); }

TEST(VdevAdd, RefusalsChangeNothing) {
  PoolDir pd(2, 32 * kMiB);
  auto storage = std::move(*pd.Create());
  const std::string conf = ReadText(pd.dir() + "/pool.conf");
  {
    std::ofstream(pd.dir() + "/full.img") << "data";
    std::ofstream(pd.dir() + "/empty.img");
  }
  // A copy of vdev0's file, and what an add that stopped before writing
  // pool.conf leaves: this pool's label for a vdev that pool.conf does not
  // name.
  {
    std::ifstream in(pd.dir() + "/vdev0.img", std::ios::binary);
    std::string block(4096, '\0');
    in.read(block.data(), block.size());
    std::ofstream(pd.dir() + "/copy.img", std::ios::binary).write(block.data(), block.size());
    auto label = DecodeLabel(std::as_bytes(std::span(block)));
    ASSERT_TRUE(label);
    label->vdev_guid ^= 1;
    label->name = "lost";
    AlignedBuffer left(kBlockSize);
    EncodeLabel(*label, left.span());
    std::ofstream(pd.dir() + "/left.img", std::ios::binary)
        .write(reinterpret_cast<const char*>(left.data()), kBlockSize);
  }
  struct Case {
    const char* what;
    VdevSpec spec;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"taken name",
       {.name = "vdev1", .path = "n.img", .size = 32 * kMiB},
       "already has a vdev named 'vdev1'"},
      {"taken path",
       {.name = "x", .path = "vdev1.img", .size = 32 * kMiB},
       "already the path of vdev 'vdev1'"},
      {"non-empty file",
       {.name = "x", .path = "full.img", .size = 32 * kMiB},
       "already exists and it is not empty"},
      {"a vdev's copy",
       {.name = "x", .path = "copy.img", .size = 32 * kMiB},
       "holds the label of this pool's vdev 'vdev0'"},
      {"left by an add",
       {.name = "x", .path = "left.img", .size = 32 * kMiB},
       "label for a vdev 'lost' (tier fastest, index 0) that pool.conf does not name: an earlier "
       "vdev add stopped before it wrote pool.conf. The pool does not use that file: remove it and "
       "run vdev add again"},
      {"unknown tier",
       {.name = "x", .path = "n.img", .size = 32 * kMiB, .tier = "warm"},
       "unknown tier 'warm'"},
      {"too small", {.name = "x", .path = "n.img", .size = 8 * kMiB}, "below the minimum"},
      {"bad name", {.name = "a/b", .path = "n.img", .size = 32 * kMiB}, "may use only"},
      {"unknown kind",
       {.name = "x", .path = "n.img", .size = 32 * kMiB, .attrs = {{"kind", "nfs"}}},
       "unknown kind"},
      {"bad io",
       {.name = "x", .path = "n.img", .size = 32 * kMiB, .attrs = {{"io", "fast"}}},
       "io = 'fast'"},
      {"bad value",
       {.name = "x", .path = "n.img", .size = 32 * kMiB, .attrs = {{"host", "a;b"}}},
       "out of place"},
      {"reserved key",
       {.name = "x", .path = "n.img", .size = 32 * kMiB, .attrs = {{"state", "offline"}}},
       "not an attribute"},
      {"no directory",
       {.name = "x", .path = "no/such/dir.img", .size = 32 * kMiB},
       "does not exist"},
      {"long line",
       {.name = "x", .path = std::string(220, 'p') + ".img", .size = 32 * kMiB},
       "longer than"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto result = storage->AddVdev(c.spec);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().code(), Code::kInvalidArgument) << result.error().ToString();
    EXPECT_NE(result.error().message().find(c.says), std::string::npos) << result.error().message();
    EXPECT_EQ(ReadText(pd.dir() + "/pool.conf"), conf);
    EXPECT_EQ(storage->ListVdevs()->size(), 2u);
    EXPECT_FALSE(fs::exists(pd.dir() + "/n.img"));
  }
  EXPECT_EQ(fs::file_size(pd.dir() + "/full.img"), 4u);
  // An empty file is taken; the default name is vdevK, K the vdev count.
  auto added = storage->AddVdev({.path = "empty.img", .size = 32 * kMiB, .tier = "slow"});
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_EQ(added->name, "vdev2");
  EXPECT_EQ(added->tier, "slow");
  EXPECT_EQ(added->index, 0u);
  EXPECT_EQ(fs::file_size(pd.dir() + "/empty.img"), 32 * kMiB);
  ExpectClean(*storage);
}



const VdevSpec kAdded{.name = "d1", .path = "d1.img", .size = 32 * kMiB};

TEST(VdevAdd, CrashAtEachDeviceWriteOpensWithOrWithoutTheVdev) {
  uint64_t total = 0;
  {
    PoolDir pd(1, 32 * kMiB);
    CrashPlan plan;
    auto storage = std::move(
        *Storage::Create(pd.dir(), Storage::DefaultConfig(pd.dir(), 1, 32 * kMiB), plan.Options()));
    SetUpPool(*storage, 3);
    uint64_t before = plan.writes();
    // The order of the add: nothing is written to the pool's own vdevs (a
    // commit that could refer to the new one) before pool.conf names it.
    int early = 0, late = 0;
    plan.on_write = [&](const std::string& device) {
      if (device.find("d1.img") != std::string::npos) return;
      (ReadText(pd.dir() + "/pool.conf").find("[vdev d1]") == std::string::npos ? early : late)++;
    };
    ASSERT_TRUE(storage->AddVdev(kAdded));
    plan.on_write = nullptr;
    total = plan.writes() - before;
    EXPECT_EQ(early, 0) << "writes to the pool's vdevs before pool.conf named the new one";
    EXPECT_GT(late, 0);
  }
  ASSERT_GT(total, 3u);
  int with = 0, without = 0;
  for (uint64_t n = 0; n <= total; n++) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes of the add", n, total));
    PoolDir pd(1, 32 * kMiB);
    Bytes model;
    bool ok = false;
    {
      CrashPlan plan;
      auto storage = std::move(*Storage::Create(
          pd.dir(), Storage::DefaultConfig(pd.dir(), 1, 32 * kMiB), plan.Options()));
      model = SetUpPool(*storage, 3);
      plan.Arm(n);
      ok = static_cast<bool>(storage->AddVdev(kAdded));
      plan.PowerLoss();
      (void)storage->Close();
    }
    auto storage = ReopenPlain(pd.dir());
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto read = ReadAll(**storage, "v");
    ASSERT_TRUE(read) << read.error().ToString();
    EXPECT_TRUE(*read == model);
    ExpectClean(**storage);
    size_t vdevs = (*storage)->ListVdevs()->size();
    if (ok) {
      EXPECT_EQ(vdevs, 2u) << "the add returned Ok";
    }
    if (vdevs == 2) {
      with++;
      // Fully usable: a new volume's rows go on both vdevs.
      ASSERT_TRUE((*storage)->CreateVolume({.name = "w", .size = 8 * kMiB, .layout = "stripe:2"}));
      auto w = std::move(*(*storage)->OpenVolume("w"));
      Bytes wm(8 * kMiB, std::byte{0});
      ASSERT_TRUE(WriteRounds(*w, wm, 8, 50, 3));
      w.reset();
      EXPECT_GT(Named(*(*storage)->ListVdevs(), "d1")->used_bytes, 1 * kMiB);
      ExpectClean(**storage);
    } else {
      ASSERT_EQ(vdevs, 1u);
      without++;
      // The retry works, or says what to remove.
      auto retry = (*storage)->AddVdev(kAdded);
      if (!retry) {
        EXPECT_NE(retry.error().message().find("remove it and run vdev add again"),
                  std::string::npos)
            << retry.error().message();
        fs::remove(pd.dir() + "/d1.img");
        retry = (*storage)->AddVdev(kAdded);
      }
      ASSERT_TRUE(retry) << retry.error().ToString();
      ExpectClean(**storage);
    }
    ASSERT_TRUE((*storage)->Close());
  }
  EXPECT_GT(with, 0);
  EXPECT_GT(without, 0);
}

}  // namespace
}  // namespace tessera::testing
