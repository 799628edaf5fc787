// vdev grow (PoolApi::GrowVdev, core/volume/storage_vdev_grow.cc): the pool
// uses the new space at once, under a volume being written and after a
// reopen; refusals change nothing; a crash at each device write of the
// grow (FaultVdev) opens with the vdev at its old size or its new one and
// checks clean, both outcomes occurring, for a vdev that ends inside a
// segment and one that ends on a segment boundary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/alloc/segment_bitmap.h"
#include "core/pool/vdev_kinds.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1 << 20;
using Bytes = std::vector<std::byte>;

const VdevStatus* Named(const std::vector<VdevStatus>& vdevs, const std::string& name) {
  for (const auto& v : vdevs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

Result<Bytes> ReadAll(Storage& storage, const std::string& name) {
  auto volume = TRY(storage.OpenVolume(name));
  Bytes out(volume->size());
  TRY_STATUS(volume->Read(0, out));
  return out;
}

// Writes `rounds` patterned MiBs over the volume, flushing every 8.
Status WriteRounds(Volume& volume, Bytes& model, uint64_t rounds, uint64_t seed) {
  for (uint64_t i = 0; i < rounds; i++) {
    uint64_t offset = (i * 5 % (model.size() / kMiB)) * kMiB;
    Bytes data = Pattern(kMiB, seed + i);
    TRY_STATUS(volume.Write(offset, data, false));
    std::memcpy(model.data() + offset, data.data(), kMiB);
    if (i % 8 == 7) TRY_STATUS(volume.Flush());
  }
  return volume.Flush();
}

TEST(VdevGrow, OnlineUnderWritesThenTheNewSpaceIsUsedAndReopens) {
  PoolDir pd(1, 32 * kMiB);
  Bytes model(20 * kMiB, std::byte{0});
  {
    auto storage = std::move(*pd.Create());
    storage->StartBackground(std::chrono::milliseconds(20));
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = model.size()}));
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(WriteRounds(*volume, model, 20, 1));
    std::atomic<bool> stop{false};
    Status written = Ok();
    std::thread writer([&] {
      for (uint64_t round = 0; written && !stop; round++)
        written = WriteRounds(*volume, model, 4, 100 + round * 4);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    auto grown = storage->GrowVdev("vdev0", 128 * kMiB);
    stop = true;
    writer.join();
    ASSERT_TRUE(grown) << grown.error().ToString();
    ASSERT_TRUE(written) << written.error().ToString();
    EXPECT_EQ(grown->size_bytes, 128 * kMiB);
    EXPECT_EQ(fs::file_size(pd.dir() + "/vdev0.img"), 128 * kMiB);
    // More live data than the old vdev could hold: rows beyond its old end.
    ASSERT_TRUE(storage->CreateVolume({.name = "w", .size = 48 * kMiB}));
    auto w = std::move(*storage->OpenVolume("w"));
    Bytes w_model(48 * kMiB, std::byte{0});
    ASSERT_TRUE(WriteRounds(*w, w_model, 48, 5000));
    w.reset();
    EXPECT_GT(Named(*storage->ListVdevs(), "vdev0")->used_bytes, 64 * kMiB);
    Bytes now(model.size());
    ASSERT_TRUE(volume->Read(0, now));
    EXPECT_TRUE(now == model);
    volume.reset();
    ExpectClean(*storage);
    ASSERT_TRUE(storage->Close());
  }
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  EXPECT_EQ(Named(*(*storage)->ListVdevs(), "vdev0")->size_bytes, 128 * kMiB);
  auto read = ReadAll(**storage, "v");
  ASSERT_TRUE(read);
  EXPECT_TRUE(*read == model);
  ExpectClean(**storage);
}

TEST(VdevGrow, ToTheFileSizeAndRefusals) {
  PoolDir pd(2, 32 * kMiB);
  auto storage = std::move(*pd.Create());
  auto conf = [&] {
    std::ifstream in(pd.dir() + "/pool.conf");
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string before = conf();
  auto unknown = storage->GrowVdev("nope", 64 * kMiB);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code(), Code::kNotFound);
  for (uint64_t size : {uint64_t{0}, 16 * kMiB, 32 * kMiB}) {
    auto refused = storage->GrowVdev("vdev1", size);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kInvalidArgument) << refused.error().ToString();
    EXPECT_NE(refused.error().message().find("give a larger size"), std::string::npos);
  }
  ASSERT_TRUE(storage->OfflineVdev("vdev1"));
  auto offline = storage->GrowVdev("vdev1", 64 * kMiB);
  ASSERT_FALSE(offline);
  EXPECT_NE(offline.error().message().find("bring it online first"), std::string::npos);
  ASSERT_TRUE(storage->OnlineVdev("vdev1"));
  EXPECT_EQ(conf(), before);
  EXPECT_EQ(fs::file_size(pd.dir() + "/vdev1.img"), 32 * kMiB);
  // The admin extended the file: the vdev takes its size.
  fs::resize_file(pd.dir() + "/vdev1.img", 48 * kMiB);
  auto smaller = storage->GrowVdev("vdev1", 40 * kMiB);
  ASSERT_FALSE(smaller);
  EXPECT_NE(smaller.error().message().find("more than the"), std::string::npos);
  auto grown = storage->GrowVdev("vdev1", 0);
  ASSERT_TRUE(grown) << grown.error().ToString();
  EXPECT_EQ(grown->size_bytes, 48 * kMiB);
  EXPECT_NE(conf().find("size = " + std::to_string(48 * kMiB)), std::string::npos);
  ExpectClean(*storage);
  ASSERT_TRUE(storage->Close());
  storage.reset();
  auto reopened = pd.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ(Named(*(*reopened)->ListVdevs(), "vdev1")->size_bytes, 48 * kMiB);
  ExpectClean(**reopened);
}

