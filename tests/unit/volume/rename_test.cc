// Renaming a volume: its data, snapshots and exNode follow the new name, in
// one commit (storage_volumes.cc, design note 8).
#include <gtest/gtest.h>

#include <set>

#include "core/exnode/exnode.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

// The name the volume's live exNode records.
std::string ExnodeName(Storage& storage, const std::string& volume) {
  auto text = storage.ExnodeText(volume);
  if (!text) return "error: " + text.error().ToString();
  auto exnode = ParseExnode(*text);
  return exnode ? exnode->name : "error: " + exnode.error().ToString();
}

TEST(Rename, DataSnapshotsAndExnodeFollowTheNewName) {
  PoolDir pd;
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 8 << 20}));
  const auto data = Pattern(1 << 20, 5);
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, data, false));
    ASSERT_TRUE(volume->Flush());
  }
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  ASSERT_TRUE(storage->RenameVolume("v", "w"));
  EXPECT_EQ(ExnodeName(*storage, "w"), "w");
  EXPECT_EQ(storage->ExnodeText("v").error().code(), Code::kNotFound);
  auto snapshots = storage->ListSnapshots("w");
  ASSERT_TRUE(snapshots);
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ((*snapshots)[0].name, "s");
  for (const char* name : {"w", "w@s"}) {
    SCOPED_TRACE(name);
    auto volume = storage->OpenVolume(name);
    ASSERT_TRUE(volume) << volume.error().ToString();
    std::vector<std::byte> got(data.size());
    ASSERT_TRUE((*volume)->Read(0, got));
    EXPECT_TRUE(got == data);
  }
  ExpectClean(*storage);
}

// A rename cut off by a crash at any device write leaves the volume under
// its old name or its new one, with its exNode naming the same, its data and
// its snapshot.
TEST(Rename, ARenameCutOffByACrashIsCompleteOrAbsent) {
  const auto data = Pattern(1 << 20, 7);
  auto prepare = [&](PoolDir& pd) {
    auto storage = std::move(*pd.Create());
    EXPECT_TRUE(storage->CreateVolume({.name = "v", .size = 8 << 20}));
    auto volume = std::move(*storage->OpenVolume("v"));
    EXPECT_TRUE(volume->Write(0, data, false));
    EXPECT_TRUE(volume->Flush());
    volume.reset();
    EXPECT_TRUE(storage->CreateSnapshot("v", "s"));
    return storage;
  };
  uint64_t total = 0;
  {
    PoolDir pd(1, 64ull << 20);
    auto storage = prepare(pd);
    uint64_t before = pd.faults()[0]->Counters().writes;
    ASSERT_TRUE(storage->RenameVolume("v", "w"));
    total = pd.faults()[0]->Counters().writes - before;
  }
  ASSERT_GT(total, 0u);
  std::set<std::string> names_seen;
  for (uint64_t n = 0; n <= total; n++) {
    SCOPED_TRACE(fmt::format("crash after {} of the rename's {} device writes", n, total));
    PoolDir pd(1, 64ull << 20);
    {
      auto storage = prepare(pd);
      pd.faults()[0]->CrashAfterWrites(n);
      (void)storage->RenameVolume("v", "w");
      pd.PowerLossAll();
    }
    auto storage = pd.Open();
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto volumes = (*storage)->ListVolumes();
    ASSERT_TRUE(volumes);
    ASSERT_EQ(volumes->size(), 1u);
    const std::string name = (*volumes)[0].name;
    ASSERT_TRUE(name == "v" || name == "w") << name;
    names_seen.insert(name);
    EXPECT_EQ(ExnodeName(**storage, name), name);
    for (const std::string& open : {name, name + "@s"}) {
      auto volume = (*storage)->OpenVolume(open);
      ASSERT_TRUE(volume) << open << ": " << volume.error().ToString();
      std::vector<std::byte> got(data.size());
      ASSERT_TRUE((*volume)->Read(0, got));
      EXPECT_TRUE(got == data) << open;
    }
    ExpectClean(**storage);
    if (HasFailure()) return;
  }
  EXPECT_EQ(names_seen.size(), 2u) << "the crashes should fall both before and after the rename's commit";
}

}  // namespace
}  // namespace tessera::testing
