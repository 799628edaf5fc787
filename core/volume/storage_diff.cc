// Storage: volume diffs and diff streams.
//
// Design notes
//  1. A volume's contents are its LBA mapping ('m' keys of its tree): a
//     block differs between two versions exactly when its mapping does
//     (present on one side only, or another data offset/checksum). So a
//     volume diff is the tree diff (core/tree/tree_diff.h) over the 'm'
//     keys, which skips the subtrees two close snapshots share. A block
//     moved by the cleaner would show as changed (a harmless superset), but
//     the cleaner never moves data a snapshot maps (volume_clean.cc note 5).
//  2. Diffing from nothing scans the newer side's mapping instead: every
//     mapped block is a change.
//  3. The live volume is flushed first, so its tree holds every
//     acknowledged write; it is then read under the tree's read lock.
//  4. A stream's target is always a snapshot: a stable image, named and
//     identified by its guid, which `apply` recreates on the copy, so the
//     copy can take the next incremental stream. The data is read through
//     the snapshot's read-only export.
//  5. Apply verifies the whole stream (every record's checksum, the chained
//     total, the end record) and the target's state before its first write,
//     so a bad stream, a wrong base or a wrong size changes nothing. While
//     writing, each record is verified again as it is read; a stream file
//     changed between the two passes can leave a partial apply, which is
//     reported and leaves no new snapshot.
//  6. Writing and applying a stream are long work (storage_impl.h, locking
//     notes): mu_ is held only while they look at the pool; the records are
//     read or written with the volume held, kShared for a stream written
//     (its snapshots cannot be deleted meanwhile) and kExclusive for the
//     volume a stream is applied to (no client can open it meanwhile).
//  7. Changed blocks are never collected: ForEachChangedBlock hands them, in
//     LBA order, to a RangeMerger that emits each range as it ends, so a
//     stream of a large volume needs memory for one record, not for its
//     block list. A stream that fails midway is truncated to nothing.
//  8. Stream files arrive as descriptors (storage.h). CheckStreamFile runs
//     before the first byte is touched: a FIFO or socket could block
//     long work forever, and a descriptor of a vdev, pool.conf or
//     anything else in the pool directory would let a stream overwrite the
//     pool, so both are refused, compared by device and inode.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>

#include "core/exnode/exnode.h"
#include "core/segment/log_format.h"
#include "core/tree/tree_diff.h"
#include "core/util/units.h"
#include "core/volume/diff_stream.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

const std::string kMapLo = MappingKey(0);
const std::string kMapHi = "n";  // every 'm' key sorts below it

// The volume size recorded in a tree's exNode text (a snapshot keeps the
// size the volume had then).
Result<uint64_t> VolumeSizeOf(Tree& tree) {
  Exnode exnode = TRY(ParseExnode(TRY(LoadExnodeText(tree))));
  for (const auto& s : exnode.segments) {
    if (s.type == SegmentType::kLog) return s.GetU64("size");
  }
  return Err(Code::kCorruption, "exNode has no log segment");
}

// Merges changed blocks, given in LBA order, into ranges, each handed to
// `emit` as soon as it ends; `split_kinds`: a range never mixes data and
// zero blocks (streams), otherwise adjacent blocks always merge (listings).
class RangeMerger {
 public:
  using EmitFn = std::function<Status(const DiffRange&)>;
  RangeMerger(bool split_kinds, EmitFn emit) : split_kinds_(split_kinds), emit_(std::move(emit)) {}

  Status Add(uint64_t lba, bool zero) {
    blocks_++;
    uint64_t off = lba * kBlockSize;
    if (cur_ && cur_->offset + cur_->length == off && (!split_kinds_ || cur_->zero == zero)) {
      cur_->length += kBlockSize;
      cur_->zero = cur_->zero && zero;
      return Ok();
    }
    TRY_STATUS(Finish());
    cur_ = DiffRange{off, kBlockSize, zero};
    return Ok();
  }
  Status Finish() {
    if (!cur_) return Ok();
    DiffRange done = *cur_;
    cur_.reset();
    return emit_(done);
  }
  uint64_t blocks() const { return blocks_; }

 private:
  bool split_kinds_;
  EmitFn emit_;
  std::optional<DiffRange> cur_;
  uint64_t blocks_ = 0;
};

