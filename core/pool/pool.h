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
//  1a. Degraded open: a vdev of any tier may be absent (a null device:
//     missing), configured offline (not opened: offline), or fail its label
//     or size checks, or be unreadable (faulted); the pool opens with that
//     vdev's slot empty, logs a warning, and its I/O fails with IOError.
//     The pool does not judge whether it can run without the vdev: the
//     database does, when it opens over the pool (database.h contract 6),
//     and refuses when the newest superblock or a tree node has no readable
//     copy left. A label of another pool, or of another tier or index, is
//     always an error, and so is a pool none of whose vdevs can be read.
//  2. Blocks [0, kFirstUsableBlock) and the last block of every vdev are
//     reserved (label, superblock slots). UsableRange() gives the rest.
//  3. I/O methods are thread-safe; they forward to the vdevs' slots
//     (SlotVdev), whose devices may change under them (Offline, Online,
//     Replace). Those three, AddVdev, and config(), are for one management
//     thread at a time (Storage serializes them).
//  4. No I/O is sent to a vdev that is not online: reads and writes of it
//     fail with IOError, FlushAll skips it.
//  5. Adding a vdev (vdev add) is two steps, so that the caller can make
//     pool.conf name the vdev between them: PrepareVdev checks a new
//     vdev's config against the pool (name, path, tier room, index, size)
//     and writes and flushes its labels, changing nothing in the pool;
//     AddVdev then verifies those labels and appends the vdev, while I/O
//     goes on. vdevs() is a span over storage that never moves (room for
//     every vdev the address format allows is reserved at construction)
//     and whose length is published last, so a reader on any thread sees
//     each vdev whole or not at all, and a PoolVdev pointer or index stays
//     valid for the pool's life. A vdev leaves vdevs() never: a removed one
//     (contract 7) keeps its place.
//  6. Growing a vdev (vdev grow) is two steps too: PrepareGrow checks that
//     the larger device (the vdev's own file, grown and reopened) carries
//     this vdev's label and writes and flushes the label with the new size
//     at its new last block, changing nothing in the pool (the old size's
//     label at block 0 still rules); GrowVdev writes that label at block 0
//     and flushes (from then on the vdev opens at the new size), puts the
//     device in the slot and records the new size, while I/O goes on.
//  7. Removing a vdev (vdev remove): once nothing the database holds is on
//     it (the database checks, database.h contract 10), Remove empties its
//     slot for good (VdevState::kRemoved) and marks it removed in config();
//     the caller persists the config. A removed vdev keeps its place in
//     vdevs() and pool.conf, so every later index stays the same; it is not
//     opened, takes no I/O, does not count as faulted (Healthy,
//     FaultedVdevCount) and no management call takes it (InvalidArgument);
//     its path may be given to a new vdev.
//  8. The lease (pool_lease.h decides; the pool stores): WriteLease writes
//     the record into block 0 of every online vdev of the fastest tier,
//     each with its own label, and flushes; Replace and GrowVdev write
//     block 0 with the last record too, so that no label write drops it.
//     All three hold label_mu_, so a renewal never writes a label older
//     than a Replace's or a GrowVdev's. After Fence, every write through
//     Write and Submit fails with IOError naming the reason: a holder that
//     lost its lease stops writing. SetLeaseDeadline arms the same fence
//     by time: the first write past the deadline fences the pool (the
//     lease could not be renewed in time, so another host may take it).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/pool/address.h"
#include "core/pool/config.h"
#include "core/pool/label.h"
#include "core/util/status.h"
#include "core/util/worker_pool.h"
#include "core/vdev/slot_vdev.h"
#include "core/vdev/vdev.h"

namespace tessera {

// Block 0: label; blocks 1, 2: superblock slots (core/db).
inline constexpr uint64_t kSuperblockSlot0 = 1;
inline constexpr uint64_t kFirstUsableBlock = 3;

struct PoolVdev {
  VdevConfig config;
  VdevLabel label;
  std::shared_ptr<SlotVdev> device;  // never null; may be empty (SlotVdev)
  // Usable blocks: [first, end).
  uint64_t first = kFirstUsableBlock;
  uint64_t end = 0;
  // Not online (missing, offline, faulted or removed): no I/O, no new
  // allocations.
  bool faulted() const { return !device->online(); }
  bool removed() const { return device->removed(); }
};

struct PoolIo {
  IoOp op = IoOp::kRead;
  DiskAddress address;
  std::span<std::byte> buffer;
  Status result;
};

class Pool {
 public:
  // `devices` are in config order (OpenVdevs, vdev_kinds.h). Writes labels.
  static Result<std::unique_ptr<Pool>> Create(const PoolConfig& config,
                                              std::vector<std::shared_ptr<Vdev>> devices);
  static Result<std::unique_ptr<Pool>> Open(const PoolConfig& config,
                                            std::vector<std::shared_ptr<Vdev>> devices);

  const Uuid& uuid() const { return uuid_; }
  const PoolConfig& config() const { return config_; }
  // Contract 5: safe on any thread while AddVdev runs.
  std::span<const PoolVdev> vdevs() const { return {vdevs_.data(), count_.load(std::memory_order_acquire)}; }
  // nullptr when no such vdev.
  const PoolVdev* Find(Tier tier, uint32_t index) const;
  const PoolVdev* FindByName(const std::string& name) const;
  // FindByName for a name a user gave: the vdev (a removed one too), or
  // NotFound naming the pool's vdevs.
  Result<const PoolVdev*> FindNamed(const std::string& name) const;
  // True when every vdev is online.
  bool Healthy() const;

