// Storage::Impl. Internal to core/volume.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/segment/cache_segment.h"
#include "core/volume/open_table.h"
#include "core/volume/storage.h"
#include "core/volume/storage_core.h"
#include "core/volume/volume_impl.h"

namespace tessera {

// The vdevs of `config` through options.open_devices, or as file vdevs
// (create: new files; otherwise missing files give null devices).
Result<std::vector<std::shared_ptr<Vdev>>> OpenPoolDevices(const StorageOptions& options,
                                                           const PoolConfig& config, bool create);

// InvalidArgument naming the operation when `name` is a snapshot's
// ("VOL@SNAP"): operations that change a volume take a volume's name.
Status RefuseSnapshotName(const std::string& name, std::string_view operation);

class Storage::Impl : public StorageCore {
 public:
  Impl(std::string dir, int lock_fd, StorageOptions options, std::unique_ptr<Database> db);
  ~Impl() override;

  Status CommitAll() override;
  Pool& pool() override { return db_->pool(); }

  Result<VolumeInfo> CreateVolume(const VolumeSpec& spec);
  Result<std::vector<VolumeInfo>> ListVolumes();
  Result<VolumeInfo> Info(const std::string& name);
  Status Resize(const std::string& name, uint64_t new_size, bool force);
  Status Delete(const std::string& name);
  Result<std::string> ExnodeText(const std::string& name);
  Result<std::shared_ptr<VolumeImpl>> OpenVolume(const std::string& name);
  Status CreateSnapshot(const std::string& volume, const std::string& snapshot);
  Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume);
  Status DeleteSnapshot(const std::string& volume, const std::string& snapshot);
  Result<VolumeInfo> CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                   const std::string& clone);
  Result<FlattenProgress> FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes);
  Status RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force);
  Result<VolumeDiff> DiffVolume(const std::string& volume, const std::string& from, const std::string& to);
  Result<DiffStreamInfo> WriteDiffStream(const std::string& volume, const std::string& from,
                                         const std::string& to, int stream_fd);
  Result<DiffStreamInfo> ApplyDiffStream(const std::string& volume, int stream_fd);
  // storage.h: a stream file is a regular file, not one of the pool's.
  Status CheckStreamFile(int stream_fd);
  Result<PoolStatus> GetPoolStatus();
  Result<CheckReport> Check();
  Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                            const ProgressFn& progress);
  Result<ScrubReport> Scrub(const ProgressFn& progress);
  Result<std::vector<VdevStatus>> ListVdevs();
  // Raises the pool's metadata copies to M+1 for the largest M of its
  // volumes' rs:K+M layouts (storage_vdevs.cc, design note 5). At open.
  Status EnsureMetadataCopies();
  Status OfflineVdev(const std::string& name);
  Status OnlineVdev(const std::string& name);
  Result<VdevReplaceReport> ReplaceVdev(const std::string& old_name, const std::string& new_path,
                                        const ProgressFn& progress);
  // Closes the volumes whose last handle is gone (OpenTable::FinishIdle).
  Status CloseIdleVolumes() { return open_.FinishIdle(); }
  void StartBackground(std::chrono::milliseconds interval);
  void StopBackground();
  Status Close();

  std::string dir_;

 private:
  Result<std::shared_ptr<VolumeImpl>> OpenVolumeLocked(const std::string& name);
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
  // storage_space.cc: referenced/unique bytes of each snapshot, and the
  // dead-but-pinned bytes of one volume's data rows.
  Status FillSnapshotSpaceLocked(const std::string& volume, std::vector<SnapshotInfo>& snapshots);
  Result<uint64_t> PinnedDeadRowBytesLocked(const std::string& volume);
  // The cache options of a volume whose log writes to `data`.
  CacheOptions CacheDefaults(const DataSegment& data) const;
  // storage_repair.cc
  Result<VolumeInspectReport> InspectLocked(const std::string& name, InspectDepth depth, bool repair,
                                            bool replace_lost, const ProgressFn& progress);
  // Moves the row blocks of an rs volume that sit on vdevs that are not
  // online to new blocks on online vdevs (saved and committed); returns how many.
  Result<uint64_t> ReplaceLostBlocks(VolumeImpl& volume, LunSegment& lun, VolumeInspectReport& report);
  // Reads every mapped block of a volume through its log (checksums).
  Status VerifyMappedBlocks(VolumeImpl& volume, VolumeInspectReport& report, const ProgressFn& progress);
  // storage_vdevs.cc
  std::vector<VdevStatus> VdevStatuses();
  Result<std::vector<VolumeHealth>> DegradedVolumes();
  // Writes pool.conf from the pool's config, refusing (and writing
  // nothing) when its text would not read back (CheckConfigReadsBack).
  Status SavePoolConfig();
  // InvalidArgument when `config`'s pool.conf text would not parse back,
  // e.g. a line past the format's length limit.
  Status CheckConfigReadsBack(const PoolConfig& config) const;
  // Every volume object, open or idle (OpenTable::Objects).
  std::vector<std::shared_ptr<VolumeImpl>> OpenVolumes() { return open_.Objects(); }
  void BackgroundLoop(std::chrono::milliseconds interval);

  int lock_fd_;
  StorageOptions options_;
  std::unique_ptr<Database> db_;

  std::mutex mu_;  // management calls
  // Volume locks: every writable open volume holds its resource in
  // kReadSharedWriteExclusive until its close is done; rollback asks for
  // kReadExclusiveWriteExclusive.
  LockManager locks_;
  // The volume objects and their lifecycle (open_table.h); its lock is
  // taken by the pre-commit hook. Destroyed before locks_, which its
  // objects release.
  OpenTable open_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;  // GUARDED_BY(bg_mu_)
  std::thread bg_;
};

}  // namespace tessera
