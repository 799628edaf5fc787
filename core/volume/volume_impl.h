// VolumeImpl: the Volume the Storage hands out, and the LunBlockSource that
// allocates its data rows. Internal to core/volume.
//
// Segment stack (exNode view, top first): [cache ->] log -> [jerasure ->] lun.
// Dataset keys: 'x' chunk(4, big-endian) -> exNode text, in 48 KiB chunks;
// the log's own keys ('m', 'h') are described in core/segment/log_format.h.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>

#include "core/db/database.h"
#include "core/exnode/exnode.h"
#include "core/db/lock_manager.h"
#include "core/exnode/query.h"
#include "core/segment/log_segment.h"
#include "core/segment/lun_segment.h"
#include "core/volume/storage_types.h"
#include "core/volume/volume.h"
#include "core/volume/volume_io.h"

namespace tessera {

class StorageCore;  // storage_core.h

class VolumeImpl : public Volume, public LunBlockSource {
 public:
  struct Parts {
    std::string name;
    uint64_t exnode_id = 0;
    Dataset* dataset = nullptr;
    std::shared_ptr<DataSegment> data;  // the log's data segment: a lun, or jerasure over one
    std::shared_ptr<LogSegment> log;
    std::shared_ptr<Segment> top;  // what I/O goes through
    // A snapshot export: reads through the snapshot's tree; changes are refused.
    bool read_only = false;
    std::unique_ptr<Tree> snapshot_tree;  // owns the tree of a snapshot export
    std::shared_ptr<VolumeIoCounters> io;  // its clients' I/O; may be null
    // Its rows' heat, when the pool tiers automatically (the log counts
    // into it, storage_tiering.cc reads it); null otherwise.
    std::shared_ptr<RowHeat> heat;
  };

  VolumeImpl(StorageCore* core, Database* db);
  // Releases the lock (SetLock) if Close did not; no I/O (design note 5 of
  // volume_impl.cc).
  ~VolumeImpl() override;
  // The close, run once by OpenTable when the last handle is gone: flushes
  // (a volume closed cleanly keeps what was written to it), records the log
  // head, frees the rows the cleaner can, commits, and releases the lock.
  // A snapshot export or a revoked volume only releases the lock.
  Status Close();
  // Takes its parts; a writable volume's data segment notes the writes a
  // vdev missed in the database (Database::NoteMissedWrite), for the
  // vdev's catch-up (storage_catch_up.cc).
  void Attach(Parts parts);
  // The transaction holding this volume's lock in `locks` (a writable
  // volume holds kReadSharedWriteExclusive); ended when the volume closes
  // or is revoked.
  void SetLock(LockManager* locks, TxnId txn);

  // Revocation (snapshot rollback --force): waits for the I/O in flight and
  // for the cleaner, then fails every later call with IOError, drops what
  // the cache holds unflushed, releases the lock, and never touches the
  // dataset again (its tree may be replaced right after). Irreversible.
  void Revoke();
  bool revoked() const { return revoked_.load(); }
  // Closed or revoked: the dataset is no longer this object's (design note
  // 5 of volume_impl.cc).
  bool retired() const { return revoked_.load() || closed_.load(); }
  // The pre-commit hook's step: records the log head unless the object is
  // a snapshot export or retired, atomically with respect to retiring.
  Status RecordHeadIfOwner();

