// Storage::Impl. Internal to core/volume.
//
// Locking (what keeps a long job from stopping the server)
//  1. mu_ serializes the short steps of management calls: they look at the
//     pool and its volumes and change them, and are over in milliseconds.
//  2. Long work (apply and write of a diff stream, volume inspect, pool
//     scrub and check, vdev replace, volume move, vdev remove, rebalance,
//     a step of automatic tiering) holds work_mu_ for its whole run, so
//     two never overlap, and mu_ only for its short steps. Its long steps
//     (writing a stream into a volume, reading every block, copying a vdev)
//     run without mu_, so listing exports, opening volumes and every other
//     short call go on meanwhile. Vdev offline and online take work_mu_
//     too: no long work sees the pool's shape change under it.
//  3. While long work uses a volume without mu_ it holds the volume
//     (holds_, changed under mu_): kExclusive when nothing else may open it
//     (a stream is being written into it, or a replace copies its only copy
//     of data), kShared when it reads or repairs through the shared open
//     object, which clients keep using. Calls that change a held volume
//     (resize, delete, snapshot create and delete, rollback, flatten) wait
//     until it is released (LockIdle); opening it waits only for kExclusive.
//     Waiting releases mu_. Order: work_mu_, then mu_, then the database's.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/segment/cache_segment.h"
#include "core/volume/open_table.h"
#include "core/volume/storage.h"
#include "core/volume/storage_core.h"
#include "core/volume/volume_impl.h"

namespace tessera {

// The vdevs of `config` through options.open_devices, or by their kinds
// (OpenVdevs; create: new vdevs; otherwise missing ones give null devices).
Result<std::vector<std::shared_ptr<Vdev>>> OpenPoolDevices(const StorageOptions& options,
                                                           const PoolConfig& config, bool create);

// InvalidArgument naming the operation when `name` is a snapshot's
// ("VOL@SNAP"): operations that change a volume take a volume's name.
Status RefuseSnapshotName(const std::string& name, std::string_view operation);

// Blocks allocated on `vdev` outside its reserved ones (labels, superblock
// slots): what vdev remove must move and rebalance evens out
// (storage_vdev_remove.cc).
uint64_t VdevUsedBlocks(Database& db, const PoolVdev& vdev);

// Storage's implementation: the PoolApi calls (pool_api.h says what each
// guarantees) and Storage's own, overridden here directly (no forwarders).
class Storage::Impl final : public Storage, public StorageCore {
 public:
  Impl(std::string dir, int lock_fd, StorageOptions options, std::unique_ptr<Database> db,
       std::unique_ptr<PoolLease> lease);
  ~Impl() override;

  // StorageCore.
  Status CommitAll() override;
  Pool& pool() override { return db_->pool(); }
  RowPlacement& row_placement() override { return placement_; }

