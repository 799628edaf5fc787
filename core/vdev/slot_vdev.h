// SlotVdev: the place of one vdev in a pool. It forwards to the device that
// currently fills the slot, or fails fast when none does, and keeps the
// slot's state and error counters. The pool hands out only slots, so a
// device can be taken offline, brought back or replaced while other threads
// hold the slot.
//
// States (VdevState) and the calls behind each transition:
//
//   online  --Detach(kOffline)--> offline   (vdev offline; persisted by the pool)
//   (none)  --constructed empty-->  missing (no device file) or faulted
//                                           (a device whose label is bad)
//   any     --Attach(device)--> online      (vdev online, vdev replace)
//   online  --Detach(kRemoved)--> removed   (vdev remove, once nothing on it
//                                           is referenced; for good)
//
// Draining (vdev remove) is a flag beside the state: a draining slot stays
// online and serves every request, but no new block is placed on it
// (Allocator contract 4, volume_impl.cc design note 4c).
//
// A device that fails requests stays online: its errors are counted, and
// redundancy above (the jerasure segment) rebuilds around it; the admin
// takes it offline or replaces it.
//
// Contract
//  1. Size() is the slot's size, set at construction and changed only by
//     Grow (vdev grow); an attached device must be at least that large
//     (Attach: InvalidArgument otherwise).
//  2. Without a device (offline, missing, faulted), every request fails with
//     IOError naming the slot and its state, and touches nothing. Flush
//     fails the same way only when a write went to a device of the slot
//     since that device's last good flush (it may not be durable); with
//     none, there is nothing to make durable and Flush succeeds, so a volume
//     with data on a lost vdev still flushes and closes.
//  3. Online, requests go to the device; each batch with a failed request
//     (IOError) counts as a read or write error, a failed Flush as a flush
//     error.
//  4. NoteChecksumError counts data that a layer above found corrupt on this
//     slot (the device itself did not report an error).
//  5. Thread-safe: Attach/Detach wait for requests in flight (a
//     shared_mutex); requests proceed concurrently.
//  6. io() counts the reads, writes (discards are not counted) and flushes
//     that reached a device since the slot was made, with their bytes and
//     latencies; a request's latency is that of the batch it came in.
#pragma once

#include <atomic>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "core/util/io_stats.h"
#include "core/vdev/vdev.h"

namespace tessera {

enum class VdevState : uint8_t { kOnline, kOffline, kFaulted, kMissing, kRemoved };

std::string_view VdevStateName(VdevState state);

// A slot's I/O since it was made (contract 6).
struct VdevIo {
  IoStats reads, writes, flushes;
};

struct VdevErrorCounts {
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t flush_errors = 0;
  uint64_t checksum_errors = 0;
};

class SlotVdev final : public Vdev {
 public:
  // `name` is used in messages; the slot starts with `device` (online) or,
  // when null, in `state` (which must then not be kOnline).
  SlotVdev(std::string name, BlockCount size, std::shared_ptr<Vdev> device,
           VdevState state = VdevState::kOnline);

  BlockCount Size() const override { return BlockCount{size_.load()}; }
  std::string Describe() const override;
  Status SubmitBatch(std::span<IoRequest> batch) override;
  Status Flush() override;

  // Puts `device` in the slot (online); the counters are kept.
  Status Attach(std::shared_ptr<Vdev> device);
  // Puts `device` (of at least `size`) in the slot and makes the slot
  // `size` (no smaller than now); in-flight requests finish first.
  Status Grow(BlockCount size, std::shared_ptr<Vdev> device);
  // Drops the device; `state` is kOffline, kFaulted, kMissing or kRemoved.
  void Detach(VdevState state);
  VdevState state() const { return state_.load(); }
  bool online() const { return state() == VdevState::kOnline; }
  bool removed() const { return state() == VdevState::kRemoved; }
  // Draining (see above): online, but takes no new blocks.
  void SetDraining(bool draining) { draining_.store(draining); }
  bool draining() const { return draining_.load(); }
  bool takes_new_blocks() const { return online() && !draining(); }
  // The device in the slot, or null.
  std::shared_ptr<Vdev> device() const;

  VdevErrorCounts errors() const;
  VdevIo io() const { return {reads_.Snapshot(), writes_.Snapshot(), flushes_.Snapshot()}; }
  void NoteChecksumError() { checksum_errors_++; }

 private:
  Status Unavailable() const;

  const std::string name_;
  std::atomic<uint64_t> size_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<Vdev> device_;  // GUARDED_BY(mu_)
  std::atomic<VdevState> state_;
  std::atomic<bool> draining_{false};
  // A write reached the device since its last good flush (contract 2).
  std::atomic<bool> unflushed_{false};
  std::atomic<uint64_t> read_errors_{0}, write_errors_{0}, flush_errors_{0}, checksum_errors_{0};
  IoCounter reads_, writes_, flushes_;
};

}  // namespace tessera
