// Rollback to any snapshot: newer ones kept (storage_rollback_keep.cc) or
// deleted with -r (storage_rollback.cc note 7), against a model of the live
// volume and of every snapshot, with snapshots deleted in random orders,
// resizes and reopens. Every snapshot and the live volume must read as the
// model says, Check() must stay clean, and once everything is deleted the
// pool's free space must be what it was before: no block leaked, none freed
// twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

using Bytes = std::vector<std::byte>;
constexpr uint64_t kBlock = 4096;
constexpr uint64_t kSize = 4 << 20;

struct Snap {
  std::string name;
  Bytes data;
};

class RollbackModel {
 public:
  // `layout` for the volume; with `clone`, "v" is a clone of a snapshot of
  // another volume, "o" (its blocks read through until written).
  RollbackModel(uint64_t seed, std::string layout = "simple", uint32_t vdevs = 2, bool clone = false)
      : rng_(seed), layout_(std::move(layout)), clone_(clone), pd_(vdevs, 64ull << 20) {}

  void Run(int steps) {
    storage_ = std::move(*pd_.Create());
    free_before_ = Free();
    live_.assign(kSize, std::byte{0});
    if (clone_) {
      ASSERT_TRUE(storage_->CreateVolume({.name = "o", .size = kSize, .layout = layout_}));
      auto origin = std::move(*storage_->OpenVolume("o"));
      Bytes data = Pattern(kSize / 2, rng_());
      ASSERT_TRUE(origin->Write(kSize / 4, data, false));
      std::copy(data.begin(), data.end(), live_.begin() + kSize / 4);
      origin.reset();
      ASSERT_TRUE(storage_->CreateSnapshot("o", "base"));
      ASSERT_TRUE(storage_->CloneSnapshot("o", "base", "v"));
    } else {
      ASSERT_TRUE(storage_->CreateVolume({.name = "v", .size = kSize, .layout = layout_}));
    }
    for (int step = 0; step < steps; step++) {
      switch (rng_() % 10) {
        case 0: case 1: case 2: Write(); break;
        case 3: case 4: Snapshot(); break;
        case 5: case 6: Rollback(); break;
        case 7: DeleteOne(); break;
        case 8: Grow(); break;
        case 9: Reopen(); break;
      }
      if (::testing::Test::HasFailure()) {
        ADD_FAILURE() << "step " << step << ": " << log_;
        return;
      }
      if (step % 5 == 4) Verify();
    }
    Verify();
    // Everything goes, in a random order; the live volume stays right.
    while (!snaps_.empty() && !::testing::Test::HasFailure()) DeleteOne();
    Verify();
    ASSERT_TRUE(storage_->DeleteVolume("v"));
    if (clone_) {
      ASSERT_TRUE(storage_->DeleteVolume("o"));
    }
    ExpectClean(*storage_);
    Reopen();
    EXPECT_EQ(Free(), free_before_) << "blocks leaked (less) or freed twice (more): " << log_;
    ExpectClean(*storage_);
  }

 private:
  uint64_t Free() {
    auto status = storage_->GetPoolStatus();
    EXPECT_TRUE(status) << status.error().ToString();
    return status ? status->free_bytes : 0;
  }

  void Write() {
    auto volume = storage_->OpenVolume("v");
    ASSERT_TRUE(volume) << volume.error().ToString();
    int writes = 1 + static_cast<int>(rng_() % 12);
    for (int i = 0; i < writes; i++) {
      uint64_t blocks = live_.size() / kBlock;
      uint64_t at = rng_() % blocks;
      uint64_t n = 1 + rng_() % std::min<uint64_t>(192, blocks - at);
      if (rng_() % 5 == 0) {
        ASSERT_TRUE((*volume)->Trim(at * kBlock, n * kBlock, false));
        std::fill_n(live_.begin() + static_cast<ptrdiff_t>(at * kBlock), n * kBlock, std::byte{0});
      } else {
        Bytes data = Pattern(n * kBlock, rng_());
        ASSERT_TRUE((*volume)->Write(at * kBlock, data, false));
        std::copy(data.begin(), data.end(), live_.begin() + static_cast<ptrdiff_t>(at * kBlock));
      }
    }
    ASSERT_TRUE((*volume)->Flush());
    log_ += fmt::format(" write({})", writes);
  }

  void Snapshot() {
    if (snaps_.size() >= 6) return;
    std::string name = fmt::format("s{}", next_++);
    ASSERT_TRUE(storage_->CreateSnapshot("v", name));
    snaps_.push_back({name, live_});
    log_ += " snap(" + name + ")";
  }

