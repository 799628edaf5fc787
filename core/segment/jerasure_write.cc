// Jerasure segment: whole-stripe writes and flush.
//
// Design notes
//  1. A write is validated completely (range, whole stripes, for every
//     BlockWrite) before any stripe is built, so a bad request writes
//     nothing (contract 1).
//  2. Stripes are written in batches of at most kWriteBatchBytes of lun
//     bytes. A batch takes the exclusive locks of its stripes in ascending
//     lock order (readers hold one lock at a time, so this cannot deadlock),
//     builds each stripe (BuildStripe: encode, checksum, headers) and hands
//     the lun one WriteBlocks, which the pool turns into one request batch
//     per device.
//  2a. Zero copy: when the caller's data is 4 KiB-aligned (so O_DIRECT
//     devices can take it as is), data chunks are encoded and written from
//     it directly: per data chunk one write for the header (from our
//     buffer) and one for the data (from the caller's). Otherwise the data
//     is copied next to its headers and each stripe is one contiguous write.
//  3. The lun reports only the first error of a batch. When a batch fails
//     with IOError, every chunk is written again one by one to learn which
//     ones fail (WriteChunksOneByOne); rewriting a chunk that had landed
//     writes the same bytes. A stripe with at most M failed chunks is a
//     degraded write: the chunks that failed keep older contents, which
//     reads see as stale or missing and rebuild. More than M failed chunks
//     is IOError.
//  4. Each stripe write takes a fresh generation (jerasure_segment.cc, note
//     2), so chunks left from an older write of the stripe never join it.
//  5. Missed writes (contract 9). The rows a batch wrote are remembered
//     until a flush succeeds; a flush takes them first, so rows written
//     while it runs wait for the next one, and gives them back when it
//     fails (the caller will flush again). A flush that fails only on up to
//     M vdevs succeeds, and reports the rows there as missed.
#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "core/segment/jerasure_segment.h"
#include "core/util/align.h"
#include "core/util/checksum.h"

namespace tessera {

Status JerasureSegment::Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) {
  BlockWrite one{.offset = offset, .data = data};
  TRY_STATUS(WriteBlocks({&one, 1}));
  if (flags & kWriteFua) return Flush();
  return Ok();
}

Status JerasureSegment::WriteBlocks(std::span<const BlockWrite> writes) {
  uint64_t sb = geo_.stripe_data_bytes();
  for (const BlockWrite& w : writes) {
    TRY_STATUS(CheckRange(w.offset, w.data.size()));
    if (w.offset % sb != 0 || w.data.size() % sb != 0) {
      return Err(Code::kInvalidArgument,
                 "jerasure segment {} writes whole stripes only: [{}, +{}) is not a multiple of "
                 "the {}-byte stripe",
                 id_, w.offset, w.data.size(), sb);
    }
  }
  uint64_t batch = std::max<uint64_t>(1, kWriteBatchBytes / geo_.stripe_lun_bytes());
  for (const BlockWrite& w : writes) {
    uint64_t stripes = w.data.size() / sb;
    for (uint64_t done = 0; done < stripes; done += batch) {
      uint64_t first = w.offset / sb + done;
      uint64_t count = std::min(batch, stripes - done);
      std::set<size_t> lock_ids;
      for (uint64_t s = first; s < first + count; s++) lock_ids.insert(s % kStripeLocks);
      std::vector<std::unique_lock<std::shared_mutex>> locks;
      for (size_t id : lock_ids) locks.emplace_back(stripe_locks_[id]);
      TRY_STATUS(WriteStripesLocked(first, count, w.data.subspan(done * sb, count * sb)));
    }
  }
  return Ok();
}

Status JerasureSegment::WriteStripesLocked(uint64_t first, uint64_t count,
                                           std::span<const std::byte> data) {
  const uint64_t sb = geo_.stripe_data_bytes(), c = geo_.chunk_size, d = geo_.data_bytes();
  const bool direct = IsAligned(reinterpret_cast<uintptr_t>(data.data()), kBlockSize);
  std::vector<Buffer> bufs;
  std::vector<BlockWrite> ios;
  for (uint64_t i = 0; i < count; i++) {
    const uint64_t stripe = first + i;
    std::span<const std::byte> in = data.subspan(i * sb, sb);
    bufs.push_back(AcquireBuffer());
    std::byte* buf = bufs.back().data();
    TRY_STATUS(BuildStripe(stripe, in, buf, direct));
    if (!direct) {
      ios.push_back(
          {.offset = stripe * geo_.stripe_lun_bytes(), .data = {buf, geo_.stripe_lun_bytes()}});
      continue;
    }
    for (uint32_t j = 0; j < geo_.n(); j++) {
      uint64_t at = geo_.ChunkLunOffset(stripe, j);
      std::byte* chunk = buf + geo_.Position(stripe, j) * c;
      if (j >= geo_.k) {
        ios.push_back({.offset = at, .data = {chunk, c}});
      } else {
        ios.push_back({.offset = at, .data = {chunk, kChunkHeaderBytes}});
        ios.push_back({.offset = at + kChunkHeaderBytes, .data = in.subspan(j * d, d)});
      }
    }
  }
  Status status = lun_->WriteBlocks(ios);
  if (!status) {
    if (status.error().code() != Code::kIOError) return status;
    if (direct) {  // the retry writes whole chunks from the buffers
      for (uint64_t i = 0; i < count; i++) {
        for (uint32_t j = 0; j < geo_.k; j++) {
          std::memcpy(bufs[i].data() + geo_.Position(first + i, j) * c + kChunkHeaderBytes,
                      data.data() + i * sb + j * d, d);
        }
      }
    }
    TRY_STATUS(WriteChunksOneByOne(first, count, bufs));
  }
  NoteWritten(first, count);
  Count([&](JerasureStats& s) { s.stripes_written += count; });
  return Ok();
}

