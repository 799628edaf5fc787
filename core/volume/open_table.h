// OpenTable: the volume objects of one Storage, by name, and their lifecycle.
// Internal to core/volume.
//
//              Add                 last handle dropped           Finish
//   (none) ────────> open ───────────────────────────> idle ──────────> closing ──> (none)
//                     ^                                 │     (claimed)   │ Close() done
//                     └───────── Acquire revives ───────┘                 v
//                                                            lock released, entry gone
//
// Contract
//  1. One object per name. Users hold a handle (a shared_ptr that keeps the
//     object alive); every user of a name shares the same handle.
//  2. Dropping the last handle does no I/O and takes no lock but the table's
//     own: the entry only becomes idle. The close (VolumeImpl::Close: flush,
//     record the log head, free rows, commit, release the volume's lock) is
//     explicit work, run by Finish or FinishIdle in a thread that holds no
//     lock of the table or the database.
//  3. Acquire of an idle entry revives it (a new handle, the same object,
//     nothing closed); Acquire of a closing entry waits until the close is
//     done and returns null, so the caller builds a new object from what the
//     close committed. Never are two objects of one name alive in the table.
//  4. Objects are destroyed outside the table's lock (their destructors may
//     drop handles of other entries, e.g. a clone's base) and do no I/O.
//  5. A handle shares ownership of its object, so a handle dropped after
//     its entry is gone (forgotten, or the table destroyed) only releases
//     the object.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace tessera {

class VolumeImpl;

class OpenTable {
 public:
  OpenTable() = default;
  OpenTable(const OpenTable&) = delete;
  OpenTable& operator=(const OpenTable&) = delete;

  // The handle of `name`: its live one, or a new one for an idle object.
  // Waits for a close in progress and then returns null, as for an unknown
  // name (contract 3).
  std::shared_ptr<VolumeImpl> Acquire(const std::string& name);
  // True while some user holds a handle of `name` (idle and closing
  // entries are not in use).
  bool InUse(const std::string& name);
  // Enters a new object under a name that has none (Acquire returned null)
  // and returns its first handle.
  std::shared_ptr<VolumeImpl> Add(const std::string& name, std::shared_ptr<VolumeImpl> object);
  // Closes `name` if it is idle; waits if another thread closes it; Ok at
  // once when it is open or unknown. Returns the close's status.
  Status Finish(const std::string& name);
  // Finish for every idle entry; the first error.
  Status FinishIdle();
  // Removes the entry without closing it (a revoked volume); its object
  // lives on for the handles still held.
  void Forget(const std::string& name);
  // Every object in the table (open, idle or closing), for commits and
  // flushes; the caller drops them outside any table lock.
  std::vector<std::shared_ptr<VolumeImpl>> Objects();
  // Names of the entries (open, idle or closing).
  std::vector<std::string> Names();

 private:
  struct Entry {
    std::shared_ptr<VolumeImpl> object;
    std::weak_ptr<VolumeImpl> handle;
    bool closing = false;
  };

  // A new handle of `entry`'s object: its own control block holding a
  // reference to the object, so that its expiry is the entry's idleness.
  static std::shared_ptr<VolumeImpl> NewHandle(Entry& entry);
  // Claims and runs the close of the idle entry `name`; `lock` is held on
  // entry and on return, released while the close runs.
  Status CloseLocked(std::unique_lock<std::mutex>& lock, const std::string& name);
  // Takes `name` out of the table and drops its object outside the lock.
  void EraseLocked(std::unique_lock<std::mutex>& lock, const std::string& name);

  std::mutex mu_;
  std::condition_variable closed_;  // an entry finished closing
  std::map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
};

}  // namespace tessera