  void Rollback() {
    if (snaps_.empty()) return;
    size_t i = rng_() % snaps_.size();
    bool destroy = rng_() % 3 == 0;
    bool force = false;
    std::shared_ptr<Volume> writer;
    if (rng_() % 6 == 0) {
      // A writer holds the volume: refused, nothing changes; then --force.
      writer = std::move(*storage_->OpenVolume("v"));
      auto refused = storage_->RollbackSnapshot("v", snaps_[i].name, false, destroy);
      ASSERT_FALSE(refused);
      EXPECT_EQ(refused.error().code(), Code::kBusy) << refused.error().ToString();
      force = true;
    }
    ASSERT_TRUE(storage_->RollbackSnapshot("v", snaps_[i].name, force, destroy)) << snaps_[i].name;
    log_ += fmt::format(" rollback({}{}{})", snaps_[i].name, destroy ? " -r" : "", force ? " --force" : "");
    live_ = snaps_[i].data;
    if (destroy) snaps_.resize(i + 1);
    if (writer) {
      Bytes block(kBlock);
      auto read = writer->Read(0, block);
      ASSERT_FALSE(read) << "the revoked writer still reads";
    }
  }

  void DeleteOne() {
    if (snaps_.empty()) return;
    size_t i = rng_() % snaps_.size();
    auto listed = storage_->ListSnapshots("v");
    ASSERT_TRUE(listed) << listed.error().ToString();
    auto it = std::find_if(listed->begin(), listed->end(), [&](const SnapshotInfo& s) { return s.name == snaps_[i].name; });
    ASSERT_NE(it, listed->end());
    EXPECT_EQ(it->unique_bytes, it->unique_data_bytes + it->unique_metadata_bytes);
    uint64_t free = Free();
    ASSERT_TRUE(storage_->DeleteSnapshot("v", snaps_[i].name));
    int64_t freed = static_cast<int64_t>(Free()) - static_cast<int64_t>(free);
    // What the snapshot alone held is freed; the deletion's commit may also
    // leave the root tree (not the snapshot's) a node smaller or larger.
    EXPECT_LE(std::abs(freed - static_cast<int64_t>(it->unique_bytes)), 2 * static_cast<int64_t>(kBlock))
        << "deleting " << snaps_[i].name << ": freed " << freed << ", unique data " << it->unique_data_bytes
        << " and metadata " << it->unique_metadata_bytes;
    data_freed_ += it->unique_data_bytes;
    log_ += " delete(" + snaps_[i].name + ")";
    snaps_.erase(snaps_.begin() + static_cast<ptrdiff_t>(i));
  }

  void Grow() {
    uint64_t size = live_.size() + 64 * kBlock;
    if (size > 2 * kSize) return;
    ASSERT_TRUE(storage_->ResizeVolume("v", size, false));
    live_.resize(size, std::byte{0});
    log_ += " grow";
  }

  void Reopen() {
    ASSERT_TRUE(storage_->Close());
    storage_.reset();
    auto reopened = pd_.Open();
    ASSERT_TRUE(reopened) << reopened.error().ToString();
    storage_ = std::move(*reopened);
    log_ += " reopen";
  }

  void ExpectReads(const std::string& name, const Bytes& want) {
    auto volume = storage_->OpenVolume(name);
    ASSERT_TRUE(volume) << name << ": " << volume.error().ToString();
    ASSERT_EQ((*volume)->size(), want.size()) << name;
    Bytes got(want.size());
    ASSERT_TRUE((*volume)->Read(0, got)) << name;
    for (size_t at = 0; at < got.size(); at += kBlock) {
      ASSERT_EQ(0, std::memcmp(got.data() + at, want.data() + at, kBlock)) << name << ": block " << at / kBlock;
    }
  }

  void Verify() {
    ExpectReads("v", live_);
    std::vector<std::string> names;
    for (const Snap& s : snaps_) {
      ExpectReads("v@" + s.name, s.data);
      names.push_back(s.name);
    }
    auto listed = storage_->ListSnapshots("v");
    ASSERT_TRUE(listed) << listed.error().ToString();
    std::vector<std::string> got;
    for (const SnapshotInfo& s : *listed) got.push_back(s.name);
    EXPECT_EQ(got, names);
    ExpectClean(*storage_);
  }

  std::mt19937_64 rng_;
  std::string layout_;
  bool clone_ = false;
  PoolDir pd_;
  std::unique_ptr<Storage> storage_;
  Bytes live_;
  std::vector<Snap> snaps_;  // oldest first
  int next_ = 1;
  uint64_t free_before_ = 0;

 public:
  uint64_t data_freed_ = 0;  // unique data bytes of the deleted snapshots
  std::string log_;
};

TEST(RollbackAny, RandomRollbacksAndDeletesMatchTheModelAndLeakNothing) {
  for (uint64_t seed = 1; seed <= 6 && !HasFailure(); seed++) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    RollbackModel model(seed);
    model.Run(70);
    std::cout << "seed " << seed << ": snapshots' unique data freed " << model.data_freed_ << " bytes\n";
  }
}

// The same over an erasure-coded volume, and over a clone.
TEST(RollbackAny, ErasureCodedVolume) {
  for (uint64_t seed = 11; seed <= 12 && !HasFailure(); seed++) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    RollbackModel(seed, "rs:2+1", 3).Run(50);
  }
}

TEST(RollbackAny, Clone) {
  for (uint64_t seed = 21; seed <= 22 && !HasFailure(); seed++) {
    SCOPED_TRACE(fmt::format("seed {}", seed));
    RollbackModel(seed, "simple", 2, /*clone=*/true).Run(50);
  }
}

}  // namespace
}  // namespace tessera::testing
