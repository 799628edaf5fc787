// Storage: vdev management (list, offline, online, replace) and the
// degraded-volume view of pool status.
//
// Design notes
//  1. A vdev's state lives in its pool slot (SlotVdev); "offline" is the one
//     state the admin sets, so it is the one persisted: pool.conf gets
//     "state = offline" (written atomically, SavePoolConfig) and the next
//     open leaves the vdev closed. Missing and faulted are found at open.
//  2. Offline works in any tier when the database agrees
//     (Database::OfflineVdev): the superblock and every tree node keep a
//     copy on another online vdev. Data is not checked: taking a third
//     device of an rs:4+2 volume away makes its stripes unreadable
//     (IOError), never wrong.
//  3. Replace keeps the vdev's slot (tier, index, size): the new device is
//     labelled as that vdev and every disk address stays valid, so neither
//     the allocator nor any exNode changes. Its content comes from:
//       a. the old device, when it is still online: every allocated block
//          is copied first (anything written meanwhile is caught by b for
//          rs volumes; a volume without parity with data there must not be
//          open: Busy);
//       b. parity: every row of an rs volume with a block on the vdev is
//          inspected with repair, which rebuilds each chunk that is blank,
//          stale or corrupt on the new device;
//       c. nothing: allocated blocks of a missing old device outside rs rows
//          (simple or stripe volumes) are counted as unrecoverable. Blocks
//          of an rs volume that only its snapshots name (a repair moved the
//          live row off them, storage_repair.cc note 2b) are not rebuilt:
//          the snapshots read them by decoding around the blank chunks.
//     pool.conf then names the new path. A readable old device gets its
//     labels zeroed, so it can never rejoin the pool by mistake.
//  4. Superblocks and tree-node copies on the vdev (any tier may hold
//     them) come back from their other copies: the copy of a. may miss
//     nodes a background commit wrote meanwhile, and a missing old device
//     gives nothing at all, so every replace ends with ScrubMetadata, which
//     reads every copy of every node and the current superblock slot of
//     every superblock vdev and rewrites what is missing, stale or bad.
//     A node whose only copies lived on the vdev is lost (reported as a
//     problem); contract 6 of database.h keeps a pool from opening or
//     going offline into that state.
//  5. Metadata is at least as redundant as the data it describes
//     (database.h contract 5): creating an rs:K+M volume raises the pool's
//     metadata copies to M+1 before its dataset exists
//     (CreateVolumeLocked), and opening a pool raises it for the volumes it
//     holds (EnsureMetadataCopies: pools made before the setting existed).
//  6. Replace is long work (storage_impl.h, locking notes): the copy of a.
//     and each volume's rebuild in b. run without mu_, so the pool keeps
//     answering; during the copy every volume without parity that is not
//     in use is held kExclusive (no client opens one: its writes could land
//     on the vdev behind the copy), and each volume is held kShared while
//     it is rebuilt. Offline and online wait for a replace (and for any
//     long work) to end.
//     A volume without parity that a client already has open takes writes
//     during the copy: it is refused (Busy) when it has data on the vdev,
//     and new rows stay off the vdev until the replace ends (RowPlacement;
//     volume_impl.cc, design note 4a), so none of its writes land behind
//     the copy.
//  7. The new path names a new file, or a block device of at least the
//     vdev's size, used whole as pool create uses one (file_vdev_kind.h;
//     one that holds a filesystem, a partition table or a label is refused
//     by the kind: clear it first). The vdev keeps its size (a vdev grow
//     takes the rest). A copy that fails clears the labels it wrote there,
//     so the device can be given again.
//  8. Online catches the vdev up (storage_catch_up.cc): the rows it missed
//     while it was away are repaired before the call returns, and a
//     replace, which rebuilds every row on the vdev, forgets its notes.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/exnode/exnode.h"
#include "core/pool/device_contents.h"
#include "core/pool/vdev_kinds.h"
#include "core/segment/lun_segment.h"
#include "core/util/aligned_buffer.h"
#include "core/util/log.h"
#include "core/util/size.h"
#include "core/vdev/file_vdev.h"
#include "core/volume/data_segment_types.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

struct VolumeRows {
  uint32_t parity = 0;  // M; 0 without erasure coding
  std::vector<LunRowDesc> rows;
};

