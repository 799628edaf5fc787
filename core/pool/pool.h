// The storage pool: up to 1024 vdevs in each of 4 tiers, addressed by
// DiskAddress.
//
// Contract
//  1. Create writes a fresh label (new pool uuid, new vdev guids) at the first
//     and last block of every vdev. Open verifies them: both copies are read,
//     one valid copy suffices; every vdev must carry the same pool uuid, the
//     tier and index its config gives, and a device at least as large as its
//     label says (else the vdev is reported truncated). Nothing is written by
//     a failed Open.
//  2. Blocks [0, kFirstUsableBlock) and the last block of every vdev are
//     reserved (label, superblock slots). UsableRange() gives the rest.
//  3. A vdev none of whose labels can be read (both reads fail with IOError:
//     a dead or missing device) is opened as faulted, so that a pool with
//     redundant metadata can still open; its label is taken from the config
//     (size: the configured one if it fits the device, else the device's).
//     A readable but invalid label still fails Open, and so does a pool
//     whose every vdev is faulted. No I/O is sent to a faulted vdev: reads
//     and writes of it fail with IOError, FlushAll skips it.
//  4. I/O methods are thread-safe; they forward to the vdevs.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/pool/address.h"
#include "core/pool/config.h"
#include "core/pool/label.h"
#include "core/util/status.h"
#include "core/vdev/vdev.h"

namespace tessera {

// Block 0: label; blocks 1, 2: superblock slots (core/db).
inline constexpr uint64_t kSuperblockSlot0 = 1;
inline constexpr uint64_t kFirstUsableBlock = 3;

struct PoolVdev {
  VdevConfig config;
  VdevLabel label;
  std::shared_ptr<Vdev> device;
  // Usable blocks: [first, end).
  uint64_t first = kFirstUsableBlock;
  uint64_t end = 0;
  bool faulted = false;  // unreadable at Open (contract 3); fixed for the Pool's life
};

struct PoolIo {
  IoOp op = IoOp::kRead;
  DiskAddress address;
  std::span<std::byte> buffer;
  Status result;
};

class Pool {
 public:
  // `devices` are in config order. Writes labels.
  static Result<std::unique_ptr<Pool>> Create(const PoolConfig& config,
                                              std::vector<std::shared_ptr<Vdev>> devices);
  static Result<std::unique_ptr<Pool>> Open(const PoolConfig& config,
                                            std::vector<std::shared_ptr<Vdev>> devices);
  // Opens (or, with create, creates files of the configured sizes) FileVdevs
  // for every vdev of the config. Creating refuses to overwrite existing files.
  static Result<std::vector<std::shared_ptr<Vdev>>> OpenFileDevices(const PoolConfig& config,
                                                                    bool create,
                                                                    bool use_io_uring = true,
                                                                    bool use_direct = true);

  const Uuid& uuid() const { return uuid_; }
  const PoolConfig& config() const { return config_; }
  const std::vector<PoolVdev>& vdevs() const { return vdevs_; }
  // nullptr when no such vdev.
  const PoolVdev* Find(Tier tier, uint32_t index) const;
  // Vdevs of the fastest tier that has any (faulted ones included).
  std::vector<const PoolVdev*> FastestTierVdevs() const;
  // True when `address` names a faulted vdev.
  bool IsFaulted(DiskAddress address) const;
  size_t FaultedVdevCount() const;

  Status Read(DiskAddress address, std::span<std::byte> buffer);
  Status Write(DiskAddress address, std::span<const std::byte> buffer);
  // Requests are grouped per vdev and each group is submitted as one batch.
  Status Submit(std::span<PoolIo> requests);
  Status FlushAll();

 private:
  Pool(PoolConfig config, Uuid uuid, std::vector<PoolVdev> vdevs)
      : config_(std::move(config)), uuid_(uuid), vdevs_(std::move(vdevs)) {}
  Result<PoolVdev*> Resolve(DiskAddress address, uint64_t blocks);

  PoolConfig config_;
  Uuid uuid_;
  std::vector<PoolVdev> vdevs_;
};

}  // namespace tessera