void JerasureSegment::NoteWritten(uint64_t first, uint64_t count) {
  if (!missed_hook_) return;
  const uint64_t row = lun_->row_bytes(), stripe = geo_.stripe_lun_bytes();
  std::lock_guard lock(written_mu_);
  for (uint64_t at = first * stripe / row * row; at < (first + count) * stripe; at += row) {
    written_rows_.insert(at);
  }
}

void JerasureSegment::NoteMissedChunk(uint64_t stripe, uint32_t j) {
  if (!missed_hook_) return;
  auto where = LocateChunk(stripe, j);
  if (!where) return;  // the row is gone: nothing there to catch up
  missed_hook_(where->address.tier(), where->address.vdev(),
               where->lun_offset - where->lun_offset % lun_->row_bytes());
}

Status JerasureSegment::BuildStripe(uint64_t stripe, std::span<const std::byte> data,
                                    std::byte* buf, bool direct) {
  const uint32_t n = geo_.n();
  const uint64_t c = geo_.chunk_size, d = geo_.data_bytes();
  std::vector<std::byte*> ptrs(n);
  for (uint32_t j = 0; j < n; j++) ptrs[j] = buf + geo_.Position(stripe, j) * c + kChunkHeaderBytes;
  std::vector<const std::byte*> in(ptrs.begin(), ptrs.begin() + geo_.k);
  for (uint32_t j = 0; j < geo_.k; j++) {
    if (direct) {
      in[j] = data.data() + j * d;
    } else {
      std::memcpy(ptrs[j], data.data() + j * d, d);
    }
  }
  TRY_STATUS(code_->Encode(in, std::span(ptrs).subspan(geo_.k), d));
  ChunkHeader h{.method = geo_.method,
                .segment_id = id_,
                .stripe = stripe,
                .generation = next_generation_.fetch_add(1),
                .k = static_cast<uint16_t>(geo_.k),
                .m = static_cast<uint16_t>(geo_.m),
                .w = geo_.w,
                .packet_size = geo_.packet_size,
                .data_bytes = d};
  h.checksums.resize(n);
  for (uint32_t j = 0; j < n; j++) h.checksums[j] = Checksum64(j < geo_.k ? in[j] : ptrs[j], d);
  for (uint32_t j = 0; j < n; j++) {
    h.index = j;
    EncodeChunkHeader(h, {ptrs[j] - kChunkHeaderBytes, kChunkHeaderBytes});
  }
  return Ok();
}

Status JerasureSegment::WriteChunksOneByOne(uint64_t first, uint64_t count,
                                            std::vector<Buffer>& bufs) {
  const uint64_t c = geo_.chunk_size;
  Status result = Ok();  // the first stripe that failed; the others are still written
  for (uint64_t i = 0; i < count; i++) {
    uint64_t stripe = first + i;
    uint32_t failed = 0;
    std::string last;
    for (uint32_t j = 0; j < geo_.n(); j++) {
      std::span<const std::byte> chunk(bufs[i].data() + geo_.Position(stripe, j) * c, c);
      Status s = lun_->Write(geo_.ChunkLunOffset(stripe, j), chunk, kWriteNone);
      if (!s) {
        failed++;
        last = s.error().ToString();
        NoteMissedChunk(stripe, j);
      }
    }
    Count([&](JerasureStats& s) { s.failed_chunk_writes += failed; });
    if (failed > geo_.m && result) {
      result = Err(Code::kIOError, "stripe {}: {} of {} chunk writes failed, at most {} may ({})",
                   stripe, failed, geo_.n(), geo_.m, last);
    }
  }
  return result;
}

Status JerasureSegment::Flush() {
  std::set<uint64_t> written;  // contract 9
  {
    std::lock_guard lock(written_mu_);
    written.swap(written_rows_);
  }
  Status status = lun_->Flush();
  if (!status && pool_ != nullptr && status.error().code() == Code::kIOError) status = FlushEachVdev(written);
  if (!status) {  // the next flush answers for them again
    std::lock_guard lock(written_mu_);
    written_rows_.merge(written);
  }
  return status;
}

// Contract 5: flush every vdev of the lun, tolerating up to M failures;
// contract 9: the rows in `written` with a block on a failed vdev missed
// writes there.
Status JerasureSegment::FlushEachVdev(const std::set<uint64_t>& written) {
  std::set<std::pair<Tier, uint32_t>> vdevs;
  const std::vector<LunRowDesc> rows = lun_->Rows();
  for (const LunRowDesc& row : rows) {
    for (const LunBlock& b : row.blocks) vdevs.insert({b.address.tier(), b.address.vdev()});
  }
  uint32_t failed = 0;
  std::string last;
  for (const auto& [tier, index] : vdevs) {
    const PoolVdev* v = pool_->Find(tier, index);
    Status s = v != nullptr
                   ? v->device->Flush()
                   : Err(Code::kIOError, "vdev {}:{} is not in the pool", TierName(tier), index);
    if (s) continue;
    failed++;
    last = s.error().ToString();
    if (!missed_hook_) continue;
    for (const LunRowDesc& row : rows) {
      if (!written.contains(row.seg_offset)) continue;
      for (const LunBlock& b : row.blocks) {
        if (b.address.tier() == tier && b.address.vdev() == index) missed_hook_(tier, index, row.seg_offset);
      }
    }
  }
  Count([&](JerasureStats& s) { s.failed_vdev_flushes += failed; });
  if (failed > geo_.m) {
    return Err(Code::kIOError, "jerasure segment {}: {} vdevs failed to flush, at most {} may ({})",
               id_, failed, geo_.m, last);
  }
  return Ok();
}

}  // namespace tessera
