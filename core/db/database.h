// The database: a pool, its allocator, the root tree, and named datasets
// (each a B-epsilon tree) with snapshots.
//
// Contract
//  1. Commit() makes every change made before it was called durable, in the
//     order of docs/architecture.md (Database, Commit): dirty dataset trees,
//     dead lists and bitmaps into the root tree, root tree written, flush,
//     superblock (slot txg % 2 on every SuperblockVdevs() vdev), flush, then
//     quarantined frees released.
//  2. After a crash, Open() sees exactly the state of the newest superblock
//     (of any vdev) that verifies and whose root tree opens. A superblock of
//     this pool with an unsupported format version fails Open with
//     InvalidArgument.
//  3. A failed Commit leaves the database failed: every later Commit and
//     dataset change returns the same error until it is reopened. The disk
//     still holds the previous commit intact.
//  4. Threads: Dataset trees may be read and changed from any thread
//     concurrently with each other and with Commit (each tree locks itself).
//     Dataset and snapshot management and Commit serialize on mu_.
//     A Dataset* stays valid until DeleteDataset of it or the Database's end.
//     Check and ScrubMetadata hold mu_ only for short steps: they walk the
//     trees of the last commit, pinned (walk_pin.cc), while commits and
//     management go on.
//  5. Redundancy: the pool has a metadata copies setting (2 by default, at
//     most kMaxNodeCopies, kept in the superblock; RequireMetadataCopies
//     raises it, nothing lowers it). Every tree node is written that many
//     times, on distinct vdevs, or as many as the metadata tiers have vdevs
//     (metadata_copies()); fewer only while too few of them are online. A
//     read falls back to another copy and repairs the bad one
//     (metadata_io.h). Superblocks go to every healthy vdev of the fastest
//     tier, and to at least two vdevs when the pool has them. So the pool
//     opens, reads and checks clean after losing (or corrupting) the
//     metadata of any setting-1 vdevs.
//  6. Degraded open and offline (degraded.cc). The pool opens with any
//     vdev missing, offline or faulted (pool.h contract 1a); the database
//     then decides. When some vdev is not online, Open reads every node
//     reachable from the newest usable superblock and fails, naming the
//     vdevs that are not online, when one has no readable copy; it never
//     falls back to an older superblock for that reason. OfflineVdev takes
//     a vdev of any tier offline only when the superblock and every tree
//     node keep a copy on another online vdev.
//  7. AddVdev (vdev add) takes a vdev the pool's PrepareVdev labelled and
//     that pool.conf already names: under the commit lock it joins the pool
//     and the allocator at once (new tree nodes and data extents may land
//     there from then on), the copies new nodes get are counted again
//     (contract 5: a pool that had fewer metadata-tier vdevs than its
//     setting gains a copy), and when that count rose every node of the
//     root tree and the live dataset trees with fewer copies is written
//     anew, as RequireMetadataCopies does. It ends with a forced commit, so
//     the superblock reaches the vdev when it is one of SuperblockVdevs().
//     A crash before that commit leaves the previous commit, which never
//     referenced the vdev, and a pool that opens with it, empty.
//  8. GrowVdev (vdev grow) takes the vdev's grown device after
//     Pool::PrepareGrow and pool.conf's new size: under the commit lock the
//     vdev's label takes the new size, the allocator grows (its new space
//     free, the old end label freed) and one commit stores the grown
//     bitmaps. Until the label write the vdev opens at its old size; after
//     it at the new size, with or without that commit (allocator.h
//     contract 9). A failure once the pool changed fails the database.
//  9. Commits and holds. Every call that commits (Commit, Check, dataset
//     and snapshot management, rollback, RequireMetadataCopies, AddVdev,
//     GrowVdev, the scrub's recopy) takes the commit gate exclusively, then
//     mu_; HoldCommits takes the gate shared. So a change made of several
//     calls under one hold (a data row's extents and the exNode that names
//     them) reaches the disk in one commit, whatever other threads commit
//     meanwhile. Holds overlap one another. The gate comes before mu_ and
//     before nothing else of the database: a holder must not commit, nor
//     call what commits, until its hold ends (it would wait for itself).
// 10. Removing a vdev (vdev remove, vdev_remove.cc) has three parts: the
//     caller marks the vdev draining (slot_vdev.h), so nothing new is
//     placed on it, and moves the data rows off it; EvacuateMetadata writes
//     every tree node with a copy on it anew elsewhere; RemoveVdev takes it
//     out of the pool (Pool::Remove) once the allocator shows nothing on it
//     in use, with a forced commit. The caller persists the pool config
//     after that commit.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/alloc/allocator.h"
#include "core/db/db_types.h"
#include "core/db/metadata_io.h"
#include "core/db/node_stores.h"
#include "core/db/root_keys.h"
#include "core/db/superblock.h"
#include "core/pool/pool.h"
#include "core/tree/tree.h"