// Called once per changed block, in LBA order; `zero`: the newer side
// reads zeros there. An error stops the walk and is returned.
using ChangedBlockFn = std::function<Status(uint64_t lba, bool zero)>;

// Walks the changed blocks of `volume` from snapshot `from` (empty: from
// nothing) to snapshot `to` (empty: the live tree), without holding them
// all in memory. Sets `*size` to the newer side's volume size before the
// first call of `fn`. Returns the tree nodes the diff visited. Caller holds
// Storage's mu_.
Result<uint64_t> ForEachChangedBlock(Database& db, Dataset* dataset, const std::string& volume,
                                     const std::string& from, const std::string& to, uint64_t* size,
                                     const ChangedBlockFn& fn) {
  std::unique_ptr<Tree> to_tree;
  Tree* newer = &dataset->tree();
  if (!to.empty()) {
    to_tree = TRY(db.OpenSnapshot(volume, to));
    newer = to_tree.get();
  }
  *size = TRY(VolumeSizeOf(*newer));
  std::optional<Error> error;
  auto call = [&](std::string_view key, bool zero) {
    auto status = fn(MappingKeyLba(key), zero);
    if (!status) error = status.error();
    return status.has_value();
  };
  if (from.empty()) {
    TRY_STATUS(newer->Scan(
        kMapLo, kMapHi, [&](std::string_view key, std::string_view) { return call(key, false); }));
    if (error) return Err(*error);
    return 0;
  }
  std::unique_ptr<Tree> older = TRY(db.OpenSnapshot(volume, from));
  auto stats = TRY(DiffTrees(*older, *newer, kMapLo, kMapHi,
                             [&](std::string_view key, auto, std::optional<std::string_view> now) {
                               return call(key, !now.has_value());
                             }));
  if (error) return Err(*error);
  return stats.nodes_visited;
}

// 1 when `volume` has any block changed since snapshot `from` (empty: any
// mapped block at all), else 0; the walk stops at the first one.
Result<uint64_t> AnyChangedBlock(Database& db, Dataset* dataset, const std::string& volume,
                                 const std::string& from) {
  uint64_t size = 0, changed = 0;
  auto walked = ForEachChangedBlock(db, dataset, volume, from, "", &size, [&](uint64_t, bool) {
    changed++;
    return Err(Code::kBusy, "stop");
  });
  if (!walked && changed == 0) return Err(walked.error());
  return changed;
}

Result<SnapshotInfo> FindSnapshot(const std::vector<SnapshotInfo>& all, const std::string& volume,
                                  const std::string& name) {
  for (const SnapshotInfo& s : all) {
    if (s.name == name) return s;
  }
  return Err(Code::kNotFound, "no snapshot '{}@{}'", volume, name);
}

}  // namespace

Result<VolumeDiff> Storage::Impl::DiffVolume(const std::string& volume, const std::string& from,
                                             const std::string& to) {
  std::lock_guard lock(mu_);
  auto dataset = db_->OpenDataset(volume);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  if (to.empty()) {
    if (auto open = FindOpen(volume)) TRY_STATUS(open->Flush());
  }
  VolumeDiff diff{.volume = volume, .from = from, .to = to};
  RangeMerger merger(/*split_kinds=*/false, [&](const DiffRange& r) {
    diff.ranges.push_back(r);
    return Ok();
  });
  diff.nodes_visited =
      TRY(ForEachChangedBlock(*db_, *dataset, volume, from, to, &diff.size,
                              [&](uint64_t lba, bool zero) { return merger.Add(lba, zero); }));
  TRY_STATUS(merger.Finish());
  diff.changed_bytes = merger.blocks() * kBlockSize;
  return diff;
}