// Counts every device write of the pool; after `budget` the next one is
// the crash point: every device loses its unflushed writes and goes dead.
class CrashPlan {
 public:
  StorageOptions Options() {
    StorageOptions options;
    options.metadata_cache_bytes = 32 << 20;
    options.open_devices = [this](const PoolConfig& config,
                                  bool create) -> Result<std::vector<std::shared_ptr<Vdev>>> {
      auto files = TRY(OpenVdevs(config, {.create = create}));
      std::vector<std::shared_ptr<Vdev>> out;
      std::lock_guard lock(mu_);
      for (auto& f : files) {
        faults_.push_back(std::make_shared<FaultVdev>(f));
        out.push_back(std::make_shared<Counted>(this, faults_.back()));
      }
      return out;
    };
    return options;
  }
  void Arm(uint64_t budget) {
    std::lock_guard lock(mu_);
    budget_ = writes_ + budget;
  }
  uint64_t writes() {
    std::lock_guard lock(mu_);
    return writes_;
  }
  void PowerLoss() {
    std::lock_guard lock(mu_);
    PowerLossLocked();
  }

 private:
  class Counted final : public Vdev {
   public:
    Counted(CrashPlan* plan, std::shared_ptr<FaultVdev> base)
        : plan_(plan), base_(std::move(base)) {}
    BlockCount Size() const override { return base_->Size(); }
    std::string Describe() const override { return base_->Describe(); }
    Status Flush() override { return base_->Flush(); }
    Status SubmitBatch(std::span<IoRequest> batch) override {
      size_t allowed = batch.size();
      {
        std::lock_guard lock(plan_->mu_);
        if (plan_->crashed_) allowed = 0;
        for (size_t i = 0; i < allowed; i++) {
          if (batch[i].op == IoOp::kRead) continue;
          if (plan_->budget_ && plan_->writes_ >= *plan_->budget_) {
            allowed = i;
            break;
          }
          plan_->writes_++;
        }
      }
      Status done = allowed == 0 ? Ok() : base_->SubmitBatch(batch.first(allowed));
      if (allowed == batch.size()) return done;
      std::lock_guard lock(plan_->mu_);
      plan_->PowerLossLocked();
      for (size_t i = allowed; i < batch.size(); i++)
        batch[i].result = Err(Code::kIOError, "crashed");
      return Err(Code::kIOError, "crashed");
    }

   private:
    CrashPlan* plan_;
    std::shared_ptr<FaultVdev> base_;
  };