  // PoolApi.
  Result<VolumeInfo> CreateVolume(const VolumeSpec& spec) override;
  Result<std::vector<VolumeInfo>> ListVolumes() override;
  Result<VolumeInfo> GetVolumeInfo(const std::string& name) override;
  Status ResizeVolume(const std::string& name, uint64_t new_size, bool force) override;
  Status DeleteVolume(const std::string& name) override;
  Status RenameVolume(const std::string& name, const std::string& new_name) override;
  Result<std::string> ExnodeText(const std::string& name) override;
  Status CreateSnapshot(const std::string& volume, const std::string& snapshot) override;
  Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume) override;
  Status DeleteSnapshot(const std::string& volume, const std::string& snapshot) override;
  Result<VolumeInfo> CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                   const std::string& clone) override;
  Result<FlattenProgress> FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes) override;
  Result<MoveProgress> MoveVolume(const std::string& name, Tier tier) override;
  Status RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force,
                          bool destroy_newer = false) override;
  Result<VolumeDiff> DiffVolume(const std::string& volume, const std::string& from, const std::string& to) override;
  Result<DiffStreamInfo> WriteDiffStream(const std::string& volume, const std::string& from,
                                         const std::string& to, int stream_fd) override;
  Result<DiffStreamInfo> ApplyDiffStream(const std::string& volume, int stream_fd) override;
  Result<PoolStatus> GetPoolStatus() override;
  Result<CheckReport> Check() override;
  Result<PoolIoReport> GetIoReport() override;
  Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                            const ProgressFn& progress) override;
  Result<ScrubReport> Scrub(const ProgressFn& progress) override;
  Result<std::vector<VdevStatus>> ListVdevs() override;
  Status OfflineVdev(const std::string& name) override;
  Result<VdevOnlineReport> OnlineVdev(const std::string& name) override;
  Result<VdevReplaceReport> ReplaceVdev(const std::string& old_name, const std::string& new_path,
                                        const ProgressFn& progress) override;
  Result<VdevStatus> AddVdev(const VdevSpec& spec) override;
  Result<VdevStatus> GrowVdev(const std::string& name, uint64_t new_size) override;
  Result<VdevRemoveProgress> RemoveVdev(const std::string& name) override;
  Result<RebalanceProgress> RebalancePool() override;
  Status Commit() override { return CommitAll(); }
  Status Close() override;

  // Storage.
  const std::string& dir() const override { return dir_; }
  // Names, sizes and layouts only: no space accounting (storage.h).
  Result<std::vector<ExportInfo>> ListExports() override;
  Result<std::shared_ptr<Volume>> OpenVolume(const std::string& name) override;
  Result<TieringMove> TierStep() override;
  void StartBackground(std::chrono::milliseconds interval) override;
  void StopBackground() override;
  // Closes the volumes whose last handle is gone (OpenTable::FinishIdle).
  Status CloseIdleVolumes() override { return open_.FinishIdle(); }

  // storage.h: a stream file is a regular file, not one of the pool's.
  Status CheckStreamFile(int stream_fd);
  // Raises the pool's metadata copies to M+1 for the largest M of its
  // volumes' rs:K+M layouts (storage_vdevs.cc, design note 5). At open.
  Status EnsureMetadataCopies();

  std::string dir_;

 private:
  enum class Hold { kShared, kExclusive };
  // mu_, taken once no long work holds `volume` (a "VOL@SNAP" name counts as
  // VOL): for an open (`opening`), once no kExclusive hold is left (note 3).
  std::unique_lock<std::mutex> LockIdle(const std::string& volume, bool opening = false);
  // Runs `work` with `volumes` held as `hold` and mu_ released; `lock` holds
  // mu_ before and after. The caller holds work_mu_.
  template <class Work>
  auto WithHold(std::unique_lock<std::mutex>& lock, const std::vector<std::string>& volumes,
                Hold hold, Work work) {
    for (const std::string& v : volumes) holds_.emplace(v, hold);
    lock.unlock();
    auto result = work();
    lock.lock();
    for (const std::string& v : volumes) holds_.erase(holds_.find(v));
    holds_cv_.notify_all();
    return result;
  }
  // Inspects (and repairs) a volume: opened with `lock` (mu_) held, the work
  // itself runs held kShared without it (storage_repair.cc).
  Result<VolumeInspectReport> InspectHeld(std::unique_lock<std::mutex>& lock,
                                          const std::string& name, InspectDepth depth, bool repair,
                                          bool replace_lost, const ProgressFn& progress);
  // InspectHeld's work on the open volume (no lock held).
  Result<VolumeInspectReport> InspectOpen(VolumeImpl& volume, InspectDepth depth, bool repair,
                                          bool replace_lost, const ProgressFn& progress);
  Result<std::shared_ptr<VolumeImpl>> OpenVolumeLocked(const std::string& name);
  // Whether `tier` can take `volume`'s rows (storage_move.cc note 2).
  Status CheckMoveFits(VolumeImpl& volume, Tier tier);
  // storage_vdev_remove.cc: whether `vdev` can leave the pool (note 2).
  Status CheckRemovable(const PoolVdev& vdev);
  // `snapshot_tree`: build a read-only snapshot export reading through it,
  // of `snapshot_size` bytes (the size recorded in the snapshot).
  Result<std::shared_ptr<VolumeImpl>> BuildVolume(const std::string& name, Dataset* dataset,
                                                  const std::string& exnode_text,
                                                  std::unique_ptr<Tree> snapshot_tree = nullptr,
                                                  uint64_t snapshot_size = 0);
  // CreateVolume's work; `base`/`base_name`: a clone's origin snapshot.
  Result<VolumeInfo> CreateVolumeLocked(const VolumeSpec& spec, std::shared_ptr<VolumeImpl> base = nullptr,
                                        const std::string& base_name = "");
  // Sets the log's base of a volume whose exNode names one (`base` key of
  // the log section), opening that snapshot export (storage_clones.cc).
  Status AttachBaseLocked(LogSegment& log, const std::string& base_name);
  // Volumes whose origin matches: "VOL@SNAP" exactly, or any snapshot of
  // VOL when `snapshot` is empty. Sorted names.
  Result<std::vector<std::string>> ClonesOfLocked(const std::string& volume, const std::string& snapshot);
  // The lock resource of a volume.
  static std::string VolumeResource(const std::string& name) { return "volume/" + name; }
  Result<std::shared_ptr<VolumeImpl>> OpenSnapshotLocked(const std::string& volume, const std::string& snapshot);
  // The open volume (or snapshot export) of that name, if any; waits for
  // one that is closing (OpenTable contract 3).
  std::shared_ptr<VolumeImpl> FindOpen(const std::string& name) { return open_.Acquire(name); }
  Result<VolumeInfo> InfoLocked(const std::string& name);
  // Every volume's rows by tier, from the exNodes (PoolStatus::placement).
  Result<std::vector<VolumePlacement>> PlacementLocked();
  // Busy while clones name a snapshot of the volume as their base, or while
  // the volume or one of its snapshot exports is in use; closes its idle
  // objects first. `changed` ("deleted") words a failed close's context.
  Status RefuseUnlessUnusedLocked(const std::string& name, std::string_view changed);
  // storage_space.cc: referenced/unique bytes of each snapshot, and the
  // dead-but-pinned bytes of one volume's data rows.
  // storage_rollback_keep.cc: rolls `volume` back to `snapshot`, which has
  // newer ones, keeping them. Caller holds mu_ and the volume's exclusive
  // lock (storage_rollback.cc).
  Status RollbackKeepingNewerLocked(const std::string& volume, const std::string& snapshot, Dataset* dataset);
  Status FillSnapshotSpaceLocked(const std::string& volume, std::vector<SnapshotInfo>& snapshots);
  Result<uint64_t> PinnedDeadRowBytesLocked(const std::string& volume);
  // The cache options of a volume whose log writes to `data`, counting its
  // reads in `counters` (the volume's iostat counters).
  CacheOptions CacheDefaults(const DataSegment& data, std::shared_ptr<CacheCounters> counters) const;
  // storage_catch_up.cc: repairs the rows the vdev missed while it was away
  // (it is online again); `lock` (mu_) is dropped while a volume is repaired.
  VdevOnlineReport CatchUpLocked(std::unique_lock<std::mutex>& lock, const PoolVdev& vdev);
  // The background's catch-up of every online vdev with notes (design note 6).
  void CatchUpStep();
  // storage_repair.cc
  // Moves the row blocks of an rs volume that sit on vdevs that are not
  // online to new blocks on online vdevs (saved and committed); returns how many.
  Result<uint64_t> ReplaceLostBlocks(VolumeImpl& volume, LunSegment& lun, VolumeInspectReport& report);
  // Reads every mapped block of a volume through its log (checksums).
  Status VerifyMappedBlocks(VolumeImpl& volume, VolumeInspectReport& report, const ProgressFn& progress);
  // storage_iostat.cc: the I/O counters of an export (made on first use),
  // and what a delete or rename does to them.
  std::shared_ptr<VolumeIoCounters> IoCountersFor(const std::string& name);
  void ForgetIoCounters(const std::string& name);
  // storage_vdevs.cc
  std::vector<VdevStatus> VdevStatuses();
  Result<std::vector<VolumeHealth>> DegradedVolumes();
  // Writes pool.conf from `config` (the pool's own by default), refusing
  // (and writing nothing) when its text would not read back
  // (CheckConfigReadsBack).
  Status SavePoolConfig(const PoolConfig& config);
  Status SavePoolConfig() { return SavePoolConfig(db_->pool().config()); }
  // storage_vdev_add.cc: the pool.conf section of `spec`, checked against
  // the pool and the file system; InvalidArgument changing nothing.
  Result<VdevConfig> NewVdevConfigLocked(const VdevSpec& spec);
  // InvalidArgument when `config`'s pool.conf text would not parse back,
  // e.g. a line past the format's length limit.
  Status CheckConfigReadsBack(const PoolConfig& config) const;
  // storage_tiering.cc: the heat of volume `name`, whose log writes to
  // `data`, when pool.conf turns tiering on (null otherwise); the same
  // object for every open of the name until ForgetHeat (a delete, a rename).
  std::shared_ptr<RowHeat> HeatFor(const std::string& name, const DataSegment& data);
  void ForgetHeat(const std::string& name);
  // The setting (pool.conf's, read once) with the counters of what moved.
  TieringStatus TieringStatusNow();
  TieringStatus TieringSettingLocked();  // tiering_mu_ held
  // Every volume object, open or idle (OpenTable::Objects).
  std::vector<std::shared_ptr<VolumeImpl>> OpenVolumes() { return open_.Objects(); }
  void BackgroundLoop(std::chrono::milliseconds interval);

  int lock_fd_;
  const uint64_t opened_ns_ = MonotonicNs();  // GetIoReport's counting starts here
  StorageOptions options_;
  // Every volume's page cache draws on it (StorageOptions::memory_bytes).
  std::shared_ptr<MemoryBudget> budget_;
  std::unique_ptr<Database> db_;
  // Renewed from construction; released by the destructor after the last
  // commit and before db_ (and its pool) goes (design note 6 of storage.cc).
  std::unique_ptr<PoolLease> lease_;

  std::mutex work_mu_;                      // long work (locking note 2)
  std::mutex mu_;                           // short steps of management calls (locking note 1)
  std::multimap<std::string, Hold> holds_;  // GUARDED_BY(mu_), locking note 3
  std::condition_variable holds_cv_;        // a hold ended
  // Volume locks: every writable open volume holds its resource in
  // kReadSharedWriteExclusive until its close is done; rollback asks for
  // kReadExclusiveWriteExclusive.
  LockManager locks_;
  // The volume objects and their lifecycle (open_table.h); its lock is
  // taken by the pre-commit hook. Destroyed before locks_, which its
  // objects release.
  OpenTable open_;
  RowPlacement placement_;  // storage_vdevs.cc, design note 6
  std::mutex io_mu_;
  std::map<std::string, std::shared_ptr<VolumeIoCounters>> io_counters_;  // GUARDED_BY(io_mu_)

  std::mutex tiering_mu_;
  std::optional<TieringStatus> tiering_setting_;  // GUARDED_BY(tiering_mu_): no counters
  TieringStatus tiering_moved_;  // GUARDED_BY(tiering_mu_): the counters only
  std::map<std::string, std::shared_ptr<RowHeat>> heats_;  // GUARDED_BY(tiering_mu_)
  std::chrono::steady_clock::time_point last_catch_up_{};  // the background thread's
  std::chrono::steady_clock::time_point last_tier_step_{};  // the background thread's

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;  // GUARDED_BY(bg_mu_)
  std::thread bg_;
};

}  // namespace tessera
