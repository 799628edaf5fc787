// A pool directory under TMPDIR with file vdevs wrapped in FaultVdevs, so
// that volume tests can crash the devices under a real Storage.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <random>

#include "core/util/checksum.h"
#include "core/util/unique_fd.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/uuid.h"
#include "core/vdev/fault_vdev.h"
#include "core/vdev/file_vdev.h"
#include "core/volume/storage.h"

namespace tessera::testing {

// A stream file for Storage's diff-stream calls, opened as the CLI opens
// it; converts to the descriptor Storage borrows.
struct StreamFd {
  UniqueFd fd;
  operator int() const { return fd.get(); }  // NOLINT: implicit on purpose
};
inline StreamFd StreamOut(const std::string& path) {
  return {UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600))};
}
inline StreamFd StreamIn(const std::string& path) {
  return {UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC))};
}

class PoolDir {
 public:
  explicit PoolDir(uint32_t vdevs = 2, uint64_t vdev_bytes = 128ull << 20) : vdevs_(vdevs), vdev_bytes_(vdev_bytes) {
    dir_ = (std::filesystem::temp_directory_path() / fmt::format("tessera-volume-test-{}", RandomU64())).string();
  }
  ~PoolDir() {
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(dir_ + ".files");
  }

  const std::string& dir() const { return dir_; }
  // A path outside the pool directory (which holds no stream files,
  // storage.h), removed with it.
  std::string Outside(const std::string& name) const {
    std::filesystem::create_directories(dir_ + ".files");
    return dir_ + ".files/" + name;
  }

  StorageOptions Options() {
    StorageOptions options;
    options.metadata_cache_bytes = 32 << 20;
    options.open_devices = [this](const PoolConfig& config, bool create) -> Result<std::vector<std::shared_ptr<Vdev>>> {
      auto files = OpenVdevs(config, {.create = create});
      if (!files) return Err(files.error());
      faults_.clear();
      std::vector<std::shared_ptr<Vdev>> out;
      for (size_t i = 0; i < files->size(); i++) {
        // A vdev not opened (offline, removed) stays a null device.
        faults_.push_back((*files)[i] ? std::make_shared<FaultVdev>((*files)[i]) : nullptr);
        if (faults_.back()) by_name_[config.vdevs[i].name] = faults_.back();
        out.push_back(faults_.back());
      }
      return out;
    };
    return options;
  }

  Result<std::unique_ptr<Storage>> Create() {
    return Storage::Create(dir_, Storage::DefaultConfig(dir_, vdevs_, vdev_bytes_), Options());
  }
  Result<std::unique_ptr<Storage>> Open() { return Storage::Open(dir_, Options()); }

  // The devices of the last open (pool create or open, vdev add, online,
  // replace), in its config's order.
  std::vector<std::shared_ptr<FaultVdev>>& faults() { return faults_; }
  // The device last opened for the vdev `name`, whichever call opened it.
  std::shared_ptr<FaultVdev> fault(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : it->second;
  }
  void PowerLossAll(std::optional<uint64_t> seed = std::nullopt) {
    for (auto& [name, f] : by_name_) (void)(seed ? f->SimulatePowerLoss(*seed) : f->SimulatePowerLoss());
  }

 private:
  uint32_t vdevs_;
  uint64_t vdev_bytes_;
  std::string dir_;
  std::vector<std::shared_ptr<FaultVdev>> faults_;
  std::map<std::string, std::shared_ptr<FaultVdev>> by_name_;
};

// A check's summary and the first few lines of each kind of problem.
inline std::string CheckDetails(const CheckReport& report) {
  std::string out = report.Summary();
  for (const auto* lines : {&report.leaks, &report.double_references, &report.unallocated_references,
                            &report.checksum_failures}) {
    for (size_t i = 0; i < lines->size() && i < 3; i++) out += "\n  " + (*lines)[i];
  }
  return out;
}

// Check() succeeds and reports a clean pool.
inline void ExpectClean(Storage& storage) {
  auto report = storage.Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << CheckDetails(*report);
}

// Reopens the pool, reads volume "v" ([0, bytes)) and asserts that every
// 4 KiB block's checksum is one `allowed(block, checksum)` accepts, then that
// the pool checks clean.
inline void ExpectBlocksThenCheck(PoolDir& pd, uint64_t bytes,
                                  const std::function<bool(uint64_t, uint64_t)>& allowed) {
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  auto volume = (*storage)->OpenVolume("v");
  ASSERT_TRUE(volume) << volume.error().ToString();
  std::vector<std::byte> all(bytes);
  ASSERT_TRUE((*volume)->Read(0, all));
  for (uint64_t b = 0; b < bytes / 4096; b++) {
    uint64_t sum = Checksum64(std::span(all).subspan(b * 4096, 4096));
    ASSERT_TRUE(allowed(b, sum)) << "block " << b << " holds content it never durably had";
  }
  volume->reset();
  auto report = (*storage)->Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << report->Summary();
}

inline std::vector<std::byte> Pattern(size_t n, uint64_t seed) {
  std::vector<std::byte> out(n);
  std::mt19937_64 rng(seed);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

}  // namespace tessera::testing
