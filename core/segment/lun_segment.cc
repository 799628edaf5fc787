// Lun segment: striping over rows of blocks.
//
// Design notes
//  1. Row k covers [k * row_bytes, (k + 1) * row_bytes) when present, so
//     finding the row of an offset is a division and a map lookup.
//  2. A request is cut at chunk boundaries; each piece becomes one PoolIo.
//     Pieces of one request are submitted together (Pool::Submit groups them
//     per vdev), so a large write is one batch per device.
//  3. Trim is a no-op at this level: the log above tracks what is mapped.
#include "core/segment/lun_segment.h"

#include <utility>

#include <algorithm>
#include <mutex>

#include "core/util/align.h"

namespace tessera {

LunSegment::LunSegment(uint64_t id, LunOptions options, Pool* pool, LunBlockSource* source)
    : id_(id), options_(std::move(options)), query_(options_.query), pool_(pool), source_(source) {}

uint64_t LunSegment::Size() const {
  std::shared_lock lock(mu_);
  return rows_.empty() ? 0 : rows_.rbegin()->second.seg_end;
}

std::vector<LunRowDesc> LunSegment::Rows() const {
  std::shared_lock lock(mu_);
  std::vector<LunRowDesc> out;
  for (const auto& [start, row] : rows_) out.push_back(row);
  return out;
}

bool LunSegment::HasRowAt(uint64_t offset) const {
  std::shared_lock lock(mu_);
  return rows_.contains(offset - offset % row_bytes());
}

Status LunSegment::Map(uint64_t offset, std::span<std::byte> buffer, IoOp op,
                       std::vector<PoolIo>& out) const {
  if (!IsAligned(offset, kBlockSize) || !IsAligned(buffer.size(), kBlockSize)) {
    return Err(Code::kInvalidArgument, "lun I/O at {} +{} is not 4 KiB-aligned", offset, buffer.size());
  }
  uint64_t row_bytes = this->row_bytes();
  uint64_t chunk = options_.chunk_size;
  uint64_t n = options_.n_devices;
  size_t done = 0;
  while (done < buffer.size()) {
    uint64_t pos = offset + done;
    auto it = rows_.find(pos - pos % row_bytes);
    if (it == rows_.end()) {
      return Err(Code::kInvalidArgument, "lun segment {} has no row at offset {}", id_, pos);
    }
    const LunRowDesc& row = it->second;
    uint64_t rel = pos - row.seg_offset;
    uint64_t chunk_index = rel / chunk;
    uint64_t in_chunk = rel % chunk;
    uint64_t device = chunk_index % n;
    uint64_t device_offset = (chunk_index / n) * chunk + in_chunk;
    uint64_t piece = std::min<uint64_t>(chunk - in_chunk, buffer.size() - done);
    const LunBlock& block = row.blocks[device];
    DiskAddress address{block.address.raw + device_offset / kBlockSize};
    out.push_back(PoolIo{.op = op, .address = address, .buffer = buffer.subspan(done, piece)});
    done += piece;
  }
  return Ok();
}

Status LunSegment::Read(uint64_t offset, std::span<std::byte> out) {
  std::shared_lock lock(mu_);
  TRY_STATUS(CheckRange(offset, out.size()));
  std::vector<PoolIo> ios;
  TRY_STATUS(Map(offset, out, IoOp::kRead, ios));
  return pool_->Submit(ios);
}

Status LunSegment::Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) {
  BlockWrite one{.offset = offset, .data = data};
  TRY_STATUS(WriteBlocks({&one, 1}));
  if (flags & kWriteFua) return Flush();
  return Ok();
}

Status LunSegment::WriteBlocks(std::span<const BlockWrite> writes) {
  std::shared_lock lock(mu_);
  std::vector<PoolIo> ios;
  for (const BlockWrite& w : writes) {
    TRY_STATUS(CheckRange(w.offset, w.data.size()));
    std::span<std::byte> buffer(const_cast<std::byte*>(w.data.data()), w.data.size());
    TRY_STATUS(Map(w.offset, buffer, IoOp::kWrite, ios));
  }
  return pool_->Submit(ios);
}