Result<VolumeRows> RowsOf(Tree& tree, Pool& pool, const std::string& volume) {
  Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText(tree))));
  DataSections sections = TRY(FindDataSections(exnode, volume));
  auto lun = TRY(LunSegment::FromExnode(exnode, *sections.lun, &pool, nullptr));
  return VolumeRows{.parity = TRY(sections.type->parity(*sections.data)), .rows = lun->Rows()};
}

// M of the volume's layout (0 without erasure coding), from its exNode.
Result<uint32_t> ParityOf(Tree& tree, const std::string& volume) {
  Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText(tree))));
  DataSections sections = TRY(FindDataSections(exnode, volume));
  return sections.type->parity(*sections.data);
}

// The vdev named `name`, or NotFound listing the pool's vdevs
// (InvalidArgument for one removed).
Result<const PoolVdev*> NamedVdev(const Pool& pool, const std::string& name) {
  const PoolVdev* v = TRY(pool.FindNamed(name));
  if (v->removed()) return Err(Code::kInvalidArgument, "vdev '{}' was removed from the pool", name);
  return v;
}

bool Online(const Pool& pool, const LunBlock& b) {
  const PoolVdev* v = pool.Find(b.address.tier(), b.address.vdev());
  return v != nullptr && v->device->online();
}

}  // namespace

std::vector<VdevStatus> Storage::Impl::VdevStatuses() {
  std::vector<VdevStatus> out;
  for (const PoolVdev& v : db_->pool().vdevs()) {
    SpaceUsage u = db_->allocator().UsageOfVdev(v.config.tier, v.config.index);
    VdevErrorCounts e = v.device->errors();
    out.push_back(VdevStatus{.name = v.config.name,
                             .path = v.config.path,
                             .tier = std::string(TierName(v.config.tier)),
                             .index = v.config.index,
                             .size_bytes = u.total_blocks * kBlockSize,
                             .used_bytes = u.allocated_blocks * kBlockSize,
                             .state = v.device->draining() ? std::string("removing")
                                                           : std::string(VdevStateName(v.device->state())),
                             .attrs = v.config.attrs,
                             .read_errors = e.read_errors,
                             .write_errors = e.write_errors,
                             .flush_errors = e.flush_errors,
                             .checksum_errors = e.checksum_errors});
  }
  return out;
}

Result<std::vector<VolumeHealth>> Storage::Impl::DegradedVolumes() {
  Pool& pool = db_->pool();
  std::vector<VolumeHealth> out;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    Dataset* dataset = TRY(db_->OpenDataset(d.name));
    VolumeRows vr = TRY(RowsOf(dataset->tree(), pool, d.name));
    VolumeHealth h{.name = d.name, .state = "degraded"};
    for (const LunRowDesc& row : vr.rows) {
      uint32_t lost = 0;
      for (const LunBlock& b : row.blocks) {
        if (Online(pool, b)) continue;
        lost++;
        if (std::find(h.vdevs.begin(), h.vdevs.end(), b.vdev) == h.vdevs.end()) h.vdevs.push_back(b.vdev);
      }
      if (lost == 0) continue;
      h.rows++;
      if (lost > vr.parity) h.state = "unavailable";
    }
    if (h.rows > 0) out.push_back(std::move(h));
  }
  return out;
}

Status Storage::Impl::EnsureMetadataCopies() {
  std::lock_guard lock(mu_);
  uint32_t parity = 0;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    Dataset* dataset = TRY(db_->OpenDataset(d.name));
    // Not a volume, or unreadable: the volume's own open reports it.
    if (auto m = ParityOf(dataset->tree(), d.name)) parity = std::max(parity, *m);
  }
  return db_->RequireMetadataCopies(parity + 1);
}

Result<std::vector<VdevStatus>> Storage::Impl::ListVdevs() {
  std::lock_guard lock(mu_);
  return VdevStatuses();
}

Status Storage::Impl::OfflineVdev(const std::string& name) {
  std::lock_guard work(work_mu_);  // design note 6
  std::lock_guard lock(mu_);
  const PoolVdev* v = db_->pool().FindByName(name);
  if (v != nullptr && v->device->state() == VdevState::kOffline) return Ok();
  TRY_STATUS(db_->OfflineVdev(name));  // design note 2
  Log(LogLevel::kWarn, "vdev '{}' taken offline", name);
  return SavePoolConfig();
}

