// The thrasher's pool directory and FaultVdevs (pool_harness.h).
#include "tests/thrash/pool_harness.h"

#include <algorithm>
#include <filesystem>

#include <fmt/core.h>

#include "core/pool/pool.h"
#include "core/pool/vdev_kinds.h"

namespace tessera::thrash {

PoolHarness::PoolHarness(std::string dir, PoolSizes sizes) : dir_(std::move(dir)), sizes_(sizes) {
  std::filesystem::create_directories(dir_);
  dir_ = std::filesystem::canonical(dir_).string();
}

std::string PoolHarness::MetaName(uint32_t i) { return fmt::format("m{}", i); }
std::string PoolHarness::DataName(uint32_t i) { return fmt::format("d{}", i); }

StorageOptions PoolHarness::Options() {
  StorageOptions options;
  options.metadata_cache_bytes = sizes_.metadata_cache_bytes;
  options.data_cache_bytes = sizes_.data_cache_bytes;
  options.dirty_bytes_max = sizes_.data_cache_bytes / 2;
  options.open_devices = [this](const PoolConfig& config, bool create) -> Result<std::vector<std::shared_ptr<Vdev>>> {
    auto files = TRY(OpenVdevs(config, {.create = create, .allow_missing = !create}));
    std::vector<std::shared_ptr<Vdev>> out;
    for (size_t i = 0; i < files.size(); i++) {
      if (!files[i]) {
        out.push_back(nullptr);
        continue;
      }
      auto fault = std::make_shared<FaultVdev>(files[i]);
      by_name_[config.vdevs[i].name] = fault;
      live_.push_back(fault);
      out.push_back(fault);
    }
    return out;
  };
  return options;
}

Result<std::unique_ptr<Storage>> PoolHarness::Create() {
  PoolConfig config;
  config.name = "thrash";
  for (uint32_t i = 0; i < kMetaVdevs; i++) {
    config.vdevs.push_back(VdevConfig{.name = MetaName(i), .path = fmt::format("{}/{}.img", dir_, MetaName(i)),
                                      .size_bytes = sizes_.meta_vdev_bytes, .tier = Tier::kFastest, .index = i});
  }
  for (uint32_t i = 0; i < kDataVdevs; i++) {
    config.vdevs.push_back(VdevConfig{.name = DataName(i), .path = fmt::format("{}/{}.img", dir_, DataName(i)),
                                      .size_bytes = sizes_.data_vdev_bytes, .tier = Tier::kSlow, .index = i});
  }
  return Storage::Create(dir_, config, Options());
}

Result<std::unique_ptr<Storage>> PoolHarness::Open() { return Storage::Open(dir_, Options()); }

std::shared_ptr<FaultVdev> PoolHarness::Device(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

bool PoolHarness::AnyDead() const {
  return std::any_of(live_.begin(), live_.end(), [](const auto& d) { return d->IsDead(); });
}

std::string PoolHarness::DeadVdev() const {
  for (const auto& [name, device] : by_name_) {
    if (device->IsDead()) return name;
  }
  return "";
}

void PoolHarness::PowerLoss(std::mt19937_64& rng, bool subset) {
  for (auto& device : live_) {
    uint64_t seed = rng();
    (void)(subset ? device->SimulatePowerLoss(seed) : device->SimulatePowerLoss());
  }
}

void PoolHarness::Forget(const std::shared_ptr<FaultVdev>& device) {
  live_.erase(std::remove(live_.begin(), live_.end(), device), live_.end());
  std::erase_if(by_name_, [&](const auto& entry) { return entry.second == device; });
}

void PoolHarness::Reset() {
  by_name_.clear();
  live_.clear();
}

}  // namespace tessera::thrash
