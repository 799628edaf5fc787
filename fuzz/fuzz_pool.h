// A small pool of memory vdevs for the fuzz targets that build segments:
// three fastest-tier vdevs of 16 MiB ("fast0".."fast2"), created once per
// process. Blocks are laid out by FuzzBlockSource, rows of consecutive
// addresses on every vdev.
#pragma once

#include <memory>
#include <vector>

#include "core/pool/config.h"
#include "core/pool/pool.h"
#include "core/segment/lun_segment.h"
#include "core/vdev/memory_vdev.h"

namespace tessera::fuzz {

inline constexpr uint32_t kFuzzVdevs = 3;

inline Pool* FuzzPool() {
  static std::unique_ptr<Pool> pool = [] {
    PoolConfig config;
    std::vector<std::shared_ptr<Vdev>> devices;
    for (uint32_t i = 0; i < kFuzzVdevs; i++) {
      config.vdevs.push_back(VdevConfig{.name = "fast" + std::to_string(i),
                                        .path = "/fuzz/fast" + std::to_string(i),
                                        .size_bytes = kMinVdevBytes,
                                        .tier = Tier::kFastest,
                                        .index = i});
      devices.push_back(std::make_shared<MemoryVdev>(BlockCount{kMinVdevBytes / kBlockSize}));
    }
    auto created = Pool::Create(config, devices);
    if (!created) std::abort();
    return std::move(*created);
  }();
  return pool.get();
}

// Hands out rows of blocks: device j of a row on vdev j % kFuzzVdevs, each
// row after the previous one. Enough for a few rows of small blocks.
class FuzzBlockSource final : public LunBlockSource {
 public:
  Result<std::vector<LunBlock>> AllocateRow(uint32_t n_devices, uint64_t block_bytes,
                                            const std::string&) override {
    std::vector<LunBlock> row;
    uint64_t blocks = block_bytes / kBlockSize;
    for (uint32_t j = 0; j < n_devices; j++) {
      uint32_t vdev = j % kFuzzVdevs;
      uint64_t& next = next_[vdev];
      if (next + blocks + 1 >= kMinVdevBytes / kBlockSize) return Err(Code::kNoSpace, "fuzz pool is full");
      row.push_back(LunBlock{.id = ++ids_, .address = DiskAddress::Make(Tier::kFastest, vdev, next),
                             .size = block_bytes, .vdev = "fast" + std::to_string(vdev)});
      next += blocks;
    }
    return row;
  }

 private:
  uint64_t next_[kFuzzVdevs] = {kFirstUsableBlock, kFirstUsableBlock, kFirstUsableBlock};
  uint64_t ids_ = 100;
};

}  // namespace tessera::fuzz
