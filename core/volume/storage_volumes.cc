// Storage: volume management (create, open, list, info, resize, delete,
// rename).
//
// Design notes
//  1. A volume is a dataset named after it. Its exNode text (stored in the
//     dataset, 'x' keys) is the source of truth for its layout: opening a
//     volume rebuilds the segment stack from that text alone.
//  2. Creating a volume allocates two data rows (the current one and a
//     spare, LogSegment contract 7) and commits. The dataset, its rows and
//     its exNode are made under one commit hold (Database contract 9), so
//     no commit holds a dataset without an exNode. Any failure deletes the
//     half-made dataset, so nothing changes.
//  3. Opening replays the log and commits at once, recording the new epoch
//     before any new batch is written (LogSegment contract 3).
//  4. One VolumeImpl per name (open_, OpenTable): every connection to a
//     volume shares its object, and a flush on one covers all. A volume
//     closing is waited for, never opened twice (OpenTable contract 3).
//  5. A writable volume holds its lock resource in the lock manager
//     (kReadSharedWriteExclusive) from open until its close is done; rollback
//     needs it exclusively. Open takes the lock before it reads the exNode,
//     so it reads what the last close committed.
//  6. A clone's exNode names its origin snapshot (`base` in the log section);
//     building the volume opens that snapshot export as the log's base
//     (storage_clones.cc). Deleting a volume whose snapshots have clones is
//     Busy, naming them.
//  7. Operations that change a volume refuse a snapshot's name (VOL@SNAP)
//     before they touch anything (RefuseSnapshotName).
//  8. Rename rewrites the name in the live exNode and moves the dataset's
//     record in one commit (Database::RenameDataset's edit), so no
//     background commit can land one without the other; its
//     snapshots follow (keyed by the dataset's id; their exNodes keep the
//     name they were taken under). It is refused, changing nothing, while
//     the volume or one of its snapshot exports is open, and while clones
//     name one of its snapshots as their base (their exNodes name
//     "OLD@SNAP"), as delete is.
#include <algorithm>

#include <fmt/ranges.h>

#include "core/exnode/query.h"
#include "core/segment/cache_segment.h"
#include "core/util/align.h"
#include "core/util/log.h"
#include "core/util/volume_ref.h"
#include "core/util/size.h"
#include "core/volume/data_segment_types.h"
#include "core/volume/layout.h"
#include "core/volume/row_query.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

Status ValidateVolumeName(const std::string& name) {
  if (name.empty()) return Err(Code::kInvalidArgument, "volume name is empty");
  if (name.size() > 255) {
    return Err(Code::kInvalidArgument, "volume name of {} bytes is too long (at most 255)", name.size());
  }
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) {
      return Err(Code::kInvalidArgument,
                 "volume name '{}' may only contain letters, digits, '-', '_' and '.'", name);
    }
  }
  return Ok();
}

// Per-device block of a row: the row is a sixteenth of the volume, between
// 4 MiB and 64 MiB; the block is a whole number of chunks.
uint64_t BlockBytesFor(uint64_t volume_size, const VolumeLayout& layout) {
  uint64_t row = std::clamp<uint64_t>(volume_size / 16, 4ull << 20, 64ull << 20);
  uint64_t block = std::max<uint64_t>(row / layout.data, layout.chunk);
  return AlignDown(block, layout.chunk);
}

// What every listing reads from a volume's exNode.
struct VolumeShape {
  const ExnodeSegment* log = nullptr;
  const ExnodeSegment* lun = nullptr;
  uint64_t size = 0;
  uint32_t devices = 0;
  std::string layout;  // simple, stripe:N, mirror:N or rs:K+M
};

Result<VolumeShape> ShapeOf(const Exnode& exnode, const std::string& name) {
  DataSections data = TRY(FindDataSections(exnode, name));
  VolumeShape shape{.log = data.log, .lun = data.lun};
  shape.size = TRY(shape.log->GetU64("size"));
  shape.devices = static_cast<uint32_t>(TRY(shape.lun->GetU64("n_devices")));
  shape.layout = TRY(data.type->describe(*data.data, *data.lun));
  return shape;
}

}  // namespace

CacheOptions Storage::Impl::CacheDefaults(const DataSegment& data,
                                          std::shared_ptr<CacheCounters> counters) const {
  CacheOptions options;
  options.counters = std::move(counters);
  options.budget = budget_;
  options.capacity_bytes = options_.data_cache_bytes;
  options.dirty_max_bytes = std::min(options_.dirty_bytes_max, options_.data_cache_bytes);
  // The log pads each batch to whole stripes of its data segment, so over a
  // striped (erasure-coded) segment only the cache's large batches fill
  // stripes well: no write-around there.
  if (data.stripe_bytes() > kBlockSize) options.write_around_bytes = 0;
  return options;
}