namespace tessera {

struct DatabaseOptions {
  uint64_t cache_bytes = 256ull << 20;
  TreeOptions tree;  // for dataset trees
  std::vector<Tier> metadata_tiers = {Tier::kFastest, Tier::kFast, Tier::kSlow, Tier::kSlowest};
  // Create only: the pool's metadata copies setting to start with (contract
  // 5; Open takes it from the superblock).
  uint32_t metadata_copies = 2;
};

class Dataset {
 public:
  const std::string& name() const { return name_; }
  uint64_t id() const { return record_.id; }
  Tree& tree() { return *tree_; }

 private:
  friend class Database;
  std::string name_;
  DatasetRecord record_;
  std::unique_ptr<DatasetNodeStore> store_;
  std::unique_ptr<Tree> tree_;
};

// Space of one snapshot's tree nodes (snapshot_space.cc).
struct SnapshotNodeSpace {
  uint64_t node_bytes = 0;         // every node of its tree
  uint64_t unique_node_bytes = 0;  // what DeleteSnapshot would free
};

// What ScrubMetadata found. Counts cover every node reachable from the root
// tree, every dataset and every snapshot; a node shared by several trees is
// checked once.
struct MetadataScrubReport {
  uint64_t checked = 0;          // distinct nodes checked
  uint64_t copies_checked = 0;   // copies read and verified
  uint64_t repaired = 0;         // bad copies rewritten from a good copy
  uint64_t unrecoverable = 0;    // nodes (or unwalkable subtrees) with no good copy
  uint64_t unavailable = 0;      // copies on faulted vdevs, not checkable
  uint64_t single_copy = 0;      // nodes stored once (every node of a one-vdev pool;
                                 // nodes written while a vdev was faulted)
  uint64_t under_replicated = 0; // nodes with fewer copies than the pool keeps, left so
  uint64_t recopied = 0;          // nodes below it written anew with every copy
                                  // (snapshot_recopy.cc)
  uint64_t superblocks_checked = 0;   // current superblock copies read
  uint64_t superblocks_repaired = 0;  // of those, missing or bad and rewritten
  std::vector<std::string> errors;  // one line per unrecoverable node or tree, and per
                                    // dataset left under-replicated (and why)
  bool clean() const {
    return repaired == 0 && unrecoverable == 0 && unavailable == 0 && superblocks_repaired == 0;
  }
  std::string Summary() const;
};
// Called after each tree and every 256 nodes: the counts so far and the tree
// being scrubbed ("root tree", "dataset NAME", "NAME@SNAP").
using ScrubProgressFn = std::function<void(const MetadataScrubReport& so_far, std::string_view tree)>;

class Database {
 public:
  static Result<std::unique_ptr<Database>> Create(std::unique_ptr<Pool> pool, DatabaseOptions options);
  static Result<std::unique_ptr<Database>> Open(std::unique_ptr<Pool> pool, DatabaseOptions options);
  ~Database();

  // Returns the txg that now holds every change (the last one when nothing
  // changed: an idle commit writes nothing).
  Result<uint64_t> Commit();
  uint64_t txg() const { return txg_; }
  Pool& pool() { return *pool_; }
  Allocator& allocator() { return *allocator_; }
  NodeCache& cache() { return cache_; }

  // Datasets. Names are 1..255 bytes without '@' or '/'.
  Result<Dataset*> CreateDataset(std::string_view name);
  Result<Dataset*> OpenDataset(std::string_view name);
  Result<std::vector<DatasetInfo>> ListDatasets();
  // Deletes its snapshots and frees every node; durable on return.
  Status DeleteDataset(std::string_view name);
  // Gives the dataset `name` the name `new_name`, in one commit (durable on
  // return); its tree, snapshots, dead lists and extents follow it (they are
  // keyed by its id). `edit`, when given, changes the dataset's tree in that
  // same commit (the caller's copy of the name), so no commit in between
  // can split the two. NotFound for an unknown `name`, InvalidArgument for a
  // bad or taken `new_name`; either changes nothing.
  Status RenameDataset(std::string_view name, std::string_view new_name,
                       const std::function<Status(Tree&)>& edit = {});

