// Missed writes: the rows each vdev must catch up on when it is back.
//
// Design notes
//  1. A note is a root-tree record ('m' vdev dataset row -> note; root_keys.h).
//     Writers note from under their own locks (a degraded stripe write, a
//     flush that failed on a vdev), so NoteMissedWrite only adds to
//     missed_pending_ under missed_mu_; every commit moves the pending notes
//     into the root tree first (StoreMissedWritesLocked, under mu_), and they
//     become durable with it.
//  2. Each note carries a number, unique in this process (the first drawn at
//     random). A catch-up lists the notes, repairs their rows, then forgets
//     only the notes whose number is still the one it listed: a row that
//     missed another write while it was repaired keeps its new note.
//  3. Notes of a dataset that no longer exists are forgotten by the next
//     catch-up (dataset ids are never reused); a vdev rebuilt whole by a
//     replace, or removed, forgets all of its notes.
#include "core/db/database.h"
#include "core/db/root_scan.h"

namespace tessera {

void Database::NoteMissedWrite(uint64_t vdev, uint64_t dataset_id, uint64_t row) {
  std::lock_guard lock(missed_mu_);
  missed_pending_[MissedKey(vdev, dataset_id, row)] = missed_next_note_++;
}

Status Database::StoreMissedWritesLocked() {
  std::map<std::string, uint64_t> pending;
  {
    std::lock_guard lock(missed_mu_);
    pending.swap(missed_pending_);
  }
  for (const auto& [key, note] : pending) TRY_STATUS(root_tree_->Insert(key, EncodeMissedNote(note)));
  return Ok();
}

Result<std::vector<Database::MissedWrite>> Database::MissedWritesOn(uint64_t vdev) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  std::map<std::string, uint64_t> notes;  // by the key past the prefix: dataset, row
  const std::string prefix = MissedPrefix(vdev);
  TRY_STATUS(ScanRecords(*root_tree_, prefix, DecodeMissedNote, OnUndecodable::Stop(),
                         [&](std::string_view rest, uint64_t note) { notes[std::string(rest)] = note; }));
  {
    std::lock_guard missed(missed_mu_);
    for (auto it = missed_pending_.lower_bound(prefix); it != missed_pending_.end() && it->first.starts_with(prefix);
         ++it) {
      notes[it->first.substr(prefix.size())] = it->second;
    }
  }
  std::vector<MissedWrite> out;
  for (const auto& [rest, note] : notes) {
    if (rest.size() != 16) {
      return Err(Code::kCorruption, "a missed-write key of vdev {:#x} has {} bytes", vdev,
                 rest.size() + prefix.size());
    }
    out.push_back(MissedWrite{.dataset_id = ReadBigEndian(rest.substr(0, 8)),
                              .row = ReadBigEndian(rest.substr(8)),
                              .note = note});
  }
  return out;
}

Status Database::ForgetMissedWrites(uint64_t vdev, const std::vector<MissedWrite>& writes) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  for (const MissedWrite& w : writes) {
    const std::string key = MissedKey(vdev, w.dataset_id, w.row);
    bool listed_pending = false;  // the listing took the pending note, which supersedes a stored one
    {
      std::lock_guard missed(missed_mu_);
      auto pending = missed_pending_.find(key);
      if (pending != missed_pending_.end()) {
        if (pending->second != w.note) continue;  // noted again since (design note 2)
        missed_pending_.erase(pending);
        listed_pending = true;
      }
    }
    auto stored = TRY(root_tree_->Get(key));
    if (!stored) continue;
    if (!listed_pending && TRY(DecodeMissedNote(*stored)) != w.note) continue;  // stored again since
    TRY_STATUS(root_tree_->Delete(key));
  }
  return Ok();
}

Status Database::ForgetMissedWritesOn(uint64_t vdev) {
  std::vector<MissedWrite> all = TRY(MissedWritesOn(vdev));
  return ForgetMissedWrites(vdev, all);
}

}  // namespace tessera
