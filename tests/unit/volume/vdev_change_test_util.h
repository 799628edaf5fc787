// Test support for the vdev add and grow tests: a pool's volume written
// against a model, and a crash plan that counts every device write of the
// pool and crashes them all at a chosen one.
#pragma once

#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/pool/vdev_kinds.h"
#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {

inline constexpr uint64_t kMiB = 1 << 20;
using Bytes = std::vector<std::byte>;

inline const VdevStatus* Named(const std::vector<VdevStatus>& vdevs, const std::string& name) {
  for (const auto& v : vdevs) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

inline Result<Bytes> ReadAll(Storage& storage, const std::string& name) {
  auto volume = TRY(storage.OpenVolume(name));
  Bytes out(volume->size());
  TRY_STATUS(volume->Read(0, out));
  return out;
}

// Writes `rounds` patterned MiBs over the volume, the i-th at MiB
// i * stride (modulo the volume's MiBs), into `model` too; flushes every 8.
inline Status WriteRounds(Volume& volume, Bytes& model, uint64_t rounds, uint64_t seed, uint64_t stride) {
  for (uint64_t i = 0; i < rounds; i++) {
    uint64_t offset = (i * stride % (model.size() / kMiB)) * kMiB;
    Bytes data = Pattern(kMiB, seed + i);
    TRY_STATUS(volume.Write(offset, data, false));
    std::memcpy(model.data() + offset, data.data(), kMiB);
    if (i % 8 == 7) TRY_STATUS(volume.Flush());
  }
  return volume.Flush();
}

// Volume v of 8 MiB made, written (12 rounds with `stride`), flushed and
// committed; returns its content.
// The pool at `dir` opened on its plain files, as after a reboot that
// followed a crash plan's power loss.
inline Result<std::unique_ptr<Storage>> ReopenPlain(const std::string& dir) {
  StorageOptions plain;
  plain.metadata_cache_bytes = 32 << 20;
  return Storage::Open(dir, plain);
}

inline Bytes SetUpPool(Storage& storage, uint64_t stride) {
  Bytes model(8 * kMiB, std::byte{0});
  EXPECT_TRUE(storage.CreateVolume({.name = "v", .size = model.size()}));
  auto volume = std::move(*storage.OpenVolume("v"));
  EXPECT_TRUE(WriteRounds(*volume, model, 12, 7, stride));
  volume.reset();
  EXPECT_TRUE(storage.Commit());
  return model;
}

// Every device write goes through one counter shared by all the pool's
// FaultVdevs: after `budget` writes the next one is the crash point, where
// every device loses its unflushed writes and goes dead.
class CrashPlan {
 public:
  // Called before each write request is passed on, with the device's
  // description, outside the plan's lock.
  std::function<void(const std::string&)> on_write;

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
      if (plan_->on_write) {
        for (const IoRequest& r : batch) {
          if (r.op != IoOp::kRead) plan_->on_write(base_->Describe());
        }
      }
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

}  // namespace tessera::testing
