// The thrasher (after ZFS's ztest): random operations against a Storage
// over FaultVdevs, checked against a byte model of every volume and
// snapshot (model.h), with power losses at random points.
//
// Design notes
//  1. Replay: every random choice comes from one std::mt19937_64 seeded with
//     the seed, on one thread, and the Storage's background thread is not
//     started, so a seed replays the same operations. --background MS starts
//     it (commits, cleaning and idle closes, as in a server, racing the
//     operations): that reaches the windows between the steps of an
//     operation, and a seed no longer replays exactly.
//  2. The operations are one table (Kinds()): name, weight and the member
//     that runs it. A kind can be left out by name (--no-NAME), e.g. to
//     keep running past a known bug. A kind that does not apply now (no
//     volume to snapshot, no room in the fault budget) returns false and
//     another is drawn.
//  3. Fault budget: every rs volume survives M bad chunks per stripe, so at
//     most M = the smallest parity among the volumes of the data vdevs may be
//     bad at once: offline, stale (back online or crashed early, until a
//     scrub rewrites what it missed), flipping bits on read, or armed to
//     crash. Of the two metadata vdevs (ditto copies) at most one is bad at
//     a time, in any of these ways, and either may be replaced while the
//     other is good. Offline of a metadata vdev may be refused
//     (InvalidArgument) when a node has no copy on another online vdev;
//     so may offline of a data vdev while a metadata vdev is offline: the
//     slow tier holds metadata too, and a node written while the other
//     metadata vdev was away has its other copies on data vdevs.
//  4. Crashes: an operation that fails while some device is dead, or any
//     operation after which a device is dead (CrashAfterWrites fired), ends
//     in Recover(): every device loses power (all unflushed writes, or a
//     random subset), the Storage is dropped, the pool reopened, and every
//     volume and snapshot must fit the model (Reconcile), then Check must be
//     clean. Any other failure, mismatch or unclean Check is a ThrashFailure.
//  5. States: outside Recover every volume model has one state and nothing
//     is maybe-absent (model.h note 4). An operation that can be cut off by a
//     crash first records its possible outcome in the model, then settles it
//     when the call returns Ok.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/volume/storage.h"
#include "tests/thrash/model.h"
#include "tests/thrash/pool_harness.h"

namespace tessera::thrash {

struct ThrashOptions {
  uint64_t seed = 0;
  double seconds = 60;
  uint64_t max_ops = 0;  // 0: until the time is up
  std::string dir;       // the pool directory (created)
  bool verbose = false;
  std::set<std::string> skip;  // operation kinds left out (note 2)
  // A NoSpace from a pool less than half full (a known log bug,
  // tests/thrash/README.md) ends in a power loss and reopen, not a failure.
  bool crash_on_nospace = false;
  // Non-zero: the Storage's background thread runs, every this many
  // milliseconds (note 1).
  uint64_t background_ms = 0;
  PoolSizes sizes;
};

struct ThrashStats {
  std::map<std::string, uint64_t> ops;  // done, by kind
  uint64_t power_losses = 0;            // whole-pool power cuts (Recover)
  uint64_t device_crashes = 0;          // of them, started by CrashAfterWrites
  uint64_t reopens = 0;                 // pool reopened after a power loss
  uint64_t clean_reopens = 0;           // Close, then Open
  uint64_t volume_verifications = 0;    // whole volumes compared with the model
  uint64_t snapshot_verifications = 0;  // whole snapshots compared
  uint64_t reads_compared = 0;          // single reads compared
  uint64_t checks = 0;                  // clean Check() results
  uint64_t expected_refusals = 0;       // Busy / InvalidArgument that the model predicted
  uint64_t nospace_recoveries = 0;      // NoSpace with room to spare, recovered (crash_on_nospace)
};

// The first mismatch or unexpected error: what() says what differed.
class ThrashFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Thrasher;
struct OpKind {
  const char* name;
  uint32_t weight;
  bool (Thrasher::*run)();
};

class Thrasher {
 public:
  explicit Thrasher(ThrashOptions options);
  ~Thrasher();

  static const std::vector<OpKind>& Kinds();

  // Creates the pool, runs operations until the time (or op count) is up,
  // then closes, reopens and verifies everything once more. Throws
  // ThrashFailure.
  void Run();
  const ThrashStats& stats() const { return stats_; }
  uint64_t op_number() const { return op_; }

