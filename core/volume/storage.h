// Storage: one pool directory opened for use, with its database and volumes.
// The plugin and the CLI both go through this class; neither holds storage
// logic of its own.
//
// A pool directory holds:
//   pool.conf       the pool config (core/pool/config.h)
//   vdevN.img       file vdevs, when created with default paths
//   lock            flock()ed exclusively by the one process that has the
//                   pool open (the server, or the CLI when no server runs)
//   control.sock    the running server's control socket
//
// Contract
//  1. Open takes the exclusive lock; a second opener gets Busy with a message
//     that says a server (or another command) has the pool open.
//  2. Create refuses a directory that already holds a pool.conf, and files
//     that already exist, and changes nothing then.
//  3. Management calls are thread-safe and serialize on one mutex. Volume
//     I/O does not take that mutex.
//  4. Close (or the destructor) flushes every open volume and commits.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/db/database.h"
#include "core/pool/config.h"
#include "core/volume/volume.h"

namespace tessera {

struct StorageOptions {
  uint64_t metadata_cache_bytes = 256ull << 20;
  uint64_t data_cache_bytes = 256ull << 20;   // per volume: clean + dirty pages
  uint64_t dirty_bytes_max = 64ull << 20;     // per volume: write-back bound
  bool use_io_uring = true;
  bool use_direct = true;
  // Opens the vdevs of a config (create: make the files). Default: file vdevs
  // (Pool::OpenFileDevices). Tests wrap them in FaultVdevs here.
  std::function<Result<std::vector<std::shared_ptr<Vdev>>>(const PoolConfig&, bool create)> open_devices;
};

struct VolumeSpec {
  std::string name;
  uint64_t size = 0;                 // bytes, multiple of 4096
  std::string layout = "simple";     // "simple", "stripe:N" or "rs:K+M" (core/volume/layout.h)
  std::optional<Tier> tier;          // preferred data tier; default: the slowest that exists
};

struct VolumeInfo {
  std::string name;
  uint64_t id = 0;                   // dataset id
  uint64_t size = 0;
  std::string layout;
  std::string tier;
  uint64_t mapped_bytes = 0;         // bytes that read as data, not holes
  uint64_t allocated_bytes = 0;      // bytes of the data rows
  bool open = false;                 // currently exported / in use
};

struct VdevStatus {
  std::string name;
  std::string path;
  std::string tier;
  uint32_t index = 0;
  uint64_t size_bytes = 0;
  uint64_t used_bytes = 0;
  std::string state;                 // online | offline | faulted | missing (VdevStateName)
  std::map<std::string, std::string> attrs;
  // Since the pool was opened (SlotVdev counters).
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t flush_errors = 0;
  uint64_t checksum_errors = 0;
};

// A volume with data on a vdev that is not online.
struct VolumeHealth {
  std::string name;
  std::string state;      // "degraded" (redundancy covers it) or "unavailable" (data cannot be read)
  uint64_t rows = 0;      // rows with blocks on vdevs that are not online
  std::vector<std::string> vdevs;  // those vdevs
};

// Progress of a long operation: `done` of `total` units of `what`.
struct Progress {
  std::string what;
  uint64_t done = 0;
  uint64_t total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

enum class InspectDepth { kQuick, kScan, kFull };

struct VolumeInspectReport {
  std::string volume;
  std::string depth;                 // quick | scan | full
  bool repair = false;
  uint64_t checked = 0;              // chunks (rs), blocks (others), rows/blocks for quick
  uint64_t bad = 0;                  // bad units found
  uint64_t repaired = 0;             // chunks rewritten with their correct content
  uint64_t replaced_blocks = 0;      // row blocks moved off vdevs that are not online
  uint64_t unrecoverable = 0;        // units whose content is lost
  std::vector<std::string> problems;  // the first ones
  bool clean() const { return bad == 0 && unrecoverable == 0; }
};

struct ScrubReport {
  uint64_t volumes = 0;
  uint64_t checked = 0;              // chunks of rs volumes + blocks of the others
  uint64_t repaired = 0;
  uint64_t unrecoverable = 0;
  uint64_t degraded = 0;             // bad units that could not be rewritten (vdev not online)
  CheckReport metadata;              // the metadata part (design note in storage_scrub.cc)
  std::vector<std::string> problems;
  bool clean() const { return unrecoverable == 0 && degraded == 0 && metadata.clean(); }
};

struct VdevReplaceReport {
  std::string vdev;
  std::string old_path;
  std::string new_path;
  uint64_t copied_blocks = 0;        // copied from the old device (it was readable)
  uint64_t rebuilt_chunks = 0;       // rebuilt from parity
  uint64_t unrecoverable_blocks = 0; // held by the old device, not redundant, not readable
  std::vector<std::string> volumes;  // volumes whose data was rebuilt
  std::vector<std::string> problems;
};

struct PoolStatus {
  std::string name;
  std::string uuid;
  uint64_t txg = 0;
  uint64_t size_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t free_bytes = 0;
  std::vector<VdevStatus> vdevs;
  size_t volumes = 0;
  std::string health = "online";     // online | degraded (some vdev not online)
  std::vector<VolumeHealth> degraded_volumes;
};

class Storage {
 public:
  // Writes DIR/pool.conf from `config` (vdev paths relative to DIR unless
  // absolute), creates the vdev files, the pool and an empty database.
  static Result<std::unique_ptr<Storage>> Create(const std::string& dir, const PoolConfig& config,
                                                 StorageOptions options = {});
  static Result<std::unique_ptr<Storage>> Open(const std::string& dir, StorageOptions options = {});
  // A config of `count` fastest-tier file vdevs DIR/vdevK.img of `size` bytes each.
  static PoolConfig DefaultConfig(const std::string& dir, uint32_t count, uint64_t size);
  ~Storage();