Result<std::shared_ptr<VolumeImpl>> Storage::Impl::BuildVolume(const std::string& name, Dataset* dataset,
                                                               const std::string& text,
                                                               std::unique_ptr<Tree> snapshot_tree,
                                                               uint64_t snapshot_size) {
  Exnode exnode = TRY(ParseExnode(text));
  DataSections sections = TRY(FindDataSections(exnode, name));
  const ExnodeSegment* log_section = sections.log;
  uint64_t size = snapshot_tree ? snapshot_size : TRY(log_section->GetU64("size"));
  auto volume = std::make_shared<VolumeImpl>(this, db_.get());
  std::shared_ptr<DataSegment> data = TRY(OpenDataSegment(exnode, sections, &db_->pool(), volume.get()));
  VolumeImpl* raw = volume.get();
  Tree* tree = snapshot_tree ? snapshot_tree.get() : &dataset->tree();
  auto log = std::make_shared<LogSegment>(log_section->id, exnode.id, size, tree, data, nullptr,
                                          [raw] { return raw->KeepRows(); });
  std::shared_ptr<Segment> top = log;
  std::shared_ptr<VolumeIoCounters> io = IoCountersFor(name);
  const ExnodeSegment* cache_section = exnode.FindSegment(exnode.default_segment);
  if (!snapshot_tree && cache_section != nullptr && cache_section->type == SegmentType::kCache) {
    CacheOptions options =
        TRY(CacheSegment::OptionsFromExnode(*cache_section, CacheDefaults(*data, io->cache)));
    // The exNode's dirty_max was this server's bound or another's: a server
    // with less memory (a smaller --memory) keeps its own.
    options.dirty_max_bytes = std::min(options.dirty_max_bytes, options.capacity_bytes);
    top = std::shared_ptr<Segment>(TRY(CacheSegment::Create(cache_section->id, log, options)));
  }
  if (auto base = log_section->GetString("base")) TRY_STATUS(AttachBaseLocked(*log, *base));
  bool read_only = snapshot_tree != nullptr;
  std::shared_ptr<RowHeat> heat = read_only ? nullptr : HeatFor(name, *data);  // storage_tiering.cc
  if (heat) log->SetHeat(heat);
  volume->Attach(VolumeImpl::Parts{.name = name, .exnode_id = exnode.id, .dataset = dataset, .data = data,
                                   .log = log, .top = top, .read_only = read_only,
                                   .snapshot_tree = std::move(snapshot_tree), .io = std::move(io),
                                   .heat = std::move(heat)});
  return volume;
}

Result<VolumeInfo> Storage::Impl::CreateVolume(const VolumeSpec& spec) {
  std::lock_guard lock(mu_);
  return CreateVolumeLocked(spec);
}