  // Snapshots pin the dataset's tree root as of a commit; durable on return.
  // `guid` 0 draws a random one; a copy made from a diff stream passes the
  // guid of the snapshot it copies.
  Status CreateSnapshot(std::string_view dataset, std::string_view snapshot, uint64_t guid = 0);
  Result<std::vector<SnapshotInfo>> ListSnapshots(std::string_view dataset);
  Status DeleteSnapshot(std::string_view dataset, std::string_view snapshot);
  // Rolls the dataset back to `snapshot`, which must be its newest
  // (InvalidArgument naming the newer ones otherwise), in one commit: the
  // live root becomes the snapshot's, live nodes and data extents born after
  // the snapshot are freed, except the extents at the addresses in `keep`
  // (those the caller's `edit` makes the rolled-back tree use), the live
  // dead list is emptied. `edit` may change the new live tree before that
  // commit. Durable on return; after a crash the dataset is wholly old or
  // wholly rolled back. The dataset's Tree object is replaced: whoever used
  // the old one (dataset->tree()) must have stopped and must not touch it
  // again.
  Status RollbackDataset(std::string_view dataset, std::string_view snapshot,
                         const std::vector<DiskAddress>& keep, const std::function<Status(Tree&)>& edit);
  // Applies `edit` to the dataset's live tree and commits (forced), holding
  // the commit lock throughout, so no other commit sees part of the edit:
  // after a crash the dataset holds all of it or none. The tree changes as
  // any write changes it (nodes copied on write, the replaced ones freed or
  // put on the live dead list), so snapshots and dead lists stay as they
  // are. For rolling back to a snapshot with newer ones kept
  // (core/volume/storage_rollback_keep.cc). A failure once `edit` has run
  // fails the database (contract 3): memory may hold half of the edit.
  // Durable on return.
  Status EditDataset(std::string_view dataset, const std::function<Status(Tree&)>& edit);
  // A read-only tree over the snapshot's root. It must not outlive the
  // Database, nor be used after the snapshot is deleted.
  Result<std::unique_ptr<Tree>> OpenSnapshot(std::string_view dataset, std::string_view snapshot);

  // Space accounting (snapshot_space.cc). The tree nodes of a snapshot, and
  // those that deleting it would free (dead-list entries of the next owner
  // born after the previous snapshot, as DeleteSnapshot frees them).
  Result<SnapshotNodeSpace> SnapshotSpace(std::string_view dataset, std::string_view snapshot);
  // Bytes of every dataset's dead lists: nodes the live trees dropped that
  // snapshots still hold.
  Result<uint64_t> DeadListBytes();

  // Data extents: runs of blocks a dataset owns outside its tree (volume data
  // rows). Recorded in the root tree, durable with the next commit, counted
  // as referenced by Check, freed with the dataset.
  Result<DiskAddress> AllocateExtent(Dataset* dataset, Tier tier, uint32_t vdev, BlockCount count);
  Status FreeExtent(Dataset* dataset, DiskAddress address);
  struct Extent {
    DiskAddress address;
    uint64_t blocks = 0;
    uint64_t birth = 0;  // txg whose commit first holds it
  };
  Result<std::vector<Extent>> ExtentsOf(Dataset* dataset);

  // Writes a vdev missed (missed_writes.cc): rows of a dataset's data whose
  // chunk on the vdev may be stale, for the vdev's catch-up when it is
  // back. `vdev` is tier << 32 | index (MissedVdev). Noting takes only a
  // lock of its own, so writers may note under their locks; the notes go
  // into the root tree with the next commit.
  static uint64_t MissedVdev(Tier tier, uint32_t index) { return static_cast<uint64_t>(tier) << 32 | index; }
  struct MissedWrite {
    uint64_t dataset_id = 0;
    uint64_t row = 0;   // the lun row's seg_offset
    uint64_t note = 0;  // a row noted again gets another
  };
  void NoteMissedWrite(uint64_t vdev, uint64_t dataset_id, uint64_t row);
  // Every missed write of the vdev, committed or not, by dataset and row.
  Result<std::vector<MissedWrite>> MissedWritesOn(uint64_t vdev);
  // Forgets `writes` (from MissedWritesOn), except rows noted again since.
  Status ForgetMissedWrites(uint64_t vdev, const std::vector<MissedWrite>& writes);
  // Forgets every missed write of the vdev (rebuilt whole, or removed).
  Status ForgetMissedWritesOn(uint64_t vdev);

