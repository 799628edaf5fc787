// The lock manager: named resources (volumes, the database) locked by
// transactions under two-phase locking, with immediate deadlock detection.
//
// Modes (EyeDB's storage manager):
//   kReadSharedWriteShared   holders read and write; others may too
//   kReadSharedWriteExclusive  holder writes; others may only read
//   kReadExclusiveWriteExclusive  no one else at all
//   kRead                    read only (e.g. a snapshot export)
// and kDatabaseExclusive, taken on the database itself, which excludes every
// other transaction's lock on anything.
//
// Contract
//  1. Compatibility between two different transactions' locks on one
//     resource is the matrix in lock_manager.cc; a transaction never
//     conflicts with itself and may upgrade (re-acquire in another mode).
//  2. Two-phase: once a transaction releases a lock it may not acquire
//     another (InvalidArgument), until EndTransaction.
//  3. A request that would wait on a transaction that (transitively) waits on
//     the requester is refused at once with Busy ("deadlock"), before it
//     waits: deadlocks are never formed.
//  4. Acquire waits up to `timeout` (zero: no wait) and then fails with Busy
//     naming the holder. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "core/util/status.h"

namespace tessera {

enum class LockMode {
  kRead,
  kReadSharedWriteShared,
  kReadSharedWriteExclusive,
  kReadExclusiveWriteExclusive,
  kDatabaseExclusive,
};

std::string_view LockModeName(LockMode mode);
bool LockModesCompatible(LockMode held, LockMode wanted);

using TxnId = uint64_t;

class LockManager {
 public:
  // A new transaction id; `label` names it in messages ("export vol0 (pid 12)").
  TxnId BeginTransaction(std::string label);
  // Releases every lock of `txn` and forgets it.
  void EndTransaction(TxnId txn);

  Status Acquire(TxnId txn, const std::string& resource, LockMode mode,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // Enters the shrinking phase of `txn`.
  Status Release(TxnId txn, const std::string& resource);

  // True while `txn` waits in Acquire.
  bool IsWaiting(TxnId txn) const;
  // Holders of a resource, for status output: label -> mode.
  std::map<std::string, LockMode> Holders(const std::string& resource) const;

 private:
  struct Txn {
    std::string label;
    bool shrinking = false;
    std::map<std::string, LockMode> held;
    std::set<TxnId> waits_for;
  };
  // Transactions other than `txn` whose locks conflict with the request.
  std::set<TxnId> ConflictsLocked(TxnId txn, const std::string& resource, LockMode mode) const;
  bool ReachesLocked(TxnId from, TxnId target, std::set<TxnId>& seen) const;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  TxnId next_ = 1;              // GUARDED_BY(mu_)
  std::map<TxnId, Txn> txns_;   // GUARDED_BY(mu_)
};

// The resource name that kDatabaseExclusive locks.
inline constexpr std::string_view kDatabaseResource = "/";

}  // namespace tessera