Result<VolumeInfo> Storage::Impl::CreateVolumeLocked(const VolumeSpec& spec, std::shared_ptr<VolumeImpl> base,
                                                     const std::string& base_name) {
  TRY_STATUS(ValidateVolumeName(spec.name));
  if (spec.size == 0 || !IsAligned(spec.size, kBlockSize)) {
    return Err(Code::kInvalidArgument, "volume size {} must be a positive multiple of 4096", spec.size);
  }
  VolumeLayout layout = TRY(ParseVolumeLayout(spec.layout));
  uint32_t devices = layout.devices;
  Tier tier = Tier::kFastest;
  if (spec.tier) {
    tier = *spec.tier;
  } else {
    for (const PoolVdev& v : db_->pool().vdevs()) tier = std::max(tier, v.config.tier);
  }
  std::vector<const VdevConfig*> in_tier;
  for (const PoolVdev& v : db_->pool().vdevs()) {
    if (v.config.tier == tier && !v.config.removed) in_tier.push_back(&v.config);
  }
  if (!spec.spread.empty()) {
    TRY_STATUS(ValidateSpreadKey(spec.spread));
    if (devices == 1) {
      return Err(Code::kInvalidArgument, "--spread {}: layout {} puts a row on one vdev, so there is nothing to "
                 "spread; use stripe:N or rs:K+M", spec.spread, spec.layout);
    }
    if (size_t width = RowWidth(in_tier, spec.spread); width < devices) {
      return Err(Code::kInvalidArgument, "layout {} spread over {} needs {} distinct values of '{}' among the vdevs "
                 "of tier {}, which have {} (set it with --vdev ...,{}=VALUE)", spec.layout, spec.spread, devices,
                 spec.spread, TierName(tier), width, spec.spread);
    }
  } else if (in_tier.size() < devices) {
    return Err(Code::kInvalidArgument, "layout {} needs {} vdevs in tier {}, the pool has {}", spec.layout,
               devices, TierName(tier), in_tier.size());
  }
  if (db_->OpenDataset(spec.name)) return Err(Code::kInvalidArgument, "volume '{}' already exists", spec.name);
  // storage_vdevs.cc, design note 5: its metadata as redundant as its data.
  TRY_STATUS(db_->RequireMetadataCopies(layout.parity + 1));
  auto hold = db_->HoldCommits();  // design note 2
  Dataset* dataset = TRY(db_->CreateDataset(spec.name));
  auto built = [&]() -> Result<std::shared_ptr<VolumeImpl>> {
    LunOptions options{.n_devices = devices, .chunk_size = layout.chunk,
                       .max_block_size = BlockBytesFor(spec.size, layout)};
    options.query = RowQuery(tier, devices, spec.spread);
    uint64_t exnode_id = RandomId63();
    auto volume = std::make_shared<VolumeImpl>(this, db_.get());
    std::shared_ptr<DataSegment> data = TRY(MakeDataSegment(layout, options, &db_->pool(), volume.get()));
    VolumeImpl* raw = volume.get();
    auto log = std::make_shared<LogSegment>(RandomId63(), exnode_id, spec.size, &dataset->tree(), data, nullptr,
                                            [raw] { return raw->KeepRows(); });
    if (base) log->SetBase(std::shared_ptr<Segment>(base, &base->log()), base_name);
    std::shared_ptr<VolumeIoCounters> io = IoCountersFor(spec.name);
    auto cache =
        std::shared_ptr<Segment>(TRY(CacheSegment::Create(RandomId63(), log, CacheDefaults(*data, io->cache))));
    volume->Attach(VolumeImpl::Parts{.name = spec.name, .exnode_id = exnode_id, .dataset = dataset,
                                     .data = data, .log = log, .top = cache, .io = std::move(io)});
    TRY(data->Grow());
    TRY(data->Grow());
    TRY_STATUS(volume->SaveExnode());
    hold.Release();
    TRY_STATUS(CommitAll());
    return volume;
  }();
  hold.Release();
  if (!built) {
    auto undo = db_->DeleteDataset(spec.name);
    if (!undo) Log(LogLevel::kError, "cleaning up volume '{}': {}", spec.name, undo.error().ToString());
    return Err(built.error());
  }
  return InfoLocked(spec.name);
}

Result<std::shared_ptr<VolumeImpl>> Storage::Impl::OpenVolumeLocked(const std::string& name) {
  if (name.find('@') != std::string::npos) {
    VolumeRef ref = TRY(ParseSnapshotRef(name));
    return OpenSnapshotLocked(ref.volume, ref.snapshot);
  }
  TRY_STATUS(ValidateVolumeName(name));
  if (auto open = FindOpen(name)) return open;
  auto dataset = db_->OpenDataset(name);
  if (!dataset) {
    if (dataset.error().code() == Code::kNotFound) return Err(Code::kNotFound, "no volume '{}' in pool {}", name, dir_);
    return Err(dataset.error());
  }
  // A writer holds the volume shared for reads, exclusive for writes
  // (rollback needs it wholly; storage_rollback.cc). Taken before the
  // exNode is read (note 5).
  TxnId txn = locks_.BeginTransaction(fmt::format("the open volume '{}'", name));
  if (auto locked = locks_.Acquire(txn, VolumeResource(name), LockMode::kReadSharedWriteExclusive,
                                   std::chrono::seconds(5));
      !locked) {
    locks_.EndTransaction(txn);
    return Err(locked.error().WithContext(fmt::format("opening volume '{}'", name)));
  }
  auto built = [&]() -> Result<std::shared_ptr<VolumeImpl>> {
    std::string text = TRY(LoadExnodeText((*dataset)->tree()));
    return BuildVolume(name, *dataset, text);
  }();
  if (!built) {
    locks_.EndTransaction(txn);
    return Err(built.error());
  }
  std::shared_ptr<VolumeImpl> volume = std::move(*built);
  volume->SetLock(&locks_, txn);
  uint64_t replayed = TRY(volume->log().Replay());
  if (replayed > 0) Log(LogLevel::kInfo, "volume '{}': replayed {} log batches", name, replayed);
  auto handle = open_.Add(name, std::move(volume));
  TRY_STATUS(CommitAll());
  return handle;
}

