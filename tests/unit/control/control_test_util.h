// A temporary pool directory with a real Storage for control-socket tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/util/uuid.h"
#include "core/volume/storage.h"

namespace tessera::testing {

class TempPool {
 public:
  explicit TempPool(uint32_t vdevs = 2, uint64_t vdev_bytes = 256ull << 20)
      : vdevs_(vdevs), vdev_bytes_(vdev_bytes) {
    dir_ = (std::filesystem::temp_directory_path() / fmt::format("tessera-ctl-{}", RandomU64()))
               .string();
  }
  ~TempPool() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const std::string& dir() const { return dir_; }
  std::string socket() const { return dir_ + "/control.sock"; }

  static StorageOptions Options() {
    StorageOptions options;
    options.metadata_cache_bytes = 16 << 20;
    options.data_cache_bytes = 16 << 20;
    options.dirty_bytes_max = 4 << 20;
    return options;
  }
  Result<std::unique_ptr<Storage>> Create() {
    return Storage::Create(dir_, Storage::DefaultConfig(dir_, vdevs_, vdev_bytes_), Options());
  }
  Result<std::unique_ptr<Storage>> Open() { return Storage::Open(dir_, Options()); }

 private:
  uint32_t vdevs_;
  uint64_t vdev_bytes_;
  std::string dir_;
};

}  // namespace tessera::testing
