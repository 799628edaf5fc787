// The pool's lease: one opener at a time, also across hosts, in the spirit
// of ZFS's multihost protection. A pool whose metadata vdevs are reachable
// from several machines (nbd depots, shared disks) could otherwise be
// opened by two of them, and two writers of one pool corrupt it.
//
// The record (label.h: LeaseRecord) lives in block 0 of every vdev of the
// fastest tier (pool.h contract 8). While the pool is open, its holder
// renews it every interval (a new sequence); a clean close marks it
// released.
//
// Acquire, on the newest record of the labels (the highest sequence):
//
//   none, or released ---------------------------------------> take
//   held, this host, its pid alive (for our own pid: its holder
//     is a lease of this process that has not ended) --------> Busy
//   held, this host, its pid gone (or ours, from an open of this
//     process that ended without releasing) -----------------> take
//   held, another host --> watch 4 x its interval + 1 x ours:
//        renewed meanwhile ----------------------------------> Busy
//        not renewed -------------------------------------> take (warn)
//
// Contract
//  1. Acquire decides and writes nothing, so a refused open, or one that
//     fails afterwards, changes nothing. Take then writes the record: the
//     next sequence, a holder id new to this open, this host's id, pid and
//     name (pool.WriteLease); the caller takes before it writes anything
//     else.
//  2. Every interval the holder reads the labels: a held record of another
//     holder with a higher sequence means another host took the pool (it
//     judged this one dead). The lease is then lost: the pool is fenced
//     (every later write fails, pool.h contract 8), an error is logged,
//     and renewals stop. Otherwise it writes the next sequence.
//  3. Renewals run from Start (the caller starts them once the database
//     over the pool is open; a server that forks, in the process that
//     serves) until Release. Start in another process than Take's (after
//     a fork) renews at once with its pid, so the record names the process
//     that renews it. Release (also the destructor of a started lease)
//     stops them and, unless the lease was lost, writes the record
//     released; the next opener takes it at once. A lease never started
//     touches the pool no more (the open failed, and the pool may be
//     gone): its record stays held, for a pid that ends with this open or
//     is this process's own.
//  4. The host id is a hash of TESSERA_HOST_ID when set, else of
//     /etc/machine-id and the kernel's boot id: a reboot is another host,
//     whose pids mean nothing here. Hosts are told apart by it, never by
//     comparing clocks: only the holder's own renewals are watched.
//  5. Two hosts that open a released pool at the same moment both take it;
//     each sees the other's higher sequence at its next renewal, and both
//     are fenced (contract 2). Nothing checks faster than one interval.
//  6. A holder cut off from its fastest tier's vdevs can neither renew nor
//     learn that it was taken over, so it stops writing first: from Start
//     on, the pool's lease deadline (pool.h contract 8) is kFenceIntervals
//     intervals after the last renewal that was written began, and a
//     write past it fences the pool. Another host watches kWatchIntervals
//     (more) of the holder's intervals plus one of its own before taking
//     over, so the holder has stopped by then, with an interval to spare
//     for writes in flight. A renewal that takes kFenceIntervals - 1
//     intervals or more (a vdev that answers that slowly) fences the holder
//     too, wrongly but safely.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/pool/pool.h"
#include "core/util/status.h"

namespace tessera {

struct LeaseOptions {
  std::chrono::milliseconds interval{1000};
  // Empty: TESSERA_HOST_ID, else machine id and boot id (contract 4).
  std::string host_identity;
  // Whether the Storage starts renewing at open; false for a server that
  // forks after opening (nbdkit), which starts them in the serving process.
  bool start_at_open = true;
};

class PoolLease {
 public:
  // Contract 6.
  static constexpr int kFenceIntervals = 3;
  static constexpr int kWatchIntervals = 4;

  static Result<std::unique_ptr<PoolLease>> Acquire(Pool& pool, const LeaseOptions& options);
  ~PoolLease();
  PoolLease(const PoolLease&) = delete;
  PoolLease& operator=(const PoolLease&) = delete;

  // Contract 1.
  Status Take();
  // Contract 3. Start once, after Take; Release is idempotent.
  void Start();
  Status Release();
  bool lost() const;

 private:
  PoolLease(Pool& pool, LeaseRecord mine, std::chrono::milliseconds interval);
  void RenewLoop();
  // Writes `next` (mu_ not held); on success it becomes mine_, and the
  // pool's deadline moves (contract 6).
  Status Renew(LeaseRecord next);

  Pool& pool_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;   // GUARDED_BY(mu_)
  bool started_ = false;    // GUARDED_BY(mu_)
  bool released_ = false;   // GUARDED_BY(mu_)
  bool lost_ = false;       // GUARDED_BY(mu_)
  LeaseRecord mine_;        // GUARDED_BY(mu_)
  // When the last renewal that was written began (Take's write first).
  std::chrono::steady_clock::time_point renewed_at_;  // GUARDED_BY(mu_)
  std::thread renewer_;
};

// The host id of contract 4, for `identity` (empty: this machine's).
uint64_t LeaseHostId(const std::string& identity);

}  // namespace tessera