  // Contract 9: no commit starts while this lives (one under way ends
  // first). Release() ends it early.
  class CommitHold {
   public:
    explicit CommitHold(std::shared_mutex& gate) : lock_(gate) {}
    void Release() {
      if (lock_.owns_lock()) lock_.unlock();
    }

   private:
    std::shared_lock<std::shared_mutex> lock_;
  };
  [[nodiscard]] CommitHold HoldCommits() { return CommitHold(commit_gate_); }

  // Called at the start of every commit, before any tree is synced, under
  // the commit lock; the hook may change dataset trees (not manage them).
  void SetPreCommitHook(std::function<Status()> hook);

  // Commits, then walks every tree of that commit and compares the blocks
  // they reference (every copy of every node) with the allocation bitmaps as
  // that commit left them. The commit lock is held for the commit and the
  // copy of the bitmaps only; the walk runs without it (contract 4), so
  // commits and management calls made meanwhile go on and are not seen.
  // With `data_blocks` (the data blocks a dataset tree's own records name:
  // a volume's exNode), each dataset's extents are checked against what
  // its live tree and its snapshots' trees name, in that same commit: an
  // extent none names is a leak, a block named that is not an extent of
  // the dataset (or of another size) an unallocated reference, and a tree
  // whose names cannot be read a checksum failure.
  struct NamedBlock {
    DiskAddress address;
    uint64_t blocks = 0;
  };
  using DataBlocksFn = std::function<Result<std::vector<NamedBlock>>(Tree& tree)>;
  Result<CheckReport> Check(const DataBlocksFn& data_blocks = {});

  // Reads and verifies every copy of every node reachable from the root
  // tree, the datasets and the snapshots (the versions of the last commit
  // when it starts), and rewrites bad copies from a good one; then checks
  // that every SuperblockVdevs() vdev holds the current superblock and
  // rewrites it where it does not. The walk runs without the commit lock
  // (contract 4): commits, management calls, dataset reads and writes go
  // on; the superblock check takes it briefly. Last, when the walk found
  // nodes with fewer copies than the pool keeps (a raised setting, writes
  // while a vdev was lost), it writes them anew with every copy, snapshots
  // included, holding the commit lock for that repair (snapshot_recopy.cc);
  // the old nodes of a dataset with open snapshot trees are kept from reuse
  // until those trees close (Allocator contract 11).
  // `progress` is called without the lock. Errors only when the walk cannot
  // start (or the database failed earlier); what it finds is in the report.
  Result<MetadataScrubReport> ScrubMetadata(const ScrubProgressFn& progress = {});

  // Takes the vdev offline (Pool::Offline) when the metadata survives
  // without it (contract 6); InvalidArgument naming what would be lost
  // otherwise, and nothing changes. The caller persists the pool config.
  Status OfflineVdev(const std::string& name);

  // Copies each new tree node gets: the setting, at most the vdevs of the
  // metadata tiers (contract 5).
  uint32_t metadata_copies() const { return io_->copies(); }
  uint32_t metadata_copies_setting() const { return copies_setting_.load(); }
  // The tiers whose vdevs take tree nodes.
  std::span<const Tier> metadata_tiers() const { return options_.metadata_tiers; }
  // Raises the setting to `copies` (clamped to kMaxNodeCopies; a lower
  // value changes nothing) and makes it durable in one commit, in which
  // every node of the root tree and of every dataset's live tree with fewer
  // copies than the pool now keeps is written anew with them (the volume
  // layer calls this with M+1 for an rs:K+M volume). Snapshot trees keep
  // the copies they were written with until the next ScrubMetadata brings
  // them up (snapshot_recopy.cc). Loads and dirties those trees whole:
  // memory in proportion to the metadata.
  Status RequireMetadataCopies(uint32_t copies);
  // Contract 7. Refused, changing nothing, as Pool::AddVdev refuses; a
  // failure of the rewrite or the commit fails the database (contract 3).
  Status AddVdev(const VdevConfig& config, std::shared_ptr<Vdev> device);
  // Contract 8.
  Status GrowVdev(const std::string& name, std::shared_ptr<Vdev> device);
  // Contract 10, for a draining vdev (InvalidArgument otherwise): the
  // number of tree nodes written anew; Busy, with that dataset left as it
  // was, when a dataset with nodes there has a snapshot tree open.
  Result<uint64_t> EvacuateMetadata(const std::string& name);
  // Contract 10: Busy, changing nothing, while the vdev holds a block in
  // use. A failed commit fails the database (contract 3).
  Status RemoveVdev(const std::string& name);
  // Read errors, checksum errors and repairs of metadata since opened.
  MetadataStats metadata_stats() const { return io_->stats(); }

