// VolumeImpl: the Volume operations over the segment stack, and row
// allocation through the resource query.
//
// Design notes
//  1. The Volume methods are thin: range checks happen in the segments.
//  2. Zero always unmaps (see volume.h); both Trim and Zero honour FUA by
//     flushing afterwards.
//  3. A new row's blocks are recorded as dataset extents and the exNode is
//     saved before the commit that makes them durable; the log writes into a
//     row only after that commit (LogSegment contract 7).
//  4. New rows go to online vdevs when the query can be met with them alone;
//     otherwise (a degraded pool) the row also uses vdevs that are not
//     online, so a volume with redundancy keeps taking writes (its writes to
//     those blocks fail and are rebuilt later by inspect --repair or vdev
//     replace), and one without redundancy fails the write, as it must.
//  4a. A vdev a replace is copying (RowPlacement) counts as not online for
//     that choice, and a volume without redundancy never gets a row there:
//     its writes would land behind the copy and be lost with the old
//     device. With no other vdev for it, the new row fails (Busy). An rs
//     volume may still use it; the replace rebuilds such rows from parity.
//  4b. A chosen vdev without room for its block is left out and the choice
//     made again, so a tier is full only when no choice of its vdevs has
//     room. Then the row goes to the nearest tier that has room (the slower
//     first of two as near: a spill should not take the space of the volumes
//     that chose a faster tier), and a warning says so once per open. The
//     volume's tier stays what it was: volume info shows the rows per tier,
//     and `volume move` brings them back. A move itself never spills
//     (strict_tier_): it would move rows off the tier it is filling.
//  4c. A draining vdev (vdev remove, slot_vdev.h) takes no new row at all,
//     whatever the volume's redundancy: every row placed there would be one
//     more to move off it. Nor, of course, does a removed one.
//  4d. A row of a volume with parity M has at most M devices that are not
//     online or are being copied: those chunks are missing now or once the
//     replace ends (a chunk written to the old device behind the copy is
//     rebuilt from the others), and with more than M missing the row's
//     acknowledged writes could not be rebuilt. The fewest such devices
//     are taken; when even M are not enough, the new row fails (Busy) and
//     the write with it, until vdevs are back or the replace ends. (The
//     thrasher, with its background thread, found a replace losing rows
//     that the cleaner placed on the copied vdev beside two offline ones.)
//  5. Closing is explicit (Close, run by OpenTable): flush, record the log
//     head, free what the cleaner can, commit, then retire the object and
//     release the lock. A retired object (closed or revoked) never touches
//     the dataset again, though a background cleaner or a commit's hook may
//     still hold it: the next object of the volume owns the dataset.
//     Retiring takes grow_mu_ (no cleaner runs) and state_mu_ (no hook is
//     recording this head). The destructor does no I/O and takes no lock
//     but the lock manager's: it may run wherever the last reference drops,
//     even inside a commit.
#include "core/volume/volume_impl.h"

#include <algorithm>
#include <set>

#include "core/exnode/query.h"
#include "core/exnode/exnode.h"
#include "core/util/log.h"
#include "core/volume/row_query.h"
#include "core/volume/storage_core.h"

