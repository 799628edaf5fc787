// PoolApi: the management calls on a pool, one interface for the two ways
// a pool is reached (as leveldb's DB is for DBImpl):
//  - Storage (storage.h), a pool this process opened, and
//  - PoolClient (core/control/pool_client.h), a running server reached over
//    its control socket; each call there is one control op (core/control/ops.h).
// The CLI runs a command's code against either (ConnectOrOpen).
//
// Contract
//  1. Both implementations answer a call alike: the same values, and the
//     same error codes and messages (a server sends its Storage's errors
//     back unchanged). pool_api_parity_test.cc runs every call through both.
//  2. Calls that change a volume refuse a snapshot's name "VOL@SNAP"
//     (InvalidArgument); bad input gets a clear error and changes nothing.
//  3. `progress`, when set, receives the progress of a long call; through a
//     server at most a few times a second (OpCall::Progress).
//  4. Close ends the use of the pool: a Storage flushes every open volume
//     and commits, a client drops its connection. Its error is returned;
//     no call may follow it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/util/status.h"
#include "core/volume/storage_types.h"

namespace tessera {

class PoolApi {
 public:
  virtual ~PoolApi() = default;

  virtual Result<VolumeInfo> CreateVolume(const VolumeSpec& spec) = 0;
  virtual Result<std::vector<VolumeInfo>> ListVolumes() = 0;
  virtual Result<VolumeInfo> GetVolumeInfo(const std::string& name) = 0;
  // Growing always works; shrinking needs force (data past the end is lost).
  virtual Status ResizeVolume(const std::string& name, uint64_t new_size, bool force) = 0;
  // Busy while the volume is open; waits for a close in progress.
  virtual Status DeleteVolume(const std::string& name) = 0;
  // Gives the volume `name` the name `new_name`; its snapshots follow it
  // (VOL@SNAP becomes NEW@SNAP). Durable on return. Busy while the volume
  // or a snapshot export of it is open, and while clones depend on its
  // snapshots (the error names them); InvalidArgument for a snapshot's name,
  // a bad `new_name` or one taken. Any refusal changes nothing.
  virtual Status RenameVolume(const std::string& name, const std::string& new_name) = 0;
  virtual Result<std::string> ExnodeText(const std::string& name) = 0;

  // Snapshots of a volume. Creating one first flushes the volume, so it holds
  // every write acknowledged before the call; it is durable on return. A
  // snapshot is exported read-only as "VOLUME@SNAPSHOT" (Storage::OpenVolume).
  virtual Status CreateSnapshot(const std::string& volume, const std::string& snapshot) = 0;
  // Oldest first, with referenced and unique bytes (unique: what deleting it
  // frees, tree nodes and data rows; see storage_space.cc).
  virtual Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume) = 0;
  // Busy while the snapshot is exported, and while a clone depends on it
  // (the error names the clones). Frees what only it held before it
  // returns: its unique nodes, and the data rows it alone pinned.
  virtual Status DeleteSnapshot(const std::string& volume, const std::string& snapshot) = 0;