 private:
  struct VdevModel {
    std::string name;
    bool data = false;
    bool offline = false;
    bool stale = false;
    bool flipping = false;
    bool armed = false;
    // A replace was cut off by a crash: the slot holds the old device or
    // the new one; the reopen tells which (OpenStorage).
    bool replacing = false;
    uint32_t replacements = 0;
  };
  // Thrown by Expect when a call failed while a device is dead (note 4).
  struct DeviceDied {};

  // thrasher.cc: the loop, helpers, failures.
  uint64_t Rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(uint32_t percent) { return Rand(100) < percent; }
  [[noreturn]] void Fail(const std::string& what);
  template <typename T>
  void Expect(const Result<T>& result, const std::string& what);
  void ExpectRefused(const Status& status, Code code, const std::string& what);
  void Note(const std::string& line);
  VolumeModel* PickVolume(const std::function<bool(const VolumeModel&)>& filter = {});
  std::shared_ptr<Volume> Handle(VolumeModel& v);
  void DropHandles();
  // A range inside [0, size): whole blocks, or any bytes with `unaligned`.
  std::pair<uint64_t, uint64_t> RandomRange(uint64_t size, bool unaligned);
  // Whether a volume of the model is a clone of `volume`'s snapshot
  // `snapshot`, or of any of its snapshots when `snapshot` is empty.
  bool HasClones(const std::string& volume, const std::string& snapshot = "") const;

  // thrash_io.cc
  bool OpWrite();
  bool OpTrim();
  bool OpZero();
  bool OpUnaligned();  // a write, trim or zero of any bytes (head, body, tail)
  bool DoWrite(bool unaligned);
  bool DoTrim(bool unaligned);
  bool DoZero(bool unaligned);
  bool OpRead();
  bool OpFlush();
  bool OpDropHandle();
  bool OpCloseIdle();
  bool OpCommit();

  // thrash_volumes.cc
  bool OpCreateVolume();
  bool OpDeleteVolume();
  bool OpResize();
  bool OpSnapshot();
  bool OpDeleteSnapshot();
  bool OpRollback();
  bool OpClone();
  bool OpFlatten();

  // thrash_faults.cc
  uint32_t MinParity() const;
  uint32_t BadDataVdevs() const;
  static bool Bad(const VdevModel& v) { return v.offline || v.stale || v.flipping || v.armed; }
  bool MaySpoil(const VdevModel& v) const;
  VdevModel* PickVdev(const std::function<bool(const VdevModel&)>& filter);
  bool OpOffline();
  bool OpOnline();
  bool OpReplace();
  bool OpFlipBits();
  bool OpClearFlips();
  bool OpScrub();
  bool OpRebalance();
  bool OpInspect();
  bool OpPowerLoss();
  bool OpPowerLossSubset();
  bool OpArmCrash();
  void Recover(bool subset, const std::string& why);

  // thrash_verify.cc
  bool OpVerify();
  bool OpReopen();
  Bytes ReadAll(const std::string& name, Volume& volume);
  void VerifyAll();
  void Reconcile();
  void CheckClean(const std::string& when);
  void OpenStorage();
  // For failure reports: where else the content `sum` lives or lived.
  std::string WhereFrom(uint64_t sum) const;

  ThrashOptions options_;
  std::mt19937_64 rng_;
  PoolHarness harness_;
  std::unique_ptr<Storage> storage_;
  std::map<std::string, VolumeModel> volumes_;
  std::vector<VdevModel> vdevs_;
  ThrashStats stats_;
  uint64_t op_ = 0;
  uint64_t names_ = 0;           // counter for new volume/snapshot names
  uint64_t armed_at_op_ = 0;     // when the armed crash was set
  std::string current_kind_;
  std::chrono::steady_clock::time_point start_;
};

template <typename T>
void Thrasher::Expect(const Result<T>& result, const std::string& what) {
  if (result) return;
  if (harness_.AnyDead()) throw DeviceDied{};
  std::string space;
  if (result.error().code() == Code::kNoSpace) {
    if (auto status = storage_->GetPoolStatus()) {
      space = fmt::format(" (pool: {} of {} bytes used, {} dead but pinned)", status->used_bytes, status->size_bytes,
                          status->dead_pinned_bytes);
      if (options_.crash_on_nospace && status->used_bytes < status->size_bytes / 2) {
        stats_.nospace_recoveries++;
        Note(fmt::format("{}: {}{}; recovering as from a crash", what, result.error().ToString(), space));
        throw DeviceDied{};
      }
    }
  }
  Fail(fmt::format("{} failed: {}{}", what, result.error().ToString(), space));
}

}  // namespace tessera::thrash