  const std::string& dir() const;

  Result<VolumeInfo> CreateVolume(const VolumeSpec& spec);
  Result<std::vector<VolumeInfo>> ListVolumes();
  Result<VolumeInfo> GetVolumeInfo(const std::string& name);
  // Growing always works; shrinking needs force (data past the end is lost).
  Status ResizeVolume(const std::string& name, uint64_t new_size, bool force);
  // Busy while the volume is open.
  Status DeleteVolume(const std::string& name);
  Result<std::string> ExnodeText(const std::string& name);
  // One shared object per volume name ("VOLUME@SNAPSHOT" opens a snapshot
  // read-only); NotFound for an unknown name.
  Result<std::shared_ptr<Volume>> OpenVolume(const std::string& name);

  // Snapshots of a volume. Creating one first flushes the volume, so it holds
  // every write acknowledged before the call; it is durable on return. A
  // snapshot is exported read-only as "VOLUME@SNAPSHOT" (OpenVolume).
  Status CreateSnapshot(const std::string& volume, const std::string& snapshot);
  Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume);
  // Busy while the snapshot is exported.
  Status DeleteSnapshot(const std::string& volume, const std::string& snapshot);

  Result<PoolStatus> GetPoolStatus();
  Result<CheckReport> Check();

  // Self-healing (storage_repair.cc, storage_scrub.cc, storage_vdevs.cc).
  // Inspect a volume: kQuick checks the layout, kScan every chunk header
  // (rs) or block mapping (others), kFull every stripe's parity (rs) or
  // every block's checksum (others). With repair (rs volumes), blocks on
  // vdevs that are not online are replaced by new blocks chosen through the
  // volume's query on online vdevs, and every bad chunk is rebuilt from
  // parity and rewritten. The volume stays usable throughout.
  Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                            const ProgressFn& progress = {});
  // Verifies every volume (kFull, repairing chunks in place but not moving
  // blocks) and the metadata.
  Result<ScrubReport> Scrub(const ProgressFn& progress = {});
  Result<std::vector<VdevStatus>> ListVdevs();
  // The state persists in pool.conf ("state = offline").
  Status OfflineVdev(const std::string& name);
  Status OnlineVdev(const std::string& name);
  // Creates `new_path` (a new file vdev of the old one's size), puts it in
  // the old vdev's place, and rebuilds there everything the old one held;
  // pool.conf then names the new path and the old device is no longer part
  // of the pool (its labels are erased when it is readable).
  Result<VdevReplaceReport> ReplaceVdev(const std::string& old_name, const std::string& new_path,
                                        const ProgressFn& progress = {});
  // Commits the database: volume mappings and log heads. (Data written but
  // not flushed may still sit in a volume's cache; Flush makes it durable.)
  Status Commit();
  // Starts the background commit thread (every `interval`, and when a volume
  // asks for one). Call after fork in a daemon.
  void StartBackground(std::chrono::milliseconds interval = std::chrono::milliseconds(5000));
  void StopBackground();
  Status Close();

  class Impl;

 private:
  explicit Storage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
