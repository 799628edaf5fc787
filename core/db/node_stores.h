// The NodeStores through which trees reach the pool.
//
//  - PoolNodeStore: allocation on the metadata tiers, MetadataIo::copies()
//    copies of every node on distinct vdevs (fewer while too few vdevs with
//    room are online), verified and
//    self-repairing reads through MetadataIo. Freeing a node frees every copy.
//  - RootNodeStore: for the root tree. It also remembers which blocks the
//    root tree owns, because those are left out of the persisted bitmaps
//    (they are rebuilt at open by walking the root tree; see database.cc).
//  - DatasetNodeStore: for a dataset's live tree. A dropped node born after
//    the dataset's newest snapshot is freed; an older one is still referenced
//    by that snapshot and goes to the dataset's dead list instead (both
//    copies in one entry).
// Free() is only called by Tree::Sync/FreeAll, which run under the database's
// commit lock; the members below are guarded by it.
#pragma once

#include <map>
#include <vector>

#include "core/alloc/allocator.h"
#include "core/db/metadata_io.h"
#include "core/db/root_keys.h"
#include "core/pool/pool.h"
#include "core/tree/node_store.h"

namespace tessera {

class PoolNodeStore : public NodeStore {
 public:
  PoolNodeStore(MetadataIo* io, Allocator* allocator, std::vector<Tier> tiers, const uint64_t* txg)
      : io_(io), allocator_(allocator), tiers_(std::move(tiers)), txg_(txg) {}

  // io->copies() copies on distinct vdevs; fewer when no other online vdev
  // has room (counted as a single-copy write).
  Status Allocate(BlockPtr* ptr) override;
  Status Write(const BlockPtr& ptr, std::span<const std::byte> data) override;
  Status Read(const BlockPtr& ptr, std::span<std::byte> data) override;
  void Free(const BlockPtr& ptr) override;
  // The generation being committed: nodes written now are born in it.
  uint64_t CurrentGeneration() const override { return *txg_ + 1; }

  // The first failure of Free (a double free), if any; cleared by the call.
  std::optional<Error> TakeFreeError();

 protected:
  void FreeNow(DiskAddress address, uint32_t blocks);

  MetadataIo* io_;
  Allocator* allocator_;
  std::vector<Tier> tiers_;
  const uint64_t* txg_;  // the database's last committed txg
  std::optional<Error> free_error_;
};

class RootNodeStore : public PoolNodeStore {
 public:
  using PoolNodeStore::PoolNodeStore;
  Status Allocate(BlockPtr* ptr) override;
  void Free(const BlockPtr& ptr) override;
  // Records a node (every copy) found while walking the root tree at open.
  void Adopt(const BlockPtr& ptr);
  std::vector<std::pair<DiskAddress, uint64_t>> Owned() const;

 private:
  std::map<uint64_t, uint32_t> owned_;
};

class DatasetNodeStore : public PoolNodeStore {
 public:
  DatasetNodeStore(MetadataIo* io, Allocator* allocator, std::vector<Tier> tiers, const uint64_t* txg,
                   uint64_t dataset_id, uint64_t latest_snapshot_txg)
      : PoolNodeStore(io, allocator, std::move(tiers), txg),
        dataset_id_(dataset_id),
        latest_snapshot_txg_(latest_snapshot_txg) {}

  void Free(const BlockPtr& ptr) override;
  void set_latest_snapshot_txg(uint64_t txg) { latest_snapshot_txg_ = txg; }
  uint64_t latest_snapshot_txg() const { return latest_snapshot_txg_; }
  // Dead-list entries produced since the last call: (address, entry).
  std::vector<std::pair<uint64_t, DeadEntry>> TakeDead();

 private:
  uint64_t dataset_id_;
  uint64_t latest_snapshot_txg_;
  std::vector<std::pair<uint64_t, DeadEntry>> dead_;
};

// A store for read-only trees (snapshots): reads only.
class ReadOnlyNodeStore : public PoolNodeStore {
 public:
  using PoolNodeStore::PoolNodeStore;
  Status Allocate(BlockPtr*) override { return Err(Code::kReadOnly, "snapshot trees are read-only"); }
  void Free(const BlockPtr&) override {}
};

}  // namespace tessera