// Design note 8.
Status Storage::Impl::CheckStreamFile(int stream_fd) {
  struct stat st {};
  if (::fstat(stream_fd, &st) != 0) {
    return Err(Code::kInvalidArgument, "stream file: {}", std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return Err(Code::kInvalidArgument,
               "the stream file must be a regular file, not a pipe, FIFO, socket or device (the "
               "CLI copies those through a temporary file)");
  }
  auto same = [&](const std::string& path) {
    struct stat other {};
    return ::stat(path.c_str(), &other) == 0 && other.st_dev == st.st_dev && other.st_ino == st.st_ino;
  };
  for (const PoolVdev& v : db_->pool().vdevs()) {
    if (same(v.config.path)) {
      return Err(Code::kInvalidArgument, "the stream file is vdev '{}' ({}) of this pool; refusing it",
                 v.config.name, v.config.path);
    }
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (same(entry.path().string())) {
      return Err(Code::kInvalidArgument, "the stream file is {}, a file of this pool; refusing it",
                 entry.path().string());
    }
  }
  return Ok();
}

Result<DiffStreamInfo> Storage::Impl::WriteDiffStream(const std::string& volume,
                                                      const std::string& from,
                                                      const std::string& to, int stream_fd) {
  std::lock_guard work(work_mu_);  // note 6
  TRY_STATUS(CheckStreamFile(stream_fd));
  std::unique_lock lock(mu_);
  if (to.empty()) {
    return Err(Code::kInvalidArgument,
               "a diff stream needs a snapshot as its target (VOLUME@SNAPSHOT); "
               "snapshot the volume first");
  }
  auto dataset = db_->OpenDataset(volume);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  auto snapshots = TRY(db_->ListSnapshots(volume));
  SnapshotInfo target = TRY(FindSnapshot(snapshots, volume, to));
  DiffStreamHeader header{.source_volume_id = (*dataset)->id(),
                          .pool_uuid = db_->pool().uuid(),
                          .target_guid = target.guid,
                          .target_txg = target.txg,
                          .target_created_unix = target.created_unix,
                          .volume = volume,
                          .target_name = to};
  if (!from.empty()) {
    SnapshotInfo base = TRY(FindSnapshot(snapshots, volume, from));
    header.flags = kDiffFlagIncremental;
    header.base_guid = base.guid;
    header.base_txg = base.txg;
    header.base_name = from;
  }
  header.volume_size = TRY(VolumeSizeOf(*TRY(db_->OpenSnapshot(volume, to))));
  auto source = TRY(OpenSnapshotLocked(volume, to));
  // A stream holds volume data: the owner's alone (0600), also when it
  // replaces an existing file.
  if (::ftruncate(stream_fd, 0) != 0 || ::fchmod(stream_fd, 0600) != 0) {
    return Err(Code::kInvalidArgument, "stream file: cannot truncate it or make it private: {}",
               std::strerror(errno));
  }
  StreamFile out = TRY(StreamFileFromStart(stream_fd, "wb"));
  DiffStreamWriter writer(out.get(), "stream");
  DiffStreamInfo info{.volume = volume, .base = from, .target = to};
  std::vector<std::byte> buf(kDiffMaxDataRecord);
  // One record per zero range; data ranges in records of at most 1 MiB.
  auto emit = [&](const DiffRange& r) -> Status {
    if (r.zero) {
      info.records++;
      info.zero_bytes += r.length;
      return writer.AddZero(r.offset, r.length);
    }
    for (uint64_t off = r.offset; off < r.offset + r.length; off += kDiffMaxDataRecord) {
      std::span<std::byte> chunk(buf.data(),
                                 std::min<uint64_t>(kDiffMaxDataRecord, r.offset + r.length - off));
      TRY_STATUS(source->Read(off, chunk));
      TRY_STATUS(writer.AddData(off, chunk));
      info.records++;
      info.data_bytes += chunk.size();
    }
    return Ok();
  };
  auto written = WithHold(lock, {volume}, Hold::kShared, [&]() -> Status {
    uint64_t size = 0;
    TRY_STATUS(writer.WriteHeader(header));
    RangeMerger merger(/*split_kinds=*/true, emit);
    TRY(ForEachChangedBlock(*db_, *dataset, volume, from, to, &size,
                            [&](uint64_t lba, bool zero) { return merger.Add(lba, zero); }));
    TRY_STATUS(merger.Finish());
    return writer.Finish();
  });
  if (!written) {
    out.reset();
    (void)::ftruncate(stream_fd, 0);  // no partial stream left behind
    return Err(written.error());
  }
  out.reset();
  if (::fsync(stream_fd) != 0) {
    return Err(Code::kIOError, "stream file: fsync: {}", std::strerror(errno));
  }
  info.stream_bytes = writer.bytes_written();
  return info;
}

Result<DiffStreamInfo> Storage::Impl::ApplyDiffStream(const std::string& volume, int stream_fd) {
  TRY_STATUS(RefuseSnapshotName(volume, "diff apply"));
  std::lock_guard work(work_mu_);  // note 6
  TRY_STATUS(CheckStreamFile(stream_fd));
  // 1. The whole stream verifies (note 5).
  DiffStreamSummary summary = TRY(VerifyDiffStream(stream_fd));
  const DiffStreamHeader& h = summary.header;
  std::string what = h.incremental()
                         ? fmt::format("{}@{} -> @{}", h.volume, h.base_name, h.target_name)
                         : fmt::format("{}@{} (full)", h.volume, h.target_name);
  // 2. The target is at the stream's base, of its size, and not in use.
  auto lock = LockIdle(volume);
  auto dataset = db_->OpenDataset(volume);
  if (!dataset) return Err(Code::kNotFound, "no volume '{}' in pool {}", volume, dir_);
  TRY_STATUS(open_.Finish(volume));
  if (open_.InUse(volume)) {
    return Err(Code::kBusy,
               "volume '{}' is open (exported to a client); stop using it before applying a stream",
               volume);
  }
  uint64_t size = TRY(VolumeSizeOf((*dataset)->tree()));
  if (size != h.volume_size) {
    return Err(Code::kInvalidArgument, "stream {} is for a volume of {} bytes; '{}' has {} bytes",
               what, h.volume_size, volume, size);
  }
  auto snapshots = TRY(db_->ListSnapshots(volume));
  for (const SnapshotInfo& s : snapshots) {
    if (s.name == h.target_name || s.guid == h.target_guid) {
      return Err(Code::kInvalidArgument,
                 "volume '{}' already has snapshot '{}' (the stream's target {})", volume, s.name,
                 what);
    }
  }
  if (h.incremental()) {
    const SnapshotInfo* base = nullptr;
    for (const SnapshotInfo& s : snapshots) {
      if (s.guid == h.base_guid) base = &s;
    }
    if (base == nullptr) {
      return Err(
          Code::kInvalidArgument,
          "volume '{}' is not at the stream's base: it has no snapshot with the identity of {}@{} "
          "(guid {:016x}); apply the streams up to that snapshot first",
          volume, h.volume, h.base_name, h.base_guid);
    }
    if (TRY(AnyChangedBlock(*db_, *dataset, volume, base->name)) > 0) {
      return Err(Code::kInvalidArgument,
                 "volume '{}' changed since its snapshot '{}' (the stream's base); the stream "
                 "applies only to an unchanged copy",
                 volume, base->name);
    }
  } else if (!snapshots.empty() || TRY(AnyChangedBlock(*db_, *dataset, volume, "")) > 0) {
    return Err(Code::kInvalidArgument,
               "volume '{}' is not empty (it was written or has snapshots); a full stream applies "
               "only to an unwritten volume without snapshots",
               volume);
  }
  // 3. Apply, verifying each record again as it is read; no client can
  // open the volume meanwhile (note 6).
  auto target = TRY(OpenVolumeLocked(volume));
  auto applied = WithHold(lock, {volume}, Hold::kExclusive, [&]() -> Result<DiffStreamInfo> {
    StreamFile in = TRY(StreamFileFromStart(stream_fd, "rb"));
    DiffStreamReader reader(in.get(), "stream");
    TRY(reader.ReadHeader());
    DiffStreamInfo info{.volume = h.volume, .base = h.base_name, .target = h.target_name};
    while (true) {
      auto record = reader.Next();
      if (!record) {
        return Err(record.error().WithContext(fmt::format(
            "stream changed while applying; volume '{}' is partly updated and has no snapshot '{}'",
            volume, h.target_name)));
      }
      if (record->type == DiffRecordType::kEnd) break;
      info.records++;
      if (record->type == DiffRecordType::kData) {
        TRY_STATUS(target->Write(record->offset, record->data, false));
        info.data_bytes += record->length;
      } else {
        TRY_STATUS(target->Trim(record->offset, record->length, false));
        info.zero_bytes += record->length;
      }
    }
    info.stream_bytes = reader.bytes_read();
    TRY_STATUS(target->Flush());
    return info;
  });
  DiffStreamInfo info = TRY(std::move(applied));
  TRY_STATUS(db_->CreateSnapshot(volume, h.target_name, h.target_guid));
  return info;
}

}  // namespace tessera