  // Clones and rollback (core/volume/storage_clones.cc, storage_rollback.cc).
  // A new writable volume whose log reads never-written blocks from the
  // snapshot (its base); same layout and tier as the origin, the snapshot's
  // size. O(1): no data is copied. Durable on return (one commit).
  virtual Result<VolumeInfo> CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                           const std::string& clone) = 0;
  // One step of flattening a clone: copies into the clone's own log the
  // blocks of [offset, offset + max_bytes) it still reads from its origin.
  // Call with the returned offset until done; the step at offset >= size
  // checks that nothing reads from the origin any more, detaches it (exNode
  // without `base`) and commits. Works while the clone is exported.
  // InvalidArgument for a volume that is not a clone; Busy while the clone
  // has snapshots (they still read from the origin).
  virtual Result<FlattenProgress> FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes) = 0;
  // One step of moving a volume's data to another tier (volume_move.cc):
  // new rows come from `tier` from the first step on, and each step moves
  // one row's live data there, or readies the log for that. Call until done;
  // works while the volume is exported, and a move cut off by a crash goes
  // on when called again. Rows that only snapshots need stay where they are
  // (MoveProgress::held_bytes). InvalidArgument for a snapshot's name or a
  // tier with fewer vdevs than a row needs; NoSpace, before anything
  // changes, when the tier lacks room for the volume's data.
  virtual Result<MoveProgress> MoveVolume(const std::string& name, Tier tier) = 0;
  // Restores the volume to any of its snapshots, byte for byte (data and
  // size), in one commit. It takes the volume's exclusive lock: Busy while a
  // writer has the volume open, unless `force`, which revokes the open
  // volume first (its clients' I/O fails with IOError from then on).
  // Snapshots newer than the target are kept, unchanged and readable, as
  // `rbd snap rollback` does, unless `destroy_newer`: then they are deleted
  // first, as `zfs rollback -r` does, once every check has passed (Busy,
  // naming them, while clones depend on one or one is exported); a failure
  // after that leaves them deleted. NotFound for an unknown volume or
  // snapshot, changing nothing.
  virtual Status RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force,
                                  bool destroy_newer = false) = 0;

  // Diffs (core/volume/storage_diff.cc). `from` and `to` are snapshot names of `volume`;
  // an empty `from` diffs from nothing, an empty `to` is the live volume
  // (flushed first). Reads only the tree paths that changed.
  virtual Result<VolumeDiff> DiffVolume(const std::string& volume, const std::string& from, const std::string& to) = 0;
  // Stream files are descriptors the caller opened with its own rights
  // (borrowed, never closed here; a client passes them with the request);
  // no implementation opens a path a caller names. A
  // stream file must be a regular file and none of the pool's own files (a
  // vdev, or anything in the pool directory); otherwise InvalidArgument,
  // before any byte of it is read or written.
  //
  // Writes the diff from `from` (empty: a full stream) to snapshot `to` as a
  // diff stream (core/volume/diff_stream.h) into `stream_fd`, truncated
  // first, and truncated again on failure (no partial stream is left).
  virtual Result<DiffStreamInfo> WriteDiffStream(const std::string& volume, const std::string& from,
                                                 const std::string& to, int stream_fd) = 0;
  // Applies the stream in `stream_fd` (read from its start) to `volume`, then snapshots it as the
  // stream's target (same name and guid). The whole stream is verified
  // before anything changes; the volume must be at the stream's base (its
  // snapshot with the base's guid, and no change since), or, for a full
  // stream, unwritten; it must have the stream's size and not be open.
  // Any failure before the first write changes nothing.
  virtual Result<DiffStreamInfo> ApplyDiffStream(const std::string& volume, int stream_fd) = 0;

  virtual Result<PoolStatus> GetPoolStatus() = 0;
  // The database's check of one commit (Database::Check), with each
  // volume's extents against the blocks its exNodes name (live and
  // snapshots): leaks, blocks named but not owned, unreadable exNodes.
  virtual Result<CheckReport> Check() = 0;
  // I/O counts since the pool was opened (storage_types.h). Cheap: takes no
  // lock that long work holds.
  virtual Result<PoolIoReport> GetIoReport() = 0;

  // Self-healing (core/volume/storage_repair.cc,
  // storage_scrub.cc, storage_vdevs.cc).
  // Inspect a volume: kQuick checks the layout, kScan every chunk header
  // (rs) or block mapping (others), kFull every stripe's parity (rs) or
  // every block's checksum (others). With repair (rs volumes), blocks on
  // vdevs that are not online are replaced by new blocks chosen through the
  // volume's query on online vdevs, and every bad chunk is rebuilt from
  // parity and rewritten. The volume stays usable throughout.
  virtual Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                                    const ProgressFn& progress = {}) = 0;
  // Verifies every volume (kFull, repairing chunks in place but not moving
  // blocks) and the metadata.
  virtual Result<ScrubReport> Scrub(const ProgressFn& progress = {}) = 0;
  virtual Result<std::vector<VdevStatus>> ListVdevs() = 0;
  // The state persists in pool.conf ("state = offline").
  virtual Status OfflineVdev(const std::string& name) = 0;
  // Opens the vdev's device again, then repairs the rows it missed while it
  // was away (core/volume/storage_catch_up.cc): only those, not every row
  // on it. NotFound when the device is still missing.
  virtual Result<VdevOnlineReport> OnlineVdev(const std::string& name) = 0;
  // Creates `new_path` (a new file vdev of the old one's size), puts it in
  // the old vdev's place, and rebuilds there everything the old one held;
  // pool.conf then names the new path and the old device is no longer part
  // of the pool (its labels are erased when it is readable).
  virtual Result<VdevReplaceReport> ReplaceVdev(const std::string& old_name, const std::string& new_path,
                                                const ProgressFn& progress = {}) = 0;
  // Adds a new vdev to the pool (a new file, like pool create's) and
  // returns its status. With the pool in use: rows and tree-node copies may
  // land on it as soon as this returns. Refused with InvalidArgument,
  // changing nothing, for a name or path the pool has, a bad name, an
  // unknown tier or kind, a size below 16M, a full tier, an attribute that
  // pool.conf cannot hold, and a path that exists and is not an empty
  // regular file (the message says when that file is one an interrupted
  // add left: labelled for this pool, named by no pool.conf section).
  // Crash safety: the file is created, labelled and flushed first, then
  // pool.conf is rewritten atomically to name it, then the pool uses it
  // (database.h contract 7); a crash at any point leaves a pool that opens
  // with the vdev usable or without it (its file may stay behind).
  virtual Result<VdevStatus> AddVdev(const VdevSpec& spec) = 0;
  // Grows a file vdev to `new_size` bytes (0: to its file's size, for a
  // file the admin extended) and returns its status; the pool uses the new
  // space at once. InvalidArgument, changing nothing, for a vdev not
  // online, not of kind file or not a regular file, and a size not larger
  // than the vdev (or smaller than its file); NotFound for an unknown
  // vdev. A crash at any point leaves a pool that opens with the vdev at
  // its old size or its new one (core/volume/storage_vdev_grow.cc).
  virtual Result<VdevStatus> GrowVdev(const std::string& name, uint64_t new_size) = 0;
  // One step of removing a vdev from the pool (storage_vdev_remove.cc):
  // from the first step on nothing new is placed on it; each step moves one
  // data row of a volume off it, or writes the tree nodes with a copy there
  // anew elsewhere; the last takes it out of the pool and pool.conf (state
  // removed). Call until done; works while volumes are exported, and a
  // remove cut off by a crash goes on when called again. Refused before
  // anything changes (InvalidArgument): a vdev not online or removed
  // already, snapshots that name rows on it, a volume whose rows need more
  // vdevs than would remain in any tier, fewer vdevs left than the copies
  // of metadata the volumes need; NoSpace when the other vdevs lack room
  // for what it holds. NotFound for an unknown vdev.
  virtual Result<VdevRemoveProgress> RemoveVdev(const std::string& name) = 0;
  // One step of evening out the vdevs of each tier (storage_rebalance.cc):
  // in the tier whose most and least used vdevs differ most, beyond twice
  // the largest row block, one data row moves off the most used vdev to the
  // others. Call until done; works while volumes are exported, and each
  // step is a commit of its own. Rows that snapshots pin stay (blocked
  // when only they could even the tier out).
  virtual Result<RebalanceProgress> RebalancePool() = 0;
  // Commits the database: volume mappings and log heads. (Data written but
  // not flushed may still sit in a volume's cache; Flush makes it durable.)
  virtual Status Commit() = 0;

  // Contract 4.
  virtual Status Close() = 0;
  // True when the calls go to a running server.
  virtual bool remote() const = 0;
};

}  // namespace tessera