  const std::string& name() const override { return parts_.name; }
  uint64_t size() const override { return parts_.log->Size(); }
  bool read_only() const override { return parts_.read_only; }
  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, bool fua) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length, bool fua) override;
  Status Zero(uint64_t offset, uint64_t length, bool may_trim, bool fua) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  Status Prefetch(uint64_t offset, uint64_t length) override;

  // A row's blocks on the vdevs `query` chooses, or, when its tier is full,
  // on the nearest tier with room (design note 4b of volume_impl.cc).
  Result<std::vector<LunBlock>> AllocateRow(uint32_t n_devices, uint64_t block_bytes,
                                            const std::string& query) override;

  // Grows the data segment until the log has a spare row, cleaning first,
  // saving the exNode and committing (the log's RowKeeper).
  Status KeepRows();
  // The cleaner: frees rows with no live block, and, when the data segment
  // holds too many rows for the volume, relocates the live blocks of the
  // emptiest row and frees it too (see volume_clean.cc).
  enum class CleanMode { kFreeOnly, kNormal, kAggressive };
  Status Clean(CleanMode mode);
  // Frees the volume's extents that neither its exNode nor its snapshots'
  // exNodes name, and commits when it freed any (volume_clean.cc note 7).
  // Returns how many it freed.
  Result<uint64_t> FreeUnnamedExtents();
  // One step of moving the volume's data rows to `tier` (volume_move.cc):
  // what it did and what is left.
  Result<MoveProgress> MoveStep(Tier tier);
  // One step of moving the volume's data rows off the vdev (tier, index),
  // which is draining (volume_move.cc note 5); MoveProgress::tier is
  // empty, held_bytes counts rows there that snapshots keep. kSettledRows
  // (rebalance) moves only rows snapshots do not pin and that lie wholly
  // before the recorded log head; the others stay and do not count.
  enum class EvacuateMode { kAllRows, kSettledRows };
  Result<MoveProgress> EvacuateStep(Tier tier, uint32_t index, EvacuateMode mode = EvacuateMode::kAllRows);
  // Automatic tiering (volume_retier.cc): copies the settled data row at
  // `row_start` (data segment offsets) whole onto new blocks in `tier`,
  // names them in the exNode instead of the old ones, frees those and
  // commits; returns the bytes copied. `snapshot_blocks` holds the raw
  // addresses snapshots name: a row with one of them stays (Busy).
  Result<uint64_t> RetierRow(uint64_t row_start, Tier tier, const std::set<uint64_t>& snapshot_blocks);
  // Writes the exNode text of the current stack into the dataset.
  Status SaveExnode();
  Result<std::string> ExnodeText() const;
  LogSegment& log() { return *parts_.log; }
  Segment& top() { return *parts_.top; }
  Dataset* dataset() { return parts_.dataset; }
  const Parts& parts() const { return parts_; }

 private:
  StorageCore* core_;
  Database* db_;
  Parts parts_;
  Status CleanLocked(CleanMode mode, bool* changed);
  Status RefuseRevoked() const;
  void ReleaseLock();

  // Shared by every I/O call (which checks revoked_ under it), exclusive in
  // Revoke: once Revoke returns, no I/O is in flight and none will start.
  mutable std::shared_mutex io_mu_;
  std::atomic<bool> revoked_{false};
  std::atomic<bool> closed_{false};  // set by Close under grow_mu_ and state_mu_
  std::mutex state_mu_;              // RecordHeadIfOwner against retiring
  LockManager* locks_ = nullptr;
  TxnId txn_ = 0;
  Status GrowLocked();
  // A new data row and the exNode naming it, under one commit hold
  // (volume_clean.cc note 6); not committed.
  Result<LunRowDesc> GrowAndSaveLocked();
  // Removes the rows starting at `row_starts` (none live), saves the exNode,
  // then frees their blocks (volume_clean.cc note 6).
  Status FreeRowsLocked(const std::vector<uint64_t>& row_starts);
  // Relocates the live blocks of the row at `row_start` to the head, growing
  // when the log needs a row; returns the live blocks left in it (0 unless
  // some could not be read).
  Result<int64_t> RelocateLocked(uint64_t row_start);
  // The starts of the rows among `rows` that the newest snapshot may map
  // (volume_clean.cc note 5).
  Result<std::set<uint64_t>> PinnedRowsLocked(const std::vector<LunRowDesc>& rows);
  // The step MoveStep and EvacuateStep share: rows `stays` rejects (given
  // each row and whether snapshots pin it) leave, one per call
  // (volume_move.cc note 2).
  Result<MoveProgress> RelocationStepLocked(const std::function<bool(const LunRowDesc&, bool pinned)>& stays);

  // AllocateRow within `query`'s tier only.
  Result<std::vector<LunBlock>> AllocateRowBy(uint32_t n_devices, uint64_t block_bytes, const std::string& query);

  std::mutex grow_mu_;               // serializes KeepRows and Clean
  bool strict_tier_ = false;         // GUARDED_BY(grow_mu_): a move step runs; rows never spill
  std::atomic<bool> spill_logged_{false};
  std::atomic<uint64_t> rotation_{0};  // spreads rows over vdevs
};

// The pool's vdevs as resources for the query language (attributes plus
// name, tier and index), in pool order.
std::vector<Resource> VdevResources(const Pool& pool);

// Whether a block of `row` lies on the vdev (tier, index).
bool RowUsesVdev(const LunRowDesc& row, Tier tier, uint32_t index);

// exNode text <-> dataset chunks.
Status StoreExnodeText(Tree& tree, const std::string& text);
Result<std::string> LoadExnodeText(Tree& tree);
// The data blocks the exNode stored in `tree` names (its lun rows' blocks),
// for Database::Check (Storage::Check).
Result<std::vector<Database::NamedBlock>> ExnodeDataBlocks(Tree& tree);
Result<std::vector<Database::NamedBlock>> DataBlocksOf(const Exnode& exnode);
// The raw addresses of the data blocks the exNodes of the volume's
// snapshots name.
Result<std::set<uint64_t>> SnapshotDataBlocks(Database& db, const std::string& volume);

}  // namespace tessera
