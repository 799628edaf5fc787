// Storage: rolling a volume back to a snapshot that has newer ones, keeping
// them (as `rbd snap rollback` does). RollbackSnapshot (storage_rollback.cc)
// has checked the names and taken the volume's exclusive lock.
//
// Design notes
//  1. The live tree does not take the snapshot's root (core/db/rollback.cc
//     note 4). Its keys are set to the snapshot's values instead: every
//     mapping ('m') and row counter ('r') key that differs between the two
//     trees (DiffTrees: the cost follows what changed since the snapshot,
//     not the volume's size) is written or deleted, in one commit
//     (Database::EditDataset). For the tree nodes this is an ordinary
//     change: new nodes are born after every snapshot, the replaced ones go
//     on the live dead list or are freed, by the rules of any write.
//  2. Data rows. The snapshot maps only rows born at or before its txg; the
//     newer snapshots map rows born up to theirs. The cleaner pins every row
//     born at or before the newest snapshot (volume_clean.cc note 5), so
//     all of them exist, and the live exNode names them all. It stays: the
//     rolled-back volume and every newer snapshot read their data through
//     it (storage_snapshots.cc note 3). Only the log's size comes from the
//     snapshot's exNode. Rows born after the newest snapshot now hold no
//     live block (the mapping is the snapshot's), so the cleaner frees them
//     as usual; the pinned ones wait for the snapshots, as before.
//  3. Row counters come from the snapshot with the mapping: it counted
//     exactly its own mappings per row, and every row it counted still
//     exists (note 2). A row it has no counter for is at zero. A row that a
//     repair moved to new blocks since keeps its offset in the data
//     segment, and the live exNode names its new blocks (no RowsAsNow
//     needed, unlike storage_rollback.cc note 6).
//  4. The log head stays where it is (every row beyond it may hold newer
//     snapshots' data, so the log must not go back), with a new epoch above
//     every one the volume used: batches beyond the recorded head (of a
//     revoked writer) never replay over the rolled-back mapping (LogSegment
//     contract 3), and the next writes land beyond all the data any
//     snapshot maps.
//  5. Snapshots stay as they were: their trees are not touched, their rows
//     stay pinned. The head of each snapshot is at or below the head of any
//     newer one (the live head never goes back while newer snapshots
//     exist; storage_rollback.cc goes back only to the newest), which
//     rollback to the newest relies on.
//  6. Memory: the diff is read and applied a chunk of kChangesPerChunk
//     keys at a time, each chunk's diff starting after the last key
//     applied, all within the one edit (and so under the commit lock).
//     What grows with the change is the dirty part of the live tree until
//     that commit, as for any write of that size.
#include <optional>
#include <string>
#include <vector>

#include "core/exnode/exnode.h"
#include "core/segment/log_format.h"
#include "core/tree/tree_diff.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

// The live exNode text with the log's size set to the snapshot's (note 2).
Result<std::string> LiveExnodeAtSize(const std::string& live_text, const std::string& snapshot_text) {
  Exnode live = TRY(ParseExnode(live_text));
  const Exnode snap = TRY(ParseExnode(snapshot_text));
  std::optional<uint64_t> size;
  for (const ExnodeSegment& s : snap.segments) {
    if (s.type == SegmentType::kLog) size = TRY(s.GetU64("size"));
  }
  if (!size) return Err(Code::kCorruption, "the snapshot's exNode has no log segment");
  for (ExnodeSegment& s : live.segments) {
    if (s.type != SegmentType::kLog) continue;
    for (KeyValue& kv : s.params) {
      if (kv.key == "size") kv.value = std::to_string(*size);
    }
    return SerializeExnode(live);
  }
  return Err(Code::kCorruption, "the live exNode has no log segment");
}

// Changes read from the diff before they are applied (note 6).
constexpr size_t kChangesPerChunk = 1024;

struct KeyChange {
  std::string key;
  std::optional<std::string> value;  // the snapshot's; nullopt: delete
};

}  // namespace

Status Storage::Impl::RollbackKeepingNewerLocked(const std::string& volume, const std::string& snapshot,
                                                 Dataset* dataset) {
  Tree& live = dataset->tree();
  std::unique_ptr<Tree> snap = TRY(db_->OpenSnapshot(volume, snapshot));
  const std::string text = TRY(LiveExnodeAtSize(TRY(LoadExnodeText(live)), TRY(LoadExnodeText(*snap))));
  auto head_of = [](Tree& tree) -> Result<LogHead> {
    auto value = TRY(tree.Get(kLogHeadKey));
    return value ? DecodeLogHead(*value) : Result<LogHead>(LogHead{});
  };
  LogHead head = TRY(head_of(live));
  head.epoch = std::max(head.epoch, TRY(head_of(*snap)).epoch) + 1;  // note 4

  // Note 1, a chunk of changes at a time (memory: note 6). Nobody else
  // writes the live tree meanwhile (the exclusive lock).
  TRY_STATUS(db_->EditDataset(volume, [&](Tree& tree) -> Status {
    const std::pair<std::string_view, std::string_view> ranges[] = {{"m", "n"}, {"r", "s"}};
    std::vector<KeyChange> changes;
    for (const auto& [lo, hi] : ranges) {
      std::string from(lo);
      for (bool more = true; more;) {
        changes.clear();
        TRY(DiffTrees(*snap, tree, from, hi,
                      [&](std::string_view key, std::optional<std::string_view> old_value,
                          std::optional<std::string_view>) {
                        changes.push_back(KeyChange{.key = std::string(key),
                                                    .value = old_value ? std::optional<std::string>(*old_value)
                                                                       : std::nullopt});
                        return changes.size() < kChangesPerChunk;
                      }));
        more = changes.size() == kChangesPerChunk;
        if (more) from = changes.back().key + '\0';  // the next key after the last one
        for (const KeyChange& c : changes) {
          TRY_STATUS(c.value ? tree.Insert(c.key, *c.value) : tree.Delete(c.key));
        }
      }
    }
    TRY_STATUS(tree.Insert(kLogHeadKey, EncodeLogHead(head)));
    return StoreExnodeText(tree, text);
  }));
  return Ok();
}

}  // namespace tessera