Result<VdevOnlineReport> Storage::Impl::OnlineVdev(const std::string& name) {
  std::lock_guard work(work_mu_);  // design note 6
  std::unique_lock lock(mu_);
  Pool& pool = db_->pool();
  const PoolVdev* v = TRY(NamedVdev(pool, name));
  if (v->device->online()) {  // it may have come back by itself (storage_catch_up.cc, note 6)
    VdevOnlineReport report = CatchUpLocked(lock, *v);
    report.was_online = true;
    return report;
  }
  PoolConfig one{.name = pool.config().name, .vdevs = {v->config}};
  one.vdevs[0].offline = false;
  auto devices = TRY(OpenPoolDevices(options_, one, false));
  if (devices.size() != 1 || !devices[0]) {
    return Err(Code::kNotFound, "vdev '{}': {} is missing; replace the vdev instead", name, v->config.path);
  }
  TRY_STATUS(pool.Online(name, devices[0]));
  Log(LogLevel::kInfo, "vdev '{}' is online again", name);
  TRY_STATUS(SavePoolConfig());
  return CatchUpLocked(lock, *v);  // design note 8
}

Result<VdevReplaceReport> Storage::Impl::ReplaceVdev(const std::string& old_name, const std::string& new_path_in,
                                                     const ProgressFn& progress) {
  std::lock_guard work(work_mu_);  // design note 6
  std::unique_lock lock(mu_);
  Pool& pool = db_->pool();
  const PoolVdev* v = TRY(NamedVdev(pool, old_name));
  if (new_path_in.empty()) return Err(Code::kInvalidArgument, "vdev replace: the new path is empty");
  if (VdevKind(v->config) != kDefaultVdevKind) {
    return Err(Code::kInvalidArgument, "vdev replace: vdev '{}' is of kind '{}'; only file vdevs are replaced so far",
               old_name, VdevKind(v->config));
  }
  fs::path p(new_path_in);
  if (p.is_relative()) p = fs::path(dir_) / p;
  const std::string new_path = p.lexically_normal().string();
  std::error_code ec;
  // Design note 7: a block device in place of a new file.
  const bool block_device = fs::is_block_file(new_path, ec);
  if (!block_device && fs::exists(new_path, ec)) {
    return Err(Code::kInvalidArgument,
               "vdev replace: {} already exists; give a path for a new file, or a block device", new_path);
  }
  if (block_device) {
    const uint64_t bytes = TRY(BlockDeviceBytes(new_path));
    if (bytes < v->label.size_blocks * kBlockSize) {
      return Err(Code::kInvalidArgument, "vdev replace: {} has {}; vdev '{}' needs at least {}", new_path,
                 FormatSize(bytes), old_name, FormatSize(v->label.size_blocks * kBlockSize));
    }
  }
  for (const PoolVdev& other : pool.vdevs()) {
    if (other.config.path == new_path) {
      return Err(Code::kInvalidArgument, "vdev replace: {} is the path of vdev '{}'", new_path, other.config.name);
    }
  }
  // pool.conf must be able to name the new path, or the pool would not
  // open again after the replace.
  PoolConfig after = pool.config();
  for (VdevConfig& vc : after.vdevs) {
    if (vc.name == old_name) vc.path = new_path;
  }
  if (Status saves = CheckConfigReadsBack(after); !saves) {
    return Err(Code::kInvalidArgument, "vdev replace: {}", saves.error().message());
  }
  // Design note 3a: a copy cannot follow writes of a volume without parity;
  // those not in use are held kExclusive while it runs, and no new row of
  // one lands on the vdev (note 6). Avoided before the volumes are looked
  // at: a row chosen meanwhile is already among their extents.
  RowPlacement::Avoidance avoid(placement_, old_name);
  std::vector<std::string> pinned;
  if (v->device->online()) {
    for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
      Dataset* dataset = TRY(db_->OpenDataset(d.name));
      if (TRY(ParityOf(dataset->tree(), d.name)) > 0) continue;
      // Its extents, not its exNode: a row allocated just before the
      // avoidance is an extent already, though maybe not in the exNode yet.
      auto extents = TRY(db_->ExtentsOf(dataset));
      bool here = std::any_of(extents.begin(), extents.end(), [&](const Database::Extent& e) {
        return e.address.tier() == v->config.tier && e.address.vdev() == v->config.index;
      });
      if (!open_.InUse(d.name)) {
        pinned.push_back(d.name);
      } else if (here) {
        return Err(Code::kBusy,
                   "volume '{}' has data on vdev '{}', no parity, and is in use; writes during the copy "
                   "would be lost: stop using it first",
                   d.name, old_name);
      }
    }
  }
  VdevReplaceReport report{.vdev = old_name, .old_path = v->config.path, .new_path = new_path};
  PoolConfig one{.name = pool.config().name, .vdevs = {v->config}};
  one.vdevs[0].path = new_path;
  one.vdevs[0].offline = false;
  if (block_device) one.vdevs[0].size_bytes = 0;  // note 7: used whole, of at least the vdev's size
  auto created = TRY(OpenPoolDevices(options_, one, true));
  std::shared_ptr<Vdev> fresh = created.at(0);

  // Design note 3a: copy what the old device holds while it is readable.
  const Tier tier = v->config.tier;
  const uint32_t index = v->config.index;
  std::shared_ptr<Vdev> old_device = v->device->device();
  uint64_t allocated = 0;
  Status copied = WithHold(lock, pinned, Hold::kExclusive, [&]() -> Status {
    for (auto& open : OpenVolumes()) TRY_STATUS(open->Flush());
    std::vector<std::pair<uint64_t, uint64_t>> runs;  // block, count within [first, end)
    db_->allocator().ForEachAllocatedRun([&](DiskAddress a, uint64_t count) {
      if (a.tier() != tier || a.vdev() != index) return;
      uint64_t lo = std::max(a.block(), v->first), hi = std::min(a.block() + count, v->end);
      if (lo >= hi) return;
      runs.push_back({lo, hi - lo});
      allocated += hi - lo;
    });
    if (old_device) {
      constexpr uint64_t kStep = 256;  // blocks
      AlignedBuffer buffer(kStep * kBlockSize);
      uint64_t done = 0;
      for (auto [block, count] : runs) {
        for (uint64_t at = block; at < block + count; at += kStep) {
          uint64_t n = std::min(kStep, block + count - at);
          std::span<std::byte> span(buffer.data(), n * kBlockSize);
          if (progress) {
            progress(Progress{.what = "blocks copied from " + old_name, .done = done, .total = allocated});
          }
          done += n;
          if (!old_device->Read(BlockNo{at}, span)) continue;  // left for the rebuild (b) or counted (c)
          TRY_STATUS(fresh->Write(BlockNo{at}, span));
          report.copied_blocks += n;
        }
      }
      TRY_STATUS(fresh->Flush());
    }
    return Ok();
  });
  if (!copied && block_device) ClearLabels(*fresh);  // note 7
  TRY_STATUS(copied);
  TRY_STATUS(pool.Replace(old_name, fresh, new_path));
  TRY_STATUS(SavePoolConfig());
  Log(LogLevel::kInfo, "vdev '{}' replaced: {} -> {}", old_name, report.old_path, new_path);

  // Design note 3b: rebuild the rs rows on the vdev from parity. That
  // covers every write it missed (note 8).
  // (Its notes are only forgotten; failing to is no reason to fail here.)
  const uint64_t missed_slot = Database::MissedVdev(tier, index);
  const auto missed = db_->MissedWritesOn(missed_slot);
  std::vector<std::pair<uint64_t, uint64_t>> rs_runs;  // block, count of rs row blocks here
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    auto dataset = db_->OpenDataset(d.name);
    if (!dataset) continue;  // deleted while an earlier volume was rebuilt
    VolumeRows vr = TRY(RowsOf((*dataset)->tree(), pool, d.name));
    uint64_t here = 0;
    for (const LunRowDesc& row : vr.rows) {
      for (const LunBlock& b : row.blocks) {
        if (b.address.tier() != tier || b.address.vdev() != index) continue;
        here += b.size / kBlockSize;
        if (vr.parity > 0) rs_runs.push_back({b.address.block(), b.size / kBlockSize});
      }
    }
    if (here == 0) continue;
    if (vr.parity == 0) {
      if (report.copied_blocks < allocated) {
        report.problems.push_back(fmt::format("volume '{}' has no parity; its blocks on '{}' were not all readable",
                                              d.name, old_name));
      }
      continue;
    }
    auto volume = TRY(OpenVolumeLocked(d.name));
    DataSegment& data = *volume->parts().data;
    RowInspectOptions options{.repair = true, .live_end = volume->log().HeadOffset()};
    options.rows = [&](const LunRowDesc& row) {
      return std::any_of(row.blocks.begin(), row.blocks.end(),
                         [&](const LunBlock& b) { return b.address.tier() == tier && b.address.vdev() == index; });
    };
    if (progress) {
      options.progress = [&](uint64_t done, uint64_t total) {
        progress(Progress{.what = "stripes rebuilt of " + d.name, .done = done, .total = total});
      };
    }
    auto rebuilt = WithHold(lock, {d.name}, Hold::kShared, [&]() -> Result<InspectReport> {
      InspectReport r = TRY(data.InspectRows(InspectMode::kScan, options));
      TRY_STATUS(data.Flush());
      return r;
    });
    InspectReport r = TRY(std::move(rebuilt));
    report.rebuilt_chunks += r.repaired;
    report.unrecoverable_blocks += r.unrecoverable;
    report.volumes.push_back(d.name);
    // The chunks found bad here were the old device's and are rebuilt now;
    // the problems matter only when some could not be.
    for (const auto& problem : r.unrecoverable > 0 ? r.problems : std::vector<std::string>{}) {
      if (report.problems.size() < 100) report.problems.push_back(fmt::format("volume '{}': {}", d.name, problem));
    }
  }
  if (missed) (void)db_->ForgetMissedWrites(missed_slot, *missed);
  // Design note 3c.
  if (!old_device) {
    // Data extents not covered by rs row blocks had no copy to come from.
    // (Tree node copies are not extents: the metadata scrub below rebuilds
    // them from their other copy.)
    struct DataRun {
      uint64_t block = 0, count = 0;
      std::string volume;
    };
    std::vector<DataRun> data_runs;
    for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
      Dataset* dataset = TRY(db_->OpenDataset(d.name));
      std::set<uint64_t> decoded;  // note 3c: named by rs snapshots only
      if (TRY(ParityOf(dataset->tree(), d.name)) > 0) decoded = TRY(SnapshotDataBlocks(*db_, d.name));
      for (const Database::Extent& e : TRY(db_->ExtentsOf(dataset))) {
        if (e.address.tier() != tier || e.address.vdev() != index) continue;
        if (decoded.contains(e.address.raw)) continue;
        data_runs.push_back({.block = e.address.block(), .count = e.blocks, .volume = d.name});
      }
    }
    std::sort(rs_runs.begin(), rs_runs.end());
    std::sort(data_runs.begin(), data_runs.end(),
              [](const DataRun& a, const DataRun& b) { return a.block < b.block; });
    auto lost = [&](const DataRun& run, uint64_t at, uint64_t count) {
      report.unrecoverable_blocks += count;
      report.problems.push_back(fmt::format("blocks {}+{} of volume '{}' held no redundant data; lost",
                                            DiskAddress::Make(tier, index, at).ToString(), count, run.volume));
    };
    for (const DataRun& run : data_runs) {
      uint64_t at = run.block, end = run.block + run.count;
      for (auto [rb, rc] : rs_runs) {
        if (rb + rc <= at || rb >= end) continue;
        if (rb > at) lost(run, at, rb - at);
        at = std::max(at, rb + rc);
      }
      if (at < end) lost(run, at, end - at);
    }
  }
  // Tree node copies that lived on the old device come back from their
  // other copy (ditto copies; docs/architecture.md). The database locks
  // itself.
  lock.unlock();
  MetadataScrubReport metadata = TRY(db_->ScrubMetadata());
  report.metadata_copies_rebuilt = metadata.repaired + metadata.superblocks_repaired;
  for (const auto& e : metadata.errors) {
    if (report.problems.size() < 100) report.problems.push_back("metadata: " + e);
  }
  if (old_device) {
    AlignedBuffer zero(kBlockSize);
    std::memset(zero.data(), 0, kBlockSize);
    (void)old_device->Write(BlockNo{0}, zero.span());
    (void)old_device->Write(BlockNo{old_device->Size().value - 1}, zero.span());
    (void)old_device->Flush();
  }
  return report;
}

}  // namespace tessera
