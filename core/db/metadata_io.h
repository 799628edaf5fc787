// Redundant I/O of tree nodes: ditto copies on distinct vdevs, verified
// reads, repair of bad copies, and the counters that report them.
//
// Contract
//  1. A node has one copy (BlockPtr::address) or more (copy_address, then
//     more_copies), each on its own vdev. All hold the same stored bytes
//     under one checksum.
//  2. Write writes every copy; it fails when any copy's write fails, so a
//     committed pointer never names a copy that was not written (except one
//     on a vdev faulted at open, which is never written; see 5).
//  3. Read returns the bytes of a copy that verifies against the pointer
//     (StoredBytesVerify), trying the other copy on a read error or checksum
//     mismatch. A bad copy is then rewritten in place from the good one and
//     counted. When no copy verifies: Corruption if any copy was read but did
//     not verify, IOError if every copy failed to read or lies on a vdev that
//     is not online. Never unverified data.
//  4. ScrubNode reads and verifies every copy (not just the first good one)
//     and repairs the bad ones.
//  5. Copies on a faulted vdev (pool.h) are skipped: not read, not repaired,
//     counted as unavailable by ScrubNode.
//  6. Thread-safe: the counters are atomics; concurrent repairs of one copy
//     write the same bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "core/pool/pool.h"
#include "core/tree/node_store.h"
#include "core/util/status.h"

namespace tessera {

// Counters since the database was opened.
struct MetadataStats {
  uint64_t read_errors = 0;         // copy reads that failed with an I/O error
  uint64_t checksum_errors = 0;     // copies read whose bytes did not verify
  uint64_t repaired = 0;            // bad copies rewritten from a good copy
  uint64_t repair_failures = 0;     // rewrites of a bad copy that failed
  uint64_t unrecoverable = 0;       // node reads where no copy verified
  uint64_t single_copy_writes = 0;  // nodes written with fewer copies than the
                                    // pool keeps (too few online vdevs with room)
};

// What ScrubNode found for one node.
struct NodeScrub {
  uint32_t copies_checked = 0;      // copies read
  uint32_t bad = 0;                 // of those, failed to read or verify
  uint32_t repaired = 0;            // bad copies rewritten
  uint32_t unavailable = 0;         // copies on a faulted vdev
  bool recoverable = false;         // at least one copy verified
};

class MetadataIo {
 public:
  // `copies` (1 to kMaxNodeCopies) is how many copies new nodes get
  // (CopiesFor: the pool's setting, at most the vdevs of the metadata
  // tiers, online or not). A node gets fewer while too few vdevs are online
  // (counted as single-copy writes).
  MetadataIo(Pool* pool, uint32_t copies) : pool_(pool), copies_(copies) {}
  static uint32_t CopiesFor(const Pool& pool, std::span<const Tier> metadata_tiers, uint32_t setting);
  uint32_t copies() const { return copies_.load(std::memory_order_relaxed); }
  // Called under the database's commit lock (database.h); nodes allocated
  // afterwards get `copies`.
  void set_copies(uint32_t copies) { copies_.store(copies, std::memory_order_relaxed); }

  Status Write(const BlockPtr& ptr, std::span<const std::byte> data);
  // `data` is whole blocks (ptr.Blocks() * kBlockSize).
  Status Read(const BlockPtr& ptr, std::span<std::byte> data);
  NodeScrub ScrubNode(const BlockPtr& ptr);

  void NoteSingleCopyWrite() { single_copy_writes_.fetch_add(1, std::memory_order_relaxed); }
  MetadataStats stats() const;

 private:
  // Rewrites every copy in `bad` from `good` (whole blocks); counts.
  uint32_t Repair(std::span<const uint64_t> bad, std::span<const std::byte> good);

  Pool* const pool_;
  std::atomic<uint32_t> copies_;
  std::atomic<uint64_t> read_errors_{0};
  std::atomic<uint64_t> checksum_errors_{0};
  std::atomic<uint64_t> repaired_{0};
  std::atomic<uint64_t> repair_failures_{0};
  std::atomic<uint64_t> unrecoverable_{0};
  std::atomic<uint64_t> single_copy_writes_{0};
};

}  // namespace tessera