 private:
  friend class DatabaseTestPeer;  // tests/unit/db/db_test_util.h: plants bad root-tree records
  Database(std::unique_ptr<Pool> pool, DatabaseOptions options);
  static TreeOptions RootTreeOptions();

  // walk_pin.cc. While a WalkPin lives, no block freed is released for reuse
  // (commits keep their quarantine), so every node of the commit it was
  // taken at stays on disk as written. Taken under mu_; dropped from any
  // thread, without a lock.
  class WalkPin {
   public:
    explicit WalkPin(std::atomic<uint32_t>* walks);
    WalkPin(WalkPin&& other) noexcept : walks_(std::exchange(other.walks_, nullptr)) {}
    WalkPin& operator=(WalkPin&&) = delete;
    ~WalkPin();

   private:
    std::atomic<uint32_t>* walks_;
  };
  // The last commit, pinned: a read-only tree over its root tree, from which
  // its dataset and snapshot records are read; usable without mu_.
  struct PinnedCommit {
    WalkPin pin;
    std::unique_ptr<Tree> root;
    uint64_t txg = 0;
  };
  Result<PinnedCommit> PinLastCommitLocked();

  // Contract 9: the gate, then mu_, for every call that commits.
  struct CommitScope {
    std::unique_lock<std::shared_mutex> gate;
    std::unique_lock<std::mutex> lock;
  };
  CommitScope LockToCommit() { return CommitScope{std::unique_lock(commit_gate_), std::unique_lock(mu_)}; }

  Status Bootstrap();                    // Create: empty root tree, first commit
  Status Recover();                      // Open: superblock, root tree, bitmaps
  Status LoadRoot(const Superblock& sb);
  // With nothing changed since the last commit, returns its txg without
  // writing, unless `force` (a snapshot needs a txg of its own).
  Result<uint64_t> CommitLocked(bool force = false);
  bool NothingToCommitLocked();
  Status WriteSuperblock(uint64_t txg, const BlockPtr& root);
  // Healthy vdevs of the fastest tier that has any, topped up from the next
  // tiers to two vdevs when the pool has them.
  std::vector<const PoolVdev*> SuperblockVdevs() const;
  Status ScrubSuperblocksLocked(MetadataScrubReport* report);
  // Writes anew every node of the root tree and of the live dataset trees
  // with fewer copies than metadata_copies() (metadata_copies.cc).
  Status RewriteThinNodesLocked();
  // snapshot_recopy.cc: brings every node with fewer copies than
  // metadata_copies() up to it, in two commits: of the root tree when
  // `root_tree`, and of the live and snapshot trees of the datasets named in
  // `datasets`. `rewritten` gets the first copy address of each node below
  // the count written anew; `report` a line per dataset left alone.
  Status RecopyThinNodesLocked(bool root_tree, const std::set<std::string>& datasets,
                               std::set<uint64_t>* rewritten, MetadataScrubReport* report);
  // The same for the nodes `which` picks (those below the count, or those
  // with a copy on a vdev being removed), whatever vdevs are online.
  Status RewriteNodesWhereLocked(const std::function<bool(const BlockPtr&)>& which, bool root_tree,
                                 const std::set<std::string>& datasets, std::set<uint64_t>* rewritten,
                                 MetadataScrubReport* report);
  // degraded.cc: every node of the last committed trees (root tree,
  // datasets, snapshots), each once; stops at the first error (of a read or
  // of fn).
  Status ForEachCommittedNodeLocked(const std::function<Status(std::string_view, const BlockPtr&)>& fn);
  Status VerifyMetadataReadableLocked();
  std::string NotOnlineVdevsLocked() const;
  // The functions named ...In read the root tree `root`: root_tree_ under
  // mu_, or a PinnedCommit's without it.
  // (name, record) of every dataset; a record that does not decode is
  // described in `problems` and left out.
  static Result<std::vector<std::pair<std::string, DatasetRecord>>> DatasetRecordsIn(
      Tree& root, std::vector<std::string>* problems);
  // Every dataset and snapshot tree: what to call it ("dataset NAME",
  // "NAME@SNAP"), its dataset's name, its root.
  struct TreeRoot {
    std::string what;
    std::string dataset;
    BlockPtr root;
    bool snapshot = false;  // a snapshot's tree, not the dataset's live one
  };
  static Result<std::vector<TreeRoot>> TreeRootsIn(Tree& root, std::vector<std::string>* problems);
  static Result<std::vector<SnapshotRecord>> SnapshotsIn(Tree& root, uint64_t dataset_id);
  Result<Dataset*> OpenDatasetLocked(std::string_view name);
  Status FailIfBroken() const;
  Result<std::vector<SnapshotRecord>> SnapshotsOf(uint64_t dataset_id);
  Status MoveDeadList(uint64_t dataset_id, uint64_t from_owner, uint64_t to_owner);
  Status DeleteSnapshotLocked(Dataset* dataset, const SnapshotRecord& snapshot);
  std::unique_ptr<DatasetNodeStore> MakeDatasetStore(const DatasetRecord& record);