Status LunSegment::Flush() {
  std::vector<Vdev*> devices;
  {
    std::shared_lock lock(mu_);
    for (const auto& [start, row] : rows_) {
      for (const auto& b : row.blocks) {
        const PoolVdev* v = pool_->Find(b.address.tier(), b.address.vdev());
        if (v && std::find(devices.begin(), devices.end(), v->device.get()) == devices.end()) {
          devices.push_back(v->device.get());
        }
      }
    }
  }
  for (Vdev* d : devices) TRY_STATUS(d->Flush());
  return Ok();
}

Status LunSegment::Trim(uint64_t offset, uint64_t length) { return CheckRange(offset, length); }

Result<std::vector<SegmentExtent>> LunSegment::Extents(uint64_t offset, uint64_t length) {
  TRY_STATUS(CheckRange(offset, length));
  return std::vector<SegmentExtent>{{.offset = offset, .length = length, .hole = false}};
}

Status LunSegment::Truncate(uint64_t new_size) {
  while (Size() < new_size) TRY(Grow());
  return Ok();
}

Result<InspectReport> LunSegment::Inspect(InspectMode) {
  InspectReport report;
  std::shared_lock lock(mu_);
  for (const auto& [start, row] : rows_) {
    for (const auto& b : row.blocks) {
      report.checked++;
      const PoolVdev* v = pool_->Find(b.address.tier(), b.address.vdev());
      if (v == nullptr || b.address.block() + b.size / kBlockSize > v->end) {
        report.bad++;
        report.problems.push_back(fmt::format("block {} at {} is outside its vdev", b.id, b.address.ToString()));
      } else if (!v->device->online()) {
        report.bad++;
        report.problems.push_back(fmt::format("row at {}: block {} is on vdev '{}', which is {}", start, b.id,
                                              v->config.name, VdevStateName(v->device->state())));
      }
    }
  }
  return report;
}

std::string LunSegment::Signature() const {
  return fmt::format("lun(n={},chunk={},block={})", options_.n_devices, options_.chunk_size,
                     options_.max_block_size);
}

Result<LunRowDesc> LunSegment::Grow() {
  if (source_ == nullptr) return Err(Code::kReadOnly, "lun segment {} cannot grow", id_);
  auto blocks = TRY(source_->AllocateRow(options_.n_devices, options_.max_block_size, query()));
  if (blocks.size() != options_.n_devices) {
    return Err(Code::kInvalidArgument, "row of {} blocks for {} devices", blocks.size(), options_.n_devices);
  }
  std::unique_lock lock(mu_);
  uint64_t start = rows_.empty() ? 0 : rows_.rbegin()->second.seg_end;
  LunRowDesc row{.seg_offset = start, .seg_end = start + row_bytes(), .blocks = std::move(blocks)};
  rows_[start] = row;
  return row;
}

std::string LunSegment::query() const {
  std::shared_lock lock(mu_);
  return query_;
}

void LunSegment::SetQuery(std::string query) {
  std::unique_lock lock(mu_);
  query_ = std::move(query);
}

Result<LunBlock> LunSegment::ReplaceBlock(uint64_t seg_offset, uint32_t position, LunBlock block) {
  std::unique_lock lock(mu_);
  auto it = rows_.find(seg_offset);
  if (it == rows_.end()) return Err(Code::kNotFound, "lun segment {} has no row at {}", id_, seg_offset);
  if (position >= it->second.blocks.size()) {
    return Err(Code::kInvalidArgument, "lun segment {}: no position {} in a row of {}", id_, position,
               it->second.blocks.size());
  }
  LunBlock& old = it->second.blocks[position];
  if (block.size != old.size) {
    return Err(Code::kInvalidArgument, "lun segment {}: block of {} bytes cannot replace one of {}", id_,
               block.size, old.size);
  }
  return std::exchange(old, std::move(block));
}

Result<LunRowDesc> LunSegment::RemoveRow(uint64_t seg_offset) {
  std::unique_lock lock(mu_);
  auto it = rows_.find(seg_offset);
  if (it == rows_.end()) return Err(Code::kNotFound, "lun segment {} has no row at {}", id_, seg_offset);
  LunRowDesc row = std::move(it->second);
  rows_.erase(it);
  return row;
}

}  // namespace tessera
