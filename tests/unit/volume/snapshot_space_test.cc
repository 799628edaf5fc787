// Snapshot space accounting: a snapshot's unique bytes are what deleting it
// frees; and the test 2: 100 snapshots interleaved with random
// writes, deleted in random order, leave the pool clean after each deletion
// and give the space back down to the live volume's footprint.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "volume_test_util.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kSize = 8 << 20;  // rows of 4 MiB (the minimum row)
constexpr uint64_t kRowBytes = 4 << 20;

uint64_t Used(Storage& storage) {
  auto status = storage.GetPoolStatus();
  EXPECT_TRUE(status) << status.error().ToString();
  return status ? status->used_bytes : 0;
}

SnapshotInfo Find(Storage& storage, const std::string& volume, const std::string& name) {
  auto list = storage.ListSnapshots(volume);
  EXPECT_TRUE(list) << list.error().ToString();
  if (list) {
    for (const auto& s : *list) {
      if (s.name == name) return s;
    }
  }
  ADD_FAILURE() << "no snapshot " << name;
  return {};
}

void ExpectClean(Storage& storage, const std::string& when) {
  auto report = storage.Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << when << ": " << report->Summary();
}

// Three full overwrites with a snapshot after each of the first two; then
// the snapshots are deleted in `order`. Each deletion frees its unique bytes.
void RunUniqueEqualsFreed(const std::vector<std::string>& order) {
  PoolDir pd(1, 256ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 1), false));
    ASSERT_TRUE(storage->CreateSnapshot("v", "s1"));
    // Twice: whatever the batch sizes, some row is then wholly of this
    // generation and born after s1 (the spare row the first write left
    // committed ahead is born before s1).
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 2), false));
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 2), false));
    ASSERT_TRUE(storage->CreateSnapshot("v", "s2"));
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 3), false));
    ASSERT_TRUE(volume->Flush());
  }  // closing runs the cleaner: only pinned rows remain besides live ones
  ASSERT_TRUE(storage->Commit());
  auto pool = storage->GetPoolStatus();
  ASSERT_TRUE(pool);
  EXPECT_GE(pool->dead_pinned_bytes, 2 * kSize) << "both overwritten generations are pinned";
  uint64_t total_unique = 0;
  for (const std::string& name : order) {
    SnapshotInfo info = Find(*storage, "v", name);
    EXPECT_GE(info.referenced_bytes, kSize) << name << " maps the whole volume";
    uint64_t before = Used(*storage);
    ASSERT_TRUE(storage->DeleteSnapshot("v", name));
    uint64_t freed = before - Used(*storage);
    EXPECT_EQ(freed, info.unique_bytes)
        << "deleting " << name << ": unique " << info.unique_bytes << ", freed " << freed;
    total_unique += info.unique_bytes;
    std::cout << "deleted " << name << ": unique " << info.unique_bytes << " freed " << freed
              << "\n";
    ExpectClean(*storage, "after deleting " + name);
  }
  EXPECT_GE(total_unique, 2 * kSize) << "the two overwritten generations were freed";
  pool = storage->GetPoolStatus();
  ASSERT_TRUE(pool);
  EXPECT_EQ(pool->dead_pinned_bytes, 0u);
}

TEST(SnapshotSpace, UniqueBytesAreFreedNewestFirst) { RunUniqueEqualsFreed({"s2", "s1"}); }
TEST(SnapshotSpace, UniqueBytesAreFreedOldestFirst) { RunUniqueEqualsFreed({"s1", "s2"}); }