  // Device management (contract 3). Offline empties the slot and marks the
  // vdev offline in config() (the caller persists the config); any tier may
  // go offline: the caller (Database::OfflineVdev) first checks that the
  // metadata survives without it. Online puts `device` back after
  // checking its label (this pool, this tier and index). Replace labels
  // `device` (at least the slot's size) as this vdev with a new guid, puts
  // it in the slot and records `path` in config(); the caller rebuilds its
  // contents.
  Status Offline(const std::string& name);
  // Contract 7.
  Status Remove(const std::string& name);
  Status Online(const std::string& name, std::shared_ptr<Vdev> device);
  Status Replace(const std::string& name, std::shared_ptr<Vdev> device, const std::string& path);
  // Contract 5. InvalidArgument, changing nothing, when `config` cannot
  // join the pool: its name or path is taken, its tier is full, its index
  // is not the next of its tier, or `device` is smaller than kMinVdevBytes
  // or than config.size_bytes. Otherwise writes a fresh label (this pool,
  // a new guid, the config's tier, index and name, the device's size) at
  // the device's first and last block and flushes it; the pool does not
  // change.
  Status PrepareVdev(const VdevConfig& config, Vdev& device) const;
  // PrepareVdev's checks of the config alone (name, path, tier room,
  // index), for a caller that creates the device only when they pass.
  Status CheckNewVdev(const VdevConfig& config) const;
  // Appends the vdev PrepareVdev labelled: checks `config` again and the
  // device's label (this pool, tier and index), runs `before_visible` with
  // the new PoolVdev (the allocator adds it there, so nothing can pick the
  // vdev before it can allocate on it), then publishes it in vdevs() and
  // config(). When a check or `before_visible` fails nothing changes.
  Status AddVdev(const VdevConfig& config, std::shared_ptr<Vdev> device,
                 const std::function<Status(const PoolVdev&)>& before_visible = {});
  // Contract 6. InvalidArgument, changing nothing, for an unknown vdev
  // (NotFound), one not online, a device not larger than the vdev, or one
  // whose label at block 0 is not this vdev's.
  Status PrepareGrow(const std::string& name, Vdev& device) const;
  // Contract 6: after PrepareGrow of `device` (checked again); then runs
  // `grown` with the vdev and its old size in blocks (the allocator grows
  // there). config() gets the new size.
  Status GrowVdev(const std::string& name, std::shared_ptr<Vdev> device,
                  const std::function<Status(const PoolVdev&, uint64_t)>& grown = {});
  // Vdevs of the fastest tier that has any (faulted ones included).
  std::vector<const PoolVdev*> FastestTierVdevs() const;
  // True when `address` names a faulted vdev.
  bool IsFaulted(DiskAddress address) const;
  size_t FaultedVdevCount() const;

  // Contract 8. WriteLease: IOError when no vdev took the record.
  Status WriteLease(const LeaseRecord& lease);
  // The records that block 0 of the online fastest-tier vdevs hold.
  std::vector<LeaseRecord> ReadLeases() const;
  void Fence(const std::string& reason);
  bool fenced() const { return fenced_.load(std::memory_order_acquire); }
  // Contract 8: writes past `until` (a steady_clock time) fence the pool;
  // the default time point disarms it.
  void SetLeaseDeadline(std::chrono::steady_clock::time_point until);
  // Fences the pool when the lease's deadline has passed (contract 8).
  void FenceIfLeaseExpired();

  Status Read(DiskAddress address, std::span<std::byte> buffer);
  Status Write(DiskAddress address, std::span<const std::byte> buffer);
  // Requests are grouped per vdev and each group is submitted as one batch;
  // requests that continue each other on the vdev and in memory travel as one.
  Status Submit(std::span<PoolIo> requests);
  // Flushes every online vdev (an empty slot has nothing to flush). Fails
  // when a vdev of the fastest tier fails; a vdev of another tier that
  // fails is faulted instead (pool.cc, design note 4).
  Status FlushAll();

 private:
  Pool(PoolConfig config, Uuid uuid, std::vector<PoolVdev> vdevs);
  Result<PoolVdev*> Resolve(DiskAddress address, uint64_t blocks);
  Result<PoolVdev*> FindMutable(const std::string& name);
  // NotFound for `name`, naming the pool's vdevs.
  Error NoSuchVdev(const std::string& name) const;
  // The published vdevs (contract 5), for the pool's own use.
  std::span<PoolVdev> Published() { return {vdevs_.data(), count_.load(std::memory_order_acquire)}; }

  PoolConfig config_;
  Uuid uuid_;
  // Capacity for every vdev the address format allows, reserved at
  // construction: appending never moves an element (contract 5).
  std::vector<PoolVdev> vdevs_;
  std::atomic<size_t> count_{0};  // vdevs_ published to readers
  // Contract 8.
  // Contract 8: fences the pool first when the lease's deadline passed.
  Status RefuseFenced();
  bool LeaseExpired() const;
  const LeaseRecord* LeaseLocked() const { return lease_ ? &*lease_ : nullptr; }
  mutable std::mutex label_mu_;
  std::optional<LeaseRecord> lease_;  // GUARDED_BY(label_mu_)
  std::string fence_reason_;          // GUARDED_BY(label_mu_)
  std::atomic<bool> fenced_{false};
  std::atomic<int64_t> lease_deadline_ns_{0};  // steady_clock; 0: none
  // Runs the per-vdev batches of one Submit, and the flushes of FlushAll,
  // side by side (design notes 5 and 7).
  WorkerPool workers_;
};

}  // namespace tessera
