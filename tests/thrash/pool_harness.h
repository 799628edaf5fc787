// The thrasher's pool: a directory with two metadata vdevs (fastest tier,
// ditto copies) and six data vdevs (slow tier, where rs:K+M volumes live),
// every file vdev wrapped in a FaultVdev so that the thrasher can cut the
// power, crash a device after N writes, or flip bits on read.
//
// Contract
//  1. Every FaultVdev the Storage opens goes through open_devices here (pool
//     create and open, vdev online and replace); Device(name) is the one a
//     vdev's slot holds now, Live() every device since the last Reset() that
//     may still have unflushed writes.
//  2. A device that left the pool (offline, replaced) must be Forget()-ten
//     after it was flushed or lost power, so that a later power loss never
//     undoes writes on a file another FaultVdev now owns (FaultVdev's
//     undo log describes only the writes that went through it).
//  3. Single-threaded use: the thrasher's thread only (the Storage calls
//     open_devices under its own mutex, from that thread).
#pragma once

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/vdev/fault_vdev.h"
#include "core/volume/storage.h"

namespace tessera::thrash {

inline constexpr uint32_t kMetaVdevs = 2;
inline constexpr uint32_t kDataVdevs = 6;

struct PoolSizes {
  uint64_t meta_vdev_bytes = 64ull << 20;
  uint64_t data_vdev_bytes = 128ull << 20;
  uint64_t data_cache_bytes = 4ull << 20;
  uint64_t metadata_cache_bytes = 16ull << 20;
};

class PoolHarness {
 public:
  // `dir` must not hold a pool yet; it is created if missing.
  PoolHarness(std::string dir, PoolSizes sizes);

  const std::string& dir() const { return dir_; }
  static std::string MetaName(uint32_t i);
  static std::string DataName(uint32_t i);

  Result<std::unique_ptr<Storage>> Create();
  Result<std::unique_ptr<Storage>> Open();

  // nullptr when the vdev's slot holds no device of ours.
  std::shared_ptr<FaultVdev> Device(const std::string& name) const;
  bool AnyDead() const;
  // The vdev whose device is dead, or "".
  std::string DeadVdev() const;
  // Cuts the power of every device: all unflushed writes are lost, or (with
  // `subset`) each survives with probability 1/2.
  void PowerLoss(std::mt19937_64& rng, bool subset);
  // Contract 2.
  void Forget(const std::shared_ptr<FaultVdev>& device);
  // Before a reopen: the old devices belong to the Storage just destroyed.
  void Reset();

 private:
  StorageOptions Options();

  std::string dir_;
  PoolSizes sizes_;
  std::map<std::string, std::shared_ptr<FaultVdev>> by_name_;
  std::vector<std::shared_ptr<FaultVdev>> live_;
};

}  // namespace tessera::thrash
