// The thrasher's model of a pool: what every volume and snapshot must read,
// and what each may read after a power loss.
//
// Design notes
//  1. A volume state holds the bytes a read must return now (`data`) and,
//     per 4 KiB block, the checksums of every content the block may hold
//     after a power loss (`maybe`): its durable content at the last
//     acknowledged flush (or FUA write, or anything that flushes the
//     volume), plus every content written since. As in
//     tests/unit/volume/crash_test.cc, a write adds its new content to the
//     sets *before* it is issued, so a write cut off by the crash is allowed
//     to have landed.
//  2. Snapshots are exact: CreateSnapshot flushes the volume first and is
//     durable on return (core/volume/storage.h).
//  3. Uncertainty: an operation that failed because a device died may or
//     may not have happened. Its volume then carries more than one
//     candidate state (`states`; rollback, resize, flatten's last step) or
//     is marked `maybe_absent` (create, clone, delete), and a snapshot may
//     be `maybe_absent` (create, delete). The next reopen settles which one
//     the pool holds (Thrasher::Reconcile) and the model collapses to it.
//  4. Outside a crash, `states` has exactly one entry, and nothing is
//     `maybe_absent`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/volume/volume.h"

namespace tessera::thrash {

inline constexpr uint64_t kBlock = 4096;
using Bytes = std::vector<std::byte>;

uint64_t BlockSum(std::span<const std::byte> block);
// Checksum of a zero block.
uint64_t ZeroSum();

// Random bytes, eight at a time, from `seed`.
Bytes RandomBytes(size_t n, uint64_t seed);

struct VolumeState {
  Bytes data;                                // what reads return now
  std::vector<std::vector<uint64_t>> maybe;  // per block: contents a crash may leave (note 1)
  std::string origin;                        // a clone's "VOL@SNAP", empty otherwise
  Bytes durable;                             // for failure reports: the content at the last durable point

  uint64_t size() const { return data.size(); }
  // Content known durable: every block may hold only what it holds now.
  static VolumeState Durable(Bytes content, std::string origin);
  // Call after changing data[offset, offset + length): the touched blocks
  // may now also hold their new content; with `durable` only that.
  void Changed(uint64_t offset, uint64_t length, bool durable);
  void AllDurable();
  // Truncates or zero-extends; new blocks are zeros (and durable: a resize
  // flushes and commits).
  void Resize(uint64_t new_size);
  // The first block of `got` that holds a content the state does not allow
  // (an exact comparison with `exact`), described; nullopt when all fit.
  // `block`, when given, gets the bad block's index.
  std::optional<std::string> Mismatch(std::span<const std::byte> got, bool exact, uint64_t* block = nullptr) const;
};

struct SnapshotModel {
  std::string name;
  Bytes data;
  bool maybe_absent = false;
};

struct VolumeModel {
  std::string name;
  std::string layout;
  uint32_t parity = 0;
  std::vector<VolumeState> states;  // states[0] is current (note 3)
  bool maybe_absent = false;
  std::vector<SnapshotModel> snapshots;  // oldest first
  std::shared_ptr<Volume> handle;        // the thrasher's open handle, if any
  uint64_t flatten_offset = 0;           // next flatten step of a clone
  // For failure reports only: per block, the last contents the thrasher
  // gave it (checksum, op number), whatever their durability.
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> history;

  void Record(uint64_t offset, uint64_t length, uint64_t op);
  // Which op, if any, last gave `block` the content `sum`.
  std::string Describe(uint64_t block, uint64_t sum) const;

  VolumeState& live() { return states.front(); }
  const VolumeState& live() const { return states.front(); }
  SnapshotModel* FindSnapshot(const std::string& snapshot);
};

}  // namespace tessera::thrash