// The newest snapshot pins the data rows; an older one holds nodes only.
TEST(SnapshotSpace, NewestSnapshotHoldsTheOverwrittenRows) {
  PoolDir pd(1, 256ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 1), false));
    ASSERT_TRUE(storage->CreateSnapshot("v", "s1"));
    // Twice: whatever the batch sizes, some row is then wholly of this
    // generation and born after s1 (the spare row the first write left
    // committed ahead is born before s1).
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 2), false));
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 2), false));
    ASSERT_TRUE(storage->CreateSnapshot("v", "s2"));
    ASSERT_TRUE(volume->Write(0, Pattern(kSize, 3), false));
  }
  SnapshotInfo s1 = Find(*storage, "v", "s1");
  SnapshotInfo s2 = Find(*storage, "v", "s2");
  // Batches never straddle rows, so the rows of one generation's writes
  // spill into rows that an older generation shares: s2 alone pins at least
  // one row wholly of the second generation.
  EXPECT_LT(s1.unique_bytes, kRowBytes) << "s1 shares its rows' pin with s2";
  EXPECT_GE(s2.unique_bytes, kRowBytes) << "s2 alone pins the rows of the second write";
}

// Issue test 2. The twin pool runs the same writes with a flush and commit
// where the first takes a snapshot, and never has snapshots: it is the live
// volume's footprint.
TEST(SnapshotSpace, HundredSnapshotsDeletedInRandomOrder) {
  constexpr int kSnapshots = 100;
  PoolDir pd(1, 256ull << 20), twin_pd(1, 256ull << 20);
  auto storage = std::move(*pd.Create());
  auto twin = std::move(*twin_pd.Create());
  std::vector<std::byte> model(kSize);
  std::vector<std::vector<std::byte>> at;
  std::mt19937_64 rng(2026);
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = kSize}));
  ASSERT_TRUE(twin->CreateVolume({.name = "v", .size = kSize}));
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    auto twin_volume = std::move(*twin->OpenVolume("v"));
    for (int i = 0; i < kSnapshots; i++) {
      uint64_t blocks = 1 + rng() % 16;
      uint64_t off = (rng() % (kSize / 4096 - blocks)) * 4096;
      if (rng() % 8 == 0) {
        ASSERT_TRUE(volume->Trim(off, blocks * 4096, false));
        ASSERT_TRUE(twin_volume->Trim(off, blocks * 4096, false));
        std::fill(model.begin() + off, model.begin() + off + blocks * 4096, std::byte{0});
      } else {
        auto data = Pattern(blocks * 4096, rng());
        ASSERT_TRUE(volume->Write(off, data, false));
        ASSERT_TRUE(twin_volume->Write(off, data, false));
        std::copy(data.begin(), data.end(), model.begin() + off);
      }
      ASSERT_TRUE(storage->CreateSnapshot("v", fmt::format("s{}", i)));
      ASSERT_TRUE(twin_volume->Flush());
      ASSERT_TRUE(twin->Commit());
      at.push_back(model);
    }
  }
  std::vector<int> order(kSnapshots);
  for (int i = 0; i < kSnapshots; i++) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::byte> got(kSize);
  for (size_t n = 0; n < order.size(); n++) {
    int i = order[n];
    ASSERT_TRUE(storage->DeleteSnapshot("v", fmt::format("s{}", i)));
    ExpectClean(*storage, fmt::format("after deleting s{} ({} of {})", i, n + 1, kSnapshots));
    if (n % 20 == 0 && n + 1 < order.size()) {  // a surviving snapshot still reads its data
      int keep = order[n + 1];
      auto snap = storage->OpenVolume(fmt::format("v@s{}", keep));
      ASSERT_TRUE(snap);
      ASSERT_TRUE((*snap)->Read(0, got));
      ASSERT_TRUE(got == at[keep]) << "snapshot s" << keep << " changed";
    }
  }
  {
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Read(0, got));
    ASSERT_TRUE(got == model);
  }
  { auto twin_volume = std::move(*twin->OpenVolume("v")); }  // both closed: both cleaned
  ASSERT_TRUE(storage->Commit());
  ASSERT_TRUE(twin->Commit());
  uint64_t used = Used(*storage), footprint = Used(*twin);
  EXPECT_LE(used, footprint + kRowBytes) << "used " << used << ", live footprint " << footprint;
  EXPECT_GE(used + kRowBytes, footprint);
  auto status = storage->GetPoolStatus();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->dead_pinned_bytes, 0u);
  std::cout << "used " << used << " live footprint " << footprint << "\n";
}

}  // namespace
}  // namespace tessera::testing
