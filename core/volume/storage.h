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
// Contract (and PoolApi's, pool_api.h)
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
#include "core/pool/pool_lease.h"
#include "core/volume/pool_api.h"
#include "core/volume/storage_types.h"
#include "core/volume/volume.h"

namespace tessera {

class Vdev;

// Automatic tiering's thresholds; pool.conf turns it on and sets its limit
// and half-life (core/volume/storage_tiering.cc).
struct TieringOptions {
  double hot = 2.0;    // a row this hot (RowHeat contract 1) moves up a tier
  double cold = 0.05;  // a row below this, idle for cold_after half-lives, moves down
  uint32_t cold_after = 4;
  std::chrono::milliseconds interval{1000};  // between the background thread's steps
  std::function<uint64_t()> clock;           // the heat's clock in ns; default monotonic
};

struct StorageOptions {
  // The server's memory for caches, shared by the tree's node cache (a
  // quarter at most) and every volume's page cache (the rest, through one
  // MemoryBudget). 0: pool.conf's `memory`, else DefaultMemoryBudgetBytes().
  // The three bounds below are each capped by it.
  uint64_t memory_bytes = 0;
  uint64_t metadata_cache_bytes = 256ull << 20;
  uint64_t data_cache_bytes = 256ull << 20;   // per volume: clean + dirty pages
  uint64_t dirty_bytes_max = 64ull << 20;     // per volume: write-back bound
  bool use_io_uring = true;
  bool use_direct = true;
  // Create (and vdev add, from its spec): take block devices whatever they
  // hold (VdevOpenOptions::force; `--force`).
  bool force_devices = false;
  // Opens the vdevs of a config (create: make them). Default: each by its
  // kind (OpenVdevs, core/pool/vdev_kinds.h). Tests wrap them in FaultVdevs here.
  std::function<Result<std::vector<std::shared_ptr<Vdev>>>(const PoolConfig&, bool create)> open_devices;
  TieringOptions tiering;
  // The pool's lease (core/pool/pool_lease.h): taken at open and create,
  // renewed while open, released at close.
  LeaseOptions lease;
  // How often a server's background work catches up the online vdevs that
  // missed writes (core/volume/storage_catch_up.cc, design note 6).
  std::chrono::milliseconds catch_up_interval{10000};
};

// Storage is the PoolApi of a pool this process opened (contract above),
// plus what only the process that holds the pool does: open volumes for
// I/O, list exports, run the background commits. Storage::Impl
// (storage_impl.h) implements it.
class Storage : public PoolApi {
 public:
  // Writes DIR/pool.conf from `config` (vdev paths relative to DIR unless
  // absolute), creates the vdev files, the pool and an empty database.
  static Result<std::unique_ptr<Storage>> Create(const std::string& dir, const PoolConfig& config,
                                                 StorageOptions options = {});
  static Result<std::unique_ptr<Storage>> Open(const std::string& dir, StorageOptions options = {});
  // A config of `count` fastest-tier file vdevs DIR/vdevK.img of `size` bytes each.
  static PoolConfig DefaultConfig(const std::string& dir, uint32_t count, uint64_t size);

  virtual const std::string& dir() const = 0;
  bool remote() const final { return false; }

  // Every volume with its snapshots, for NBD's export list: answered while
  // long work (an apply, a scrub, a replace) runs.
  virtual Result<std::vector<ExportInfo>> ListExports() = 0;
  // One shared object per volume name ("VOLUME@SNAPSHOT" opens a snapshot
  // read-only); NotFound for an unknown name. Every handle must be dropped
  // before the Storage; the last one dropped leaves the volume idle until
  // CloseIdleVolumes (or a reopen takes it back).
  virtual Result<std::shared_ptr<Volume>> OpenVolume(const std::string& name) = 0;
  // Starts the background commit thread (every `interval`, and when a volume
  // asks for one). Call after fork in a daemon.
  virtual void StartBackground(std::chrono::milliseconds interval = std::chrono::milliseconds(5000)) = 0;
  virtual void StopBackground() = 0;
  // Closes the volumes no handle refers to any more (flush, log head, freed
  // rows, commit, lock released). Dropping a volume's last handle does no
  // I/O itself; the background thread, Close and the operations that need
  // the volume closed run this. A server calls it when a client leaves.
  virtual Status CloseIdleVolumes() = 0;
  // Automatic tiering's step (storage_tiering.cc): moves at most one data
  // row of an open volume a tier up (hot) or down (cold); what it moved.
  // The background thread runs it every TieringOptions::interval when
  // pool.conf says `tiering = on`; otherwise it moves nothing.
  virtual Result<TieringMove> TierStep() = 0;

  class Impl;
};

}  // namespace tessera
