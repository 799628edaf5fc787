// Storage::Impl. Internal to core/volume.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "core/segment/cache_segment.h"
#include "core/volume/storage.h"
#include "core/volume/storage_core.h"
#include "core/volume/volume_impl.h"

namespace tessera {

// The vdevs of `config` through options.open_devices, or as file vdevs
// (create: new files; otherwise missing files give null devices).
Result<std::vector<std::shared_ptr<Vdev>>> OpenPoolDevices(const StorageOptions& options,
                                                           const PoolConfig& config, bool create);

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
  Result<PoolStatus> GetPoolStatus();
  Result<CheckReport> Check();
  Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                            const ProgressFn& progress);
  Result<ScrubReport> Scrub(const ProgressFn& progress);
  Result<std::vector<VdevStatus>> ListVdevs();
  Status OfflineVdev(const std::string& name);
  Status OnlineVdev(const std::string& name);
  Result<VdevReplaceReport> ReplaceVdev(const std::string& old_name, const std::string& new_path,
                                        const ProgressFn& progress);
  void StartBackground(std::chrono::milliseconds interval);
  void StopBackground();
  Status Close();

  std::string dir_;

 private:
  Result<std::shared_ptr<VolumeImpl>> OpenVolumeLocked(const std::string& name);
  // `snapshot_tree`: build a read-only snapshot export reading through it.
  Result<std::shared_ptr<VolumeImpl>> BuildVolume(const std::string& name, Dataset* dataset,
                                                  const std::string& exnode_text,
                                                  std::unique_ptr<Tree> snapshot_tree = nullptr);
  Result<std::shared_ptr<VolumeImpl>> OpenSnapshotLocked(const std::string& volume, const std::string& snapshot);
  // The open volume (or snapshot export) of that name, if any.
  std::shared_ptr<VolumeImpl> FindOpen(const std::string& name);
  Result<VolumeInfo> InfoLocked(const std::string& name);
  CacheOptions CacheDefaults() const;
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
  Status SavePoolConfig();
  std::vector<std::shared_ptr<VolumeImpl>> OpenVolumes();
  void BackgroundLoop(std::chrono::milliseconds interval);

  int lock_fd_;
  StorageOptions options_;
  std::unique_ptr<Database> db_;

  std::mutex mu_;  // management calls
  std::mutex open_mu_;  // guards open_; taken by the pre-commit hook
  std::map<std::string, std::weak_ptr<VolumeImpl>> open_;  // GUARDED_BY(open_mu_)

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;  // GUARDED_BY(bg_mu_)
  std::thread bg_;
};

}  // namespace tessera