Result<std::shared_ptr<Volume>> Storage::Impl::OpenVolume(const std::string& name) {
  auto lock = LockIdle(name, /*opening=*/true);
  return OpenVolumeLocked(name);
}

namespace {

// The tier a volume's new rows go to and its rows' bytes per tier, from
// its exNode.
Result<VolumePlacement> PlacementOf(const std::string& name, const Exnode& exnode, const VolumeShape& shape) {
  VolumePlacement placement{.name = name};
  std::optional<Tier> tier = TierOfRowQuery(shape.lun->GetString("query").value_or(""));
  placement.tier = tier ? std::string(TierName(*tier)) : "";
  for (const Database::NamedBlock& b : TRY(DataBlocksOf(exnode))) {
    placement.tier_bytes[std::string(TierName(b.address.tier()))] += b.blocks * kBlockSize;
  }
  return placement;
}

}  // namespace

Result<std::vector<VolumePlacement>> Storage::Impl::PlacementLocked() {
  std::vector<VolumePlacement> out;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    Dataset* dataset = TRY(db_->OpenDataset(d.name));
    Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText(dataset->tree()))));
    out.push_back(TRY(PlacementOf(d.name, exnode, TRY(ShapeOf(exnode, d.name)))));
  }
  return out;
}

Result<VolumeInfo> Storage::Impl::InfoLocked(const std::string& name) {
  auto dataset = db_->OpenDataset(name);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", name, dir_);
  Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText((*dataset)->tree()))));
  VolumeShape shape = TRY(ShapeOf(exnode, name));
  VolumeInfo info{.name = name, .id = (*dataset)->id(), .size = shape.size, .layout = shape.layout};
  VolumePlacement placement = TRY(PlacementOf(name, exnode, shape));
  info.tier = std::move(placement.tier);
  info.spread = SpreadOfRowQuery(shape.lun->GetString("query").value_or(""));
  info.tier_bytes = std::move(placement.tier_bytes);
  info.allocated_bytes =
      shape.lun->GetAll("row").size() * shape.devices * TRY(shape.lun->GetU64("max_block_size"));
  uint64_t mapped = 0;
  TRY_STATUS((*dataset)->tree().Scan(MappingKey(0), MappingKey(UINT64_MAX), [&](std::string_view, std::string_view v) {
    auto m = DecodeMapping(v);
    if (m && !m->zero()) mapped++;  // a clone's zero mappings read as holes
    return true;
  }));
  info.mapped_bytes = mapped * kBlockSize;
  info.open = FindOpen(name) != nullptr;
  info.origin = shape.log->GetString("base").value_or("");
  return info;
}

Result<VolumeInfo> Storage::Impl::GetVolumeInfo(const std::string& name) {
  std::lock_guard lock(mu_);
  return InfoLocked(name);
}

Result<std::vector<VolumeInfo>> Storage::Impl::ListVolumes() {
  std::lock_guard lock(mu_);
  std::vector<VolumeInfo> out;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) out.push_back(TRY(InfoLocked(d.name)));
  return out;
}

// One exNode read per volume and no mapping scan, so mu_ is held briefly.
Result<std::vector<ExportInfo>> Storage::Impl::ListExports() {
  std::lock_guard lock(mu_);
  std::vector<ExportInfo> out;
  for (const DatasetInfo& d : TRY(db_->ListDatasets())) {
    Dataset* dataset = TRY(db_->OpenDataset(d.name));
    VolumeShape shape =
        TRY(ShapeOf(TRY(ParseExnode(TRY(LoadExnodeText(dataset->tree())))), d.name));
    ExportInfo info{.name = d.name, .size = shape.size, .layout = shape.layout};
    for (const SnapshotInfo& s : TRY(db_->ListSnapshots(d.name))) info.snapshots.push_back(s.name);
    out.push_back(std::move(info));
  }
  return out;
}

Status RefuseSnapshotName(const std::string& name, std::string_view operation) {
  if (name.find('@') == std::string::npos) return Ok();
  return Err(Code::kInvalidArgument,
             "'{}' names a snapshot, which is read-only; {} takes a volume's name (such as '{}')", name,
             operation, VolumeOf(name));
}

