// Lock manager.
//
// Design notes
//  1. Compatibility of a held lock (rows) with a wanted one (columns), for two
//     different transactions:
//
//                 R    RSWS  RSWX  RXWX  DBX
//       R         y    y     y     n     n
//       RSWS      y    y     n     n     n
//       RSWX      y    n     n     n     n
//       RXWX      n    n     n     n     n
//       DBX       n    n     n     n     n
//
//     kDatabaseExclusive conflicts with any lock of another transaction on
//     any resource (it is checked against every resource, not just "/").
//  2. Waits-for edges exist only while a request waits; a request first
//     computes its conflicts, and if any conflicting transaction already
//     reaches the requester through waits-for edges, adding the edge would
//     close a cycle: the request fails with Busy instead (immediate detection).
#include "core/db/lock_manager.h"

namespace tessera {

std::string_view LockModeName(LockMode mode) {
  switch (mode) {
    case LockMode::kRead: return "read";
    case LockMode::kReadSharedWriteShared: return "read-shared/write-shared";
    case LockMode::kReadSharedWriteExclusive: return "read-shared/write-exclusive";
    case LockMode::kReadExclusiveWriteExclusive: return "read-exclusive/write-exclusive";
    case LockMode::kDatabaseExclusive: return "database-exclusive";
  }
  return "?";
}

bool LockModesCompatible(LockMode held, LockMode wanted) {
  // Rows: held; columns: wanted; order R, RSWS, RSWX, RXWX, DBX (note 1).
  static constexpr bool kMatrix[5][5] = {
      {true, true, true, false, false},
      {true, true, false, false, false},
      {true, false, false, false, false},
      {false, false, false, false, false},
      {false, false, false, false, false},
  };
  return kMatrix[static_cast<int>(held)][static_cast<int>(wanted)];
}

TxnId LockManager::BeginTransaction(std::string label) {
  std::lock_guard lock(mu_);
  TxnId id = next_++;
  txns_[id].label = std::move(label);
  return id;
}

void LockManager::EndTransaction(TxnId txn) {
  {
    std::lock_guard lock(mu_);
    txns_.erase(txn);
  }
  changed_.notify_all();
}

std::set<TxnId> LockManager::ConflictsLocked(TxnId txn, const std::string& resource, LockMode mode) const {
  std::set<TxnId> out;
  for (const auto& [id, t] : txns_) {
    if (id == txn) continue;
    for (const auto& [res, held] : t.held) {
      bool conflict = held == LockMode::kDatabaseExclusive || mode == LockMode::kDatabaseExclusive ||
                      (res == resource && !LockModesCompatible(held, mode));
      if (conflict) out.insert(id);
    }
  }
  return out;
}

bool LockManager::ReachesLocked(TxnId from, TxnId target, std::set<TxnId>& seen) const {
  if (from == target) return true;
  if (!seen.insert(from).second) return false;
  auto it = txns_.find(from);
  if (it == txns_.end()) return false;
  for (TxnId next : it->second.waits_for) {
    if (ReachesLocked(next, target, seen)) return true;
  }
  return false;
}

Status LockManager::Acquire(TxnId txn, const std::string& resource, LockMode mode,
                            std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto it = txns_.find(txn);
    if (it == txns_.end()) return Err(Code::kInvalidArgument, "transaction {} is not active", txn);
    Txn& me = it->second;
    if (me.shrinking) {
      return Err(Code::kInvalidArgument, "{}: two-phase locking forbids a lock after an unlock", me.label);
    }
    std::set<TxnId> conflicts = ConflictsLocked(txn, resource, mode);
    if (conflicts.empty()) {
      me.waits_for.clear();
      me.held[resource] = mode;
      return Ok();
    }
    for (TxnId other : conflicts) {
      std::set<TxnId> seen;
      if (ReachesLocked(other, txn, seen)) {
        me.waits_for.clear();
        changed_.notify_all();
        return Err(Code::kBusy, "{}: deadlock: {} lock on '{}' would wait on {}, which waits on it",
                   me.label, LockModeName(mode), resource, txns_.at(other).label);
      }
    }
    TxnId holder = *conflicts.begin();
    if (std::chrono::steady_clock::now() >= deadline) {
      me.waits_for.clear();
      const Txn& h = txns_.at(holder);
      std::string held_mode = h.held.count(resource) ? std::string(LockModeName(h.held.at(resource)))
                                                     : std::string("database-exclusive");
      return Err(Code::kBusy, "'{}' is locked ({}) by {}", resource, held_mode, h.label);
    }
    me.waits_for = conflicts;
    changed_.wait_until(lock, deadline);
  }
}

Status LockManager::Release(TxnId txn, const std::string& resource) {
  {
    std::lock_guard lock(mu_);
    auto it = txns_.find(txn);
    if (it == txns_.end()) return Err(Code::kInvalidArgument, "transaction {} is not active", txn);
    if (it->second.held.erase(resource) == 0) {
      return Err(Code::kNotFound, "{} holds no lock on '{}'", it->second.label, resource);
    }
    it->second.shrinking = true;
  }
  changed_.notify_all();
  return Ok();
}

bool LockManager::IsWaiting(TxnId txn) const {
  std::lock_guard lock(mu_);
  auto it = txns_.find(txn);
  return it != txns_.end() && !it->second.waits_for.empty();
}

std::map<std::string, LockMode> LockManager::Holders(const std::string& resource) const {
  std::lock_guard lock(mu_);
  std::map<std::string, LockMode> out;
  for (const auto& [id, t] : txns_) {
    auto it = t.held.find(resource);
    if (it != t.held.end()) out[t.label] = it->second;
  }
  return out;
}

}  // namespace tessera