  std::unique_ptr<Pool> pool_;
  DatabaseOptions options_;
  NodeCache cache_;
  DefaultMessageActions actions_;
  std::unique_ptr<MetadataIo> io_;  // over pool_; the copy policy is fixed at construction
  std::unique_ptr<Allocator> allocator_;

  std::shared_mutex commit_gate_;  // contract 9: taken before mu_
  std::mutex mu_;  // serializes Commit and dataset/snapshot management
  uint64_t txg_ = 0;                               // GUARDED_BY(mu_) for writes
  uint64_t next_dataset_id_ = 1;                   // GUARDED_BY(mu_)
  std::unique_ptr<RootNodeStore> root_store_;      // GUARDED_BY(mu_)
  std::unique_ptr<Tree> root_tree_;                // GUARDED_BY(mu_)
  std::unique_ptr<ReadOnlyNodeStore> read_store_;  // for snapshot trees; set with allocator_
  std::vector<std::unique_ptr<Dataset>> open_;     // GUARDED_BY(mu_)
  std::optional<Error> failed_;                    // GUARDED_BY(mu_)
  Superblock superblock_;  // GUARDED_BY(mu_); the last one written or recovered
  std::atomic<uint32_t> copies_setting_{2};  // written under mu_ (contract 5)
  std::function<Status()> pre_commit_hook_;        // GUARDED_BY(mu_)
  // Missed writes noted since the last commit: root-tree key -> note.
  // Taken after mu_ when both are held.
  std::mutex missed_mu_;
  std::map<std::string, uint64_t> missed_pending_;  // GUARDED_BY(missed_mu_)
  uint64_t missed_next_note_;                       // GUARDED_BY(missed_mu_)
  // Moves missed_pending_ into the root tree (under mu_, at a commit).
  Status StoreMissedWritesLocked();
  Result<std::vector<Extent>> ExtentsOfLocked(uint64_t dataset_id);
  static Result<std::vector<Extent>> ExtentsIn(Tree& root, uint64_t dataset_id);
  // Per dataset id, a token each open snapshot tree holds (OpenSnapshot, as
  // TreeOptions::holder): use_count() above 1 means some are open. Copied
  // only under mu_.
  std::map<uint64_t, std::shared_ptr<const int>> snapshot_readers_;  // GUARDED_BY(mu_)
  // Nodes a recopy freed while snapshot trees were open, held from reuse
  // (Allocator contract 11) until every tree that held `readers` then is
  // closed; commits end the holds (snapshot_recopy.cc note 5).
  struct ReadersHold {
    std::weak_ptr<const int> readers;
    uint64_t hold = 0;
  };
  std::vector<ReadersHold> readers_holds_;  // GUARDED_BY(mu_)
  uint64_t next_hold_ = 1;                  // GUARDED_BY(mu_)
  void EndClosedReadersHoldsLocked();
  // Running walks (WalkPin); while above 0, commits release no quarantine.
  // Raised under mu_, lowered without it.
  std::atomic<uint32_t> walks_{0};
};

}  // namespace tessera