Status Storage::Impl::ResizeVolume(const std::string& name, uint64_t new_size, bool force) {
  auto lock = LockIdle(name);
  TRY_STATUS(RefuseSnapshotName(name, "volume resize"));
  if (new_size == 0 || !IsAligned(new_size, kBlockSize)) {
    return Err(Code::kInvalidArgument, "volume size {} must be a positive multiple of 4096", new_size);
  }
  bool in_use = open_.InUse(name);
  auto volume = TRY(OpenVolumeLocked(name));
  uint64_t old = volume->size();
  if (new_size < old && !force) {
    return Err(Code::kInvalidArgument,
               "shrinking volume '{}' from {} to {} discards data past the new end; add --force",
               name, FormatSize(old), FormatSize(new_size));
  }
  if (new_size < old && in_use) {
    return Err(Code::kBusy, "volume '{}' is in use (exported or open); it cannot shrink under its users",
               name);
  }
  TRY_STATUS(volume->Flush());
  // Through the top segment: the cache drops what lies past the new end.
  // A shrink is committed before its blocks past the new end are trimmed,
  // so a crash leaves it complete or absent (log_segment.cc, design note 6).
  TRY_STATUS(volume->top().Truncate(new_size));
  TRY_STATUS(volume->SaveExnode());
  TRY_STATUS(CommitAll());
  if (new_size >= old) return Ok();
  TRY_STATUS(volume->log().TrimPastEnd(old));
  return CommitAll();
}

Status Storage::Impl::DeleteVolume(const std::string& name) {
  auto lock = LockIdle(name);
  TRY_STATUS(RefuseSnapshotName(name, "volume delete"));
  if (!db_->OpenDataset(name)) return Err(Code::kNotFound, "no volume '{}' in pool {}", name, dir_);
  TRY_STATUS(RefuseUnlessUnusedLocked(name, "deleted"));
  auto dataset = db_->OpenDataset(name);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", name, dir_);
  TRY_STATUS(db_->DeleteDataset(name));
  ForgetIoCounters(name);
  ForgetHeat(name);
  return Ok();
}

Status Storage::Impl::RefuseUnlessUnusedLocked(const std::string& name, std::string_view changed) {
  auto clones = TRY(ClonesOfLocked(name, ""));
  if (!clones.empty()) {
    return Err(Code::kBusy, "volume '{}' has snapshots that clones depend on ({}); flatten or delete the clones first",
               name, fmt::join(clones, ", "));
  }
  // Idle objects of the volume and its exports close now, and closes in
  // progress are waited for: none may touch the dataset under its old name.
  for (const std::string& open_name : open_.Names()) {
    if (VolumeOf(open_name) != name) continue;
    if (auto closed = open_.Finish(open_name); !closed) {
      return Err(closed.error().WithContext(fmt::format("volume '{}' was not {}", name, changed)));
    }
    if (open_.InUse(open_name)) {
      return Err(Code::kBusy, "volume '{}' is in use ('{}' is exported or open); stop using it first", name,
                 open_name);
    }
  }
  return Ok();
}

// Design note 8.
Status Storage::Impl::RenameVolume(const std::string& name, const std::string& new_name) {
  auto lock = LockIdle(name);
  TRY_STATUS(RefuseSnapshotName(name, "volume rename"));
  TRY_STATUS(RefuseSnapshotName(new_name, "volume rename"));
  TRY_STATUS(ValidateVolumeName(new_name));
  auto dataset = db_->OpenDataset(name);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", name, dir_);
  if (db_->OpenDataset(new_name)) {
    return Err(Code::kInvalidArgument, "volume '{}' already exists in pool {}; pick another name", new_name, dir_);
  }
  TRY_STATUS(RefuseUnlessUnusedLocked(name, "renamed"));
  Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText((*dataset)->tree()))));
  exnode.name = new_name;
  const std::string renamed_text = TRY(SerializeExnode(exnode));
  TRY_STATUS(db_->RenameDataset(name, new_name, [&](Tree& tree) { return StoreExnodeText(tree, renamed_text); }));
  ForgetIoCounters(name);  // the new name counts from here
  ForgetHeat(name);
  Log(LogLevel::kInfo, "volume '{}' renamed to '{}'", name, new_name);
  return Ok();
}

Result<std::string> Storage::Impl::ExnodeText(const std::string& name) {
  std::lock_guard lock(mu_);
  auto dataset = db_->OpenDataset(name);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", name, dir_);
  return LoadExnodeText((*dataset)->tree());
}

}  // namespace tessera
