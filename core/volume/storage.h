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
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/pool/config.h"
#include "core/volume/storage_types.h"
#include "core/volume/volume.h"

namespace tessera {

class Vdev;

struct StorageOptions {
  uint64_t metadata_cache_bytes = 256ull << 20;
  uint64_t data_cache_bytes = 256ull << 20;   // per volume: clean + dirty pages
  uint64_t dirty_bytes_max = 64ull << 20;     // per volume: write-back bound
  bool use_io_uring = true;
  bool use_direct = true;
  // Opens the vdevs of a config (create: make them). Default: each by its
  // kind (OpenVdevs, core/pool/vdev_kinds.h). Tests wrap them in FaultVdevs here.
  std::function<Result<std::vector<std::shared_ptr<Vdev>>>(const PoolConfig&, bool create)> open_devices;
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
  // Every volume with its snapshots, for NBD's export list: answered while
  // long work (an apply, a scrub, a replace) runs.
  Result<std::vector<ExportInfo>> ListExports();
  Result<VolumeInfo> GetVolumeInfo(const std::string& name);
  // Growing always works; shrinking needs force (data past the end is lost).
  // Operations that change a volume refuse a snapshot's name "VOL@SNAP"
  // (InvalidArgument) and change nothing.
  Status ResizeVolume(const std::string& name, uint64_t new_size, bool force);
  // Busy while the volume is open; waits for a close in progress.
  Status DeleteVolume(const std::string& name);
  Result<std::string> ExnodeText(const std::string& name);
  // One shared object per volume name ("VOLUME@SNAPSHOT" opens a snapshot
  // read-only); NotFound for an unknown name. Every handle must be dropped
  // before the Storage; the last one dropped leaves the volume idle until
  // CloseIdleVolumes (or a reopen takes it back).
  Result<std::shared_ptr<Volume>> OpenVolume(const std::string& name);

  // Snapshots of a volume. Creating one first flushes the volume, so it holds
  // every write acknowledged before the call; it is durable on return. A
  // snapshot is exported read-only as "VOLUME@SNAPSHOT" (OpenVolume).
  Status CreateSnapshot(const std::string& volume, const std::string& snapshot);
  // Oldest first, with referenced and unique bytes (unique: what deleting it
  // frees, tree nodes and data rows; see storage_space.cc).
  Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume);
  // Busy while the snapshot is exported, and while a clone depends on it
  // (the error names the clones). Frees what only it held before it
  // returns: its unique nodes, and the data rows it alone pinned.
  Status DeleteSnapshot(const std::string& volume, const std::string& snapshot);

  // Clones and rollback (storage_clones.cc, storage_rollback.cc).
  // A new writable volume whose log reads never-written blocks from the
  // snapshot (its base); same layout and tier as the origin, the snapshot's
  // size. O(1): no data is copied. Durable on return (one commit).
  Result<VolumeInfo> CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                   const std::string& clone);
  // One step of flattening a clone: copies into the clone's own log the
  // blocks of [offset, offset + max_bytes) it still reads from its origin.
  // Call with the returned offset until done; the step at offset >= size
  // checks that nothing reads from the origin any more, detaches it (exNode
  // without `base`) and commits. Works while the clone is exported.
  // InvalidArgument for a volume that is not a clone; Busy while the clone
  // has snapshots (they still read from the origin).
  Result<FlattenProgress> FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes);
  // Restores the volume to its newest snapshot, byte for byte (data and
  // size), in one commit. It takes the volume's exclusive lock: Busy while a
  // writer has the volume open, unless `force`, which revokes the open
  // volume first (its clients' I/O fails with IOError from then on).
  // InvalidArgument when newer snapshots exist (the error names them).
  Status RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force);

  // Diffs (storage_diff.cc). `from` and `to` are snapshot names of `volume`;
  // an empty `from` diffs from nothing, an empty `to` is the live volume
  // (flushed first). Reads only the tree paths that changed.
  Result<VolumeDiff> DiffVolume(const std::string& volume, const std::string& from, const std::string& to);
  // Stream files are descriptors the caller opened with its own rights
  // (borrowed, never closed here); Storage opens no path a caller names. A
  // stream file must be a regular file and none of the pool's own files (a
  // vdev, or anything in the pool directory); otherwise InvalidArgument,
  // before any byte of it is read or written.
  //
  // Writes the diff from `from` (empty: a full stream) to snapshot `to` as a
  // diff stream (core/volume/diff_stream.h) into `stream_fd`, truncated
  // first, and truncated again on failure (no partial stream is left).
  Result<DiffStreamInfo> WriteDiffStream(const std::string& volume, const std::string& from,
                                         const std::string& to, int stream_fd);
  // Applies the stream in `stream_fd` (read from its start) to `volume`, then snapshots it as the
  // stream's target (same name and guid). The whole stream is verified
  // before anything changes; the volume must be at the stream's base (its
  // snapshot with the base's guid, and no change since), or, for a full
  // stream, unwritten; it must have the stream's size and not be open.
  // Any failure before the first write changes nothing.
  Result<DiffStreamInfo> ApplyDiffStream(const std::string& volume, int stream_fd);

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
  // Closes the volumes no handle refers to any more (flush, log head, freed
  // rows, commit, lock released). Dropping a volume's last handle does no
  // I/O itself; the background thread, Close and the operations that need
  // the volume closed run this. A server calls it when a client leaves.
  Status CloseIdleVolumes();
  Status Close();

  class Impl;

 private:
  explicit Storage(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