  void PowerLossLocked() {
    if (crashed_) return;
    crashed_ = true;
    for (auto& f : faults_) (void)f->SimulatePowerLoss();
  }

  std::mutex mu_;
  std::optional<uint64_t> budget_;                  // GUARDED_BY(mu_)
  uint64_t writes_ = 0;                             // GUARDED_BY(mu_)
  bool crashed_ = false;                            // GUARDED_BY(mu_)
  std::vector<std::shared_ptr<FaultVdev>> faults_;  // GUARDED_BY(mu_)
};

Bytes SetUpPool(Storage& storage) {
  Bytes model(8 * kMiB, std::byte{0});
  EXPECT_TRUE(storage.CreateVolume({.name = "v", .size = model.size()}));
  auto volume = std::move(*storage.OpenVolume("v"));
  EXPECT_TRUE(WriteRounds(*volume, model, 12, 7));
  volume.reset();
  EXPECT_TRUE(storage.Commit());
  return model;
}

void CrashDuringGrow(uint64_t old_bytes, uint64_t new_bytes) {
  auto create = [&](PoolDir& pd, CrashPlan& plan) {
    return std::move(
        *Storage::Create(pd.dir(), Storage::DefaultConfig(pd.dir(), 2, old_bytes), plan.Options()));
  };
  uint64_t total = 0;
  {
    PoolDir pd;
    CrashPlan plan;
    auto storage = create(pd, plan);
    SetUpPool(*storage);
    uint64_t before = plan.writes();
    ASSERT_TRUE(storage->GrowVdev("vdev0", new_bytes));
    total = plan.writes() - before;
  }
  ASSERT_GT(total, 3u);
  int grown = 0, not_grown = 0;
  for (uint64_t n = 0; n <= total; n++) {
    SCOPED_TRACE(fmt::format("crash after {} of {} writes of the grow", n, total));
    PoolDir pd;
    Bytes model;
    bool ok = false;
    {
      CrashPlan plan;
      auto storage = create(pd, plan);
      model = SetUpPool(*storage);
      plan.Arm(n);
      ok = static_cast<bool>(storage->GrowVdev("vdev0", new_bytes));
      plan.PowerLoss();
      (void)storage->Close();
    }
    StorageOptions plain;
    plain.metadata_cache_bytes = 32 << 20;
    auto storage = Storage::Open(pd.dir(), plain);
    ASSERT_TRUE(storage) << storage.error().ToString();
    auto read = ReadAll(**storage, "v");
    ASSERT_TRUE(read) << read.error().ToString();
    EXPECT_TRUE(*read == model);
    ExpectClean(**storage);
    uint64_t size = Named(*(*storage)->ListVdevs(), "vdev0")->size_bytes;
    if (ok) {
      EXPECT_EQ(size, new_bytes) << "the grow returned Ok";
    }
    if (size == new_bytes) {
      grown++;
    } else {
      ASSERT_EQ(size, old_bytes);
      not_grown++;
      auto retry = (*storage)->GrowVdev("vdev0", new_bytes);  // the file may be longer already
      ASSERT_TRUE(retry) << retry.error().ToString();
    }
    // Either way the pool writes on and checks clean.
    auto volume = std::move(*(*storage)->OpenVolume("v"));
    ASSERT_TRUE(WriteRounds(*volume, model, 16, 500));
    volume.reset();
    ExpectClean(**storage);
    ASSERT_TRUE((*storage)->Close());
  }
  EXPECT_GT(grown, 0);
  EXPECT_GT(not_grown, 0);
}

TEST(VdevGrow, CrashAtEachDeviceWriteOfAVdevEndingInsideASegment) {
  CrashDuringGrow(32 * kMiB, 48 * kMiB);
}

// The old end label is the last block of a whole segment, which stays a
// segment of the grown vdev.
TEST(VdevGrow, CrashAtEachDeviceWriteOfAVdevEndingOnASegmentBoundary) {
  CrashDuringGrow(kSegmentBlocks * kBlockSize, kSegmentBlocks * kBlockSize + 64 * kMiB);
}

}  // namespace
}  // namespace tessera::testing