namespace tessera {

VolumeImpl::VolumeImpl(StorageCore* core, Database* db) : core_(core), db_(db) {}

VolumeImpl::~VolumeImpl() { ReleaseLock(); }

Status VolumeImpl::Close() {
  Status status = Ok();
  if (parts_.top && !parts_.read_only && !revoked_) {
    status = parts_.top->Flush();
    // The commit records where the log ends, so reopening replays nothing.
    if (status) status = parts_.log->RecordHead();
    if (status) status = Clean(CleanMode::kFreeOnly);
    if (status) status = core_->CommitAll();
    if (!status) {
      status = Err(status.error().WithContext(fmt::format("closing volume '{}'", parts_.name)));
      Log(LogLevel::kError, "{}", status.error().ToString());
    }
  }
  // Retired before the lock goes (note 5): a cleaner or a commit that still
  // holds this object then leaves the dataset to the next one.
  {
    std::lock_guard grow(grow_mu_);
    std::lock_guard state(state_mu_);
    closed_ = true;
  }
  ReleaseLock();
  return status;
}

void VolumeImpl::Attach(Parts parts) {
  parts_ = std::move(parts);
  if (parts_.read_only || parts_.dataset == nullptr) return;
  parts_.data->SetMissedWriteHook([db = db_, id = parts_.dataset->id()](Tier tier, uint32_t vdev, uint64_t row) {
    db->NoteMissedWrite(Database::MissedVdev(tier, vdev), id, row);
  });
}

Status VolumeImpl::RecordHeadIfOwner() {
  std::lock_guard state(state_mu_);
  if (parts_.read_only || retired()) return Ok();
  return parts_.log->RecordHead();
}

void VolumeImpl::SetLock(LockManager* locks, TxnId txn) {
  locks_ = locks;
  txn_ = txn;
}

void VolumeImpl::ReleaseLock() {
  if (locks_ != nullptr) locks_->EndTransaction(txn_);
  locks_ = nullptr;
}

void VolumeImpl::Revoke() {
  // Set first, so that new calls return at once and the exclusive lock is
  // not starved by a busy client; then wait for the calls already past the
  // check, and for the cleaner.
  {
    std::lock_guard state(state_mu_);  // design note 5
    revoked_ = true;
  }
  std::unique_lock io(io_mu_);
  std::lock_guard grow(grow_mu_);
  Log(LogLevel::kWarn, "volume '{}': revoked; its clients' further I/O fails", parts_.name);
  ReleaseLock();
}

Status VolumeImpl::RefuseRevoked() const {
  return Err(Code::kIOError, "volume '{}' was rolled back under this connection (snapshot rollback --force); "
             "reconnect to use it", parts_.name);
}

namespace {
// Records one operation of `bytes` that started at `start` in `counter`
// (of parts.io, when the volume has counters) and passes `status` on.
Status Counted(VolumeIoCounters* io, IoCounter VolumeIoCounters::*counter, uint64_t bytes, uint64_t start,
               Status status) {
  if (io != nullptr) (io->*counter).Record(1, bytes, MonotonicNs() - start);
  return status;
}
}  // namespace

Status VolumeImpl::Read(uint64_t offset, std::span<std::byte> out) {
  std::shared_lock io(io_mu_);
  if (revoked_) return RefuseRevoked();
  uint64_t start = MonotonicNs();
  return Counted(parts_.io.get(), &VolumeIoCounters::reads, out.size(), start, parts_.top->Read(offset, out));
}

namespace {
Status RefuseReadOnly(const std::string& name) {
  return Err(Code::kReadOnly, "'{}' is a snapshot and cannot be written", name);
}
}  // namespace

Status VolumeImpl::Write(uint64_t offset, std::span<const std::byte> data, bool fua) {
  if (parts_.read_only) return RefuseReadOnly(parts_.name);
  std::shared_lock io(io_mu_);
  if (revoked_) return RefuseRevoked();
  uint64_t start = MonotonicNs();
  return Counted(parts_.io.get(), &VolumeIoCounters::writes, data.size(), start,
                 parts_.top->Write(offset, data, fua ? kWriteFua : kWriteNone));
}

Status VolumeImpl::Flush() {
  if (parts_.read_only || closed_) return Ok();  // a closed object has nothing left to flush
  std::shared_lock io(io_mu_);
  if (revoked_) return RefuseRevoked();
  uint64_t start = MonotonicNs();
  return Counted(parts_.io.get(), &VolumeIoCounters::flushes, 0, start, parts_.top->Flush());
}

Status VolumeImpl::Trim(uint64_t offset, uint64_t length, bool fua) {
  if (parts_.read_only) return RefuseReadOnly(parts_.name);
  std::shared_lock io(io_mu_);
  if (revoked_) return RefuseRevoked();
  uint64_t start = MonotonicNs();
  Status trimmed = parts_.top->Trim(offset, length);
  if (trimmed && fua) trimmed = parts_.top->Flush();
  return Counted(parts_.io.get(), &VolumeIoCounters::discards, length, start, std::move(trimmed));
}

Status VolumeImpl::Zero(uint64_t offset, uint64_t length, bool, bool fua) {
  return Trim(offset, length, fua);
}

Result<std::vector<SegmentExtent>> VolumeImpl::Extents(uint64_t offset, uint64_t length) {
  std::shared_lock io(io_mu_);
  if (revoked_) return Err(RefuseRevoked().error());
  return parts_.top->Extents(offset, length);
}

Status VolumeImpl::Prefetch(uint64_t offset, uint64_t length) {
  std::shared_lock io(io_mu_);
  if (revoked_) return RefuseRevoked();
  constexpr uint64_t kStep = 1 << 20;
  std::vector<std::byte> scratch(std::min(length, kStep));
  for (uint64_t at = 0; at < length; at += kStep) {
    uint64_t n = std::min(kStep, length - at);
    TRY_STATUS(parts_.top->Read(offset + at, std::span(scratch).first(n)));
  }
  return Ok();
}

std::vector<Resource> VdevResources(const Pool& pool) {
  std::vector<Resource> resources;
  for (const PoolVdev& v : pool.vdevs()) {
    Resource r{.id = v.config.name, .attrs = v.config.attrs};
    r.attrs["name"] = v.config.name;
    r.attrs["tier"] = std::string(TierName(v.config.tier));
    r.attrs["index"] = std::to_string(v.config.index);
    resources.push_back(std::move(r));
  }
  return resources;
}

Result<std::vector<LunBlock>> VolumeImpl::AllocateRow(uint32_t n_devices, uint64_t block_bytes,
                                                      const std::string& query_text) {
  auto row = AllocateRowBy(n_devices, block_bytes, query_text);
  if (row || row.error().code() != Code::kNoSpace || strict_tier_) return row;
  // Design note 4b: the tier is full; the nearest tier with room takes it.
  const std::optional<Tier> tier = TierOfRowQuery(query_text);
  if (!tier) return row;
  for (Tier other : TiersNearest(*tier)) {
    auto query = RowQueryWithTier(query_text, other);
    if (!query) return Err(query.error());
    auto spilled = AllocateRowBy(n_devices, block_bytes, *query);
    if (!spilled) continue;
    if (!spill_logged_.exchange(true)) {
      Log(LogLevel::kWarn, "volume '{}': tier {} is full, so new data rows go to tier {}; 'tessera volume move {} "
          "--tier {}' brings them back once it has room", parts_.name, TierName(*tier), TierName(other), parts_.name,
          TierName(*tier));
    }
    return spilled;
  }
  return row;
}

Result<std::vector<LunBlock>> VolumeImpl::AllocateRowBy(uint32_t n_devices, uint64_t block_bytes,
                                                        const std::string& query_text) {
  Pool& pool = core_->pool();
  std::vector<Resource> resources = VdevResources(pool);
  Query query = TRY(ParseQuery(query_text));
  uint64_t rotation = rotation_++;
  RowPlacement::Choice choice = core_->row_placement().Choose();  // contract 1 of row_placement.h
  bool redundant = parts_.data && parts_.data->parity() > 0;
  // Online vdevs not being copied first (design notes 4, 4a); a vdev that
  // has no room for the block is left out and the choice made again (4b).
  std::set<size_t> full;
  for (;;) {
    std::vector<size_t> preferred, allowed;
    for (size_t i = 0; i < resources.size(); i++) {
      const SlotVdev& slot = *pool.vdevs()[i].device;
      if (full.contains(i) || slot.draining() || slot.removed()) continue;  // note 4c
      bool copied = choice.Avoided(resources[i].id);
      if (!copied && pool.vdevs()[i].device->online()) preferred.push_back(i);
      if (!copied || redundant) allowed.push_back(i);
    }
    auto select = [&](const std::vector<size_t>& among) -> Result<std::vector<size_t>> {
      std::vector<Resource> candidates;
      for (size_t i : among) candidates.push_back(resources[i]);
      std::vector<size_t> chosen;
      for (size_t k : TRY(Select(query, candidates, n_devices, rotation))) chosen.push_back(among[k]);
      return chosen;
    };
    // Note 4d: the fewest devices that are not preferred, at most the parity.
    auto select_degraded = [&]() -> Result<std::vector<size_t>> {
      if (!redundant) return select(allowed);
      std::vector<size_t> others;
      for (size_t i : allowed) {
        if (std::find(preferred.begin(), preferred.end(), i) == preferred.end()) others.push_back(i);
      }
      Result<std::vector<size_t>> last =
          Err(Code::kNoSpace, "more than {} of the vdevs it needs are not online or are being replaced",
              parts_.data->parity());
      // Fewer than n_devices - preferred.size() of them cannot fill the row.
      const size_t fewest = n_devices > preferred.size() ? n_devices - preferred.size() : 1;
      for (size_t k = fewest; k <= parts_.data->parity() && k <= others.size(); k++) {
        std::vector<bool> taken(others.size(), false);
        std::fill(taken.end() - static_cast<ptrdiff_t>(k), taken.end(), true);
        do {  // every k of them: they are few (the vdevs not online or being copied)
          std::vector<size_t> among = preferred;
          for (size_t j = 0; j < others.size(); j++) {
            if (taken[j]) among.push_back(others[j]);
          }
          last = select(among);
          if (last) return last;
        } while (std::next_permutation(taken.begin(), taken.end()));
      }
      return last;
    };
    std::vector<size_t> chosen;
    if (auto picked = select(preferred)) {
      chosen = std::move(*picked);
    } else if (auto fallback = select_degraded()) {
      chosen = std::move(*fallback);
      Log(LogLevel::kWarn, "volume '{}': a new data row uses vdevs that are not online ({})", parts_.name,
          picked.error().message());
    } else if (redundant && select(allowed)) {
      return Err(Code::kBusy, "volume '{}' needs a new data row of {} vdevs, and more than its parity {} of them "
                 "would be vdevs that are not online or are being replaced; try again when they are back or the "
                 "replace ends", parts_.name, n_devices, parts_.data->parity());
    } else if (!full.empty()) {
      return Err(Code::kNoSpace, "volume '{}': no room for a new data row of {} vdevs ({})", parts_.name, n_devices,
                 fallback.error().message());
    } else if (allowed.size() < resources.size()) {
      return Err(Code::kBusy, "volume '{}' has no redundancy and needs a new data row, which can only go on a vdev "
                 "being replaced; try again when the replace ends ({})", parts_.name, fallback.error().message());
    } else {
      return Err(fallback.error());
    }
    std::vector<LunBlock> blocks;
    std::optional<size_t> no_room;
    for (size_t i : chosen) {
      const PoolVdev& v = pool.vdevs()[i];
      auto address = db_->AllocateExtent(parts_.dataset, v.config.tier, v.config.index,
                                         BlockCount{block_bytes / kBlockSize});
      if (!address) {
        for (const LunBlock& b : blocks) (void)db_->FreeExtent(parts_.dataset, b.address);
        if (address.error().code() != Code::kNoSpace) {
          return Err(address.error().WithContext(fmt::format("volume '{}': new data row", parts_.name)));
        }
        no_room = i;
        break;
      }
      blocks.push_back(LunBlock{.id = RandomId63(), .address = *address, .size = block_bytes, .vdev = v.config.name});
    }
    if (!no_room) return blocks;
    full.insert(*no_room);
  }
}

Status VolumeImpl::KeepRows() {
  std::lock_guard lock(grow_mu_);
  if (revoked_) return RefuseRevoked();
  if (parts_.log->SpareRows() >= 1) return Ok();
  // Clean what the last commit made reclaimable (every new row is committed
  // by GrowLocked, so that is recent), then grow; GrowLocked's commit makes
  // the cleaning durable too.
  bool changed = false;
  TRY_STATUS(CleanLocked(CleanMode::kNormal, &changed));
  if (parts_.log->SpareRows() >= 1) return changed ? SaveExnode() : Ok();
  if (changed) {
    // What the cleaner freed is allocatable once a commit made it durable
    // (Allocator contract 2): in a full pool, that is the room to grow.
    TRY_STATUS(SaveExnode());
    TRY_STATUS(core_->CommitAll());
  }
  while (parts_.log->SpareRows() < 1) TRY_STATUS(GrowLocked());
  return Ok();
}

Result<std::string> VolumeImpl::ExnodeText() const {
  Exnode exnode{.id = parts_.exnode_id, .name = parts_.name, .default_segment = parts_.top->id()};
  TRY_STATUS(parts_.top->Serialize(exnode));
  for (const ExnodeSegment& s : exnode.segments) exnode.view_segments.push_back(s.id);
  return SerializeExnode(exnode);
}

Status VolumeImpl::SaveExnode() {
  std::string text = TRY(ExnodeText());
  return StoreExnodeText(parts_.dataset->tree(), text);
}

namespace {
constexpr size_t kExnodeChunk = 48 * 1024;

std::string ExnodeChunkKey(uint32_t index) {
  std::string k = "x";
  for (int i = 3; i >= 0; i--) k.push_back(static_cast<char>(index >> (8 * i)));
  return k;
}
}  // namespace

// One ReplaceRange: readers and commits see the old text or the new one,
// never a mix or none (Tree contract 7).
Status StoreExnodeText(Tree& tree, const std::string& text) {
  std::vector<TreeEntry> chunks;
  for (size_t at = 0, i = 0; at < text.size(); at += kExnodeChunk, i++) {
    chunks.push_back(TreeEntry{.key = ExnodeChunkKey(static_cast<uint32_t>(i)),
                              .value = text.substr(at, kExnodeChunk)});
  }
  return tree.ReplaceRange("x", "y", chunks);
}

Result<std::string> LoadExnodeText(Tree& tree) {
  std::string text;
  TRY_STATUS(tree.Scan("x", "y", [&](std::string_view, std::string_view v) {
    text.append(v);
    return true;
  }));
  if (text.empty()) return Err(Code::kCorruption, "volume has no exNode");
  return text;
}

Result<std::vector<Database::NamedBlock>> ExnodeDataBlocks(Tree& tree) {
  return DataBlocksOf(TRY(ParseExnode(TRY(LoadExnodeText(tree)))));
}

Result<std::set<uint64_t>> SnapshotDataBlocks(Database& db, const std::string& volume) {
  std::set<uint64_t> out;
  for (const SnapshotInfo& s : TRY(db.ListSnapshots(volume))) {
    auto tree = TRY(db.OpenSnapshot(volume, s.name));
    auto blocks = ExnodeDataBlocks(*tree);
    if (!blocks) return Err(blocks.error().WithContext(fmt::format("snapshot '{}@{}'", volume, s.name)));
    for (const auto& b : *blocks) out.insert(b.address.raw);
  }
  return out;
}

Result<std::vector<Database::NamedBlock>> DataBlocksOf(const Exnode& exnode) {
  std::vector<Database::NamedBlock> out;
  for (const ExnodeBlock& b : exnode.blocks) {
    auto address = ParseBlockCapability(b.read_cap);
    if (!address) return Err(Code::kCorruption, "exNode block {}: '{}' is not a block address", b.id, b.read_cap);
    out.push_back(Database::NamedBlock{.address = *address, .blocks = b.size / kBlockSize});
  }
  return out;
}

}  // namespace tessera
