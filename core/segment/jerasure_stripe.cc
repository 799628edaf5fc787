// StripeReader: loading, classifying, judging and rebuilding one stripe.
//
// Design notes
//  1. A chunk is read with its own lun read, so a device error is charged to
//     exactly that chunk. This costs nothing in device requests: the chunks
//     of a stripe are on distinct devices, and the pool issues one batch per
//     device either way.
//  2. Identity is checked before data: a header naming another segment is
//     kForeign (it is simply not ours, as on a recycled block), one naming
//     this segment but another stripe, index or geometry is kMisplaced
//     (a misdirected write: corruption).
//  3. Judge picks the newest write agreed by at least K chunks. With K > M
//     at most one write can be (two would need 2K <= K + M chunks), so the
//     choice never depends on generation order there (see
//     jerasure_segment.cc, note 2).
//  3a. No chunk agreeing on any write of this stripe, and at least K that
//     are provably something else (zero, foreign, or this segment's chunk of
//     another stripe): the stripe was never written since its row was
//     allocated, over blocks of an older row (kMisplaced there is recycled
//     data, as kForeign is). The stripes past the log's head are such
//     stripes, and so are the ends of rows that a log skipped before it cut
//     its batches at row ends; they are not lost data.
//  4. A rebuilt chunk is trusted only if it matches the checksum that the
//     agreeing headers carry for it; every header carries all N checksums,
//     so one is always available for a kWritten stripe.
#include "core/segment/jerasure_stripe.h"

#include <algorithm>
#include <cstring>
#include <tuple>

#include "core/util/checksum.h"

namespace tessera {

std::string_view ChunkStateName(ChunkState state) {
  switch (state) {
    case ChunkState::kUnread:
      return "unread";
    case ChunkState::kIoError:
      return "read error";
    case ChunkState::kZero:
      return "never written (zero header)";
    case ChunkState::kForeign:
      return "not a chunk of this segment";
    case ChunkState::kCorrupt:
      return "corrupt header";
    case ChunkState::kMisplaced:
      return "misplaced (another stripe, index or geometry)";
    case ChunkState::kBadData:
      return "data checksum mismatch";
    case ChunkState::kHeaderOk:
      return "header ok";
    case ChunkState::kGood:
      return "ok";
  }
  return "?";
}

StripeReader::StripeReader(JerasureSegment& segment, uint64_t stripe, std::byte* buffer)
    : seg_(segment),
      geo_(segment.geo_),
      stripe_(stripe),
      buffer_(buffer),
      state_(geo_.n(), ChunkState::kUnread),
      full_(geo_.n(), false),
      data_(geo_.n()),
      headers_(geo_.n()) {
  for (uint32_t j = 0; j < geo_.n(); j++) data_[j] = Chunk(j) + kChunkHeaderBytes;
}

std::byte* StripeReader::Chunk(uint32_t j) const {
  return buffer_ + geo_.Position(stripe_, j) * geo_.chunk_size;
}

std::string StripeReader::Describe(uint32_t j) const {
  auto where = seg_.LocateChunk(stripe_, j);
  if (!where) return fmt::format("stripe {} chunk {}", stripe_, j);
  return fmt::format("stripe {} chunk {} ({} on {})", stripe_, j, where->address.ToString(),
                     where->vdev);
}

Status StripeReader::Load(uint32_t j, bool full) {
  if (state_[j] != ChunkState::kUnread && (full_[j] || !full)) return Ok();
  size_t bytes = full ? geo_.chunk_size : kChunkHeaderBytes;
  Status s = seg_.lun_->Read(geo_.ChunkLunOffset(stripe_, j), {Chunk(j), bytes});
  full_[j] = full;
  if (!s) {
    if (s.error().code() != Code::kIOError) return s;
    state_[j] = ChunkState::kIoError;
    if (first_io_error_.empty()) first_io_error_ = s.error().message();
    full_[j] = true;  // not retried within this access: it is rebuilt and rewritten
    return Ok();
  }
  Classify(j, full ? Data(j) : nullptr);
  return Ok();
}

Status StripeReader::LoadInto(uint32_t j, std::byte* data) {
  uint64_t at = geo_.ChunkLunOffset(stripe_, j);
  data_[j] = data;
  full_[j] = true;
  for (auto [offset, target, bytes] :
       {std::tuple{at, Chunk(j), kChunkHeaderBytes},
        std::tuple{at + kChunkHeaderBytes, data, static_cast<size_t>(geo_.data_bytes())}}) {
    Status s = seg_.lun_->Read(offset, {target, bytes});
    if (!s) {
      if (s.error().code() != Code::kIOError) return s;
      state_[j] = ChunkState::kIoError;
      if (first_io_error_.empty()) first_io_error_ = s.error().message();
      return Ok();
    }
  }
  Classify(j, data);
  return Ok();
}

Status StripeReader::LoadAll(bool full) {
  for (uint32_t j = 0; j < geo_.n(); j++) TRY_STATUS(Load(j, full));
  return Ok();
}

void StripeReader::Classify(uint32_t j, const std::byte* data) {
  ChunkHeader& h = headers_[j];
  switch (DecodeChunkHeader({Chunk(j), kChunkHeaderBytes}, h)) {
    case ChunkHeaderProblem::kZero:
      state_[j] = ChunkState::kZero;
      return;
    case ChunkHeaderProblem::kNotAHeader:
      state_[j] = ChunkState::kForeign;
      return;
    case ChunkHeaderProblem::kCorrupt:
      state_[j] = ChunkState::kCorrupt;
      return;
    case ChunkHeaderProblem::kNone:
      break;
  }
  if (h.segment_id != seg_.id_) {
    state_[j] = ChunkState::kForeign;
    return;
  }
  if (h.stripe != stripe_ || h.index != j || h.k != geo_.k || h.m != geo_.m || h.w != geo_.w ||
      h.method != geo_.method || h.packet_size != geo_.packet_size ||
      h.data_bytes != geo_.data_bytes()) {
    state_[j] = ChunkState::kMisplaced;
    return;
  }
  seg_.NoteGeneration(h.generation);
  if (data == nullptr) {
    state_[j] = ChunkState::kHeaderOk;
    return;
  }
  bool ok = Checksum64(data, geo_.data_bytes()) == h.checksums[j];
  state_[j] = ok ? ChunkState::kGood : ChunkState::kBadData;
}

bool StripeReader::DataAgrees(uint32_t first, uint32_t last) const {
  for (uint32_t j = 0; j < geo_.k; j++) {
    bool touched = first <= j && j <= last;
    ChunkState s = state_[j];
    if (s != ChunkState::kGood && (touched || s != ChunkState::kHeaderOk)) return false;
    if (!headers_[j].SameWrite(headers_[0])) return false;
  }
  return true;
}

StripeVerdict StripeReader::Judge(bool need_data) const {
  auto usable = [&](ChunkState s) {
    return s == ChunkState::kGood || (!need_data && s == ChunkState::kHeaderOk);
  };
  // Writes, each as the list of chunks agreeing on it.
  std::vector<std::vector<uint32_t>> writes;
  uint32_t not_ours = 0, misplaced = 0, unknown = 0;
  for (uint32_t j = 0; j < geo_.n(); j++) {
    if (state_[j] == ChunkState::kZero || state_[j] == ChunkState::kForeign) not_ours++;
    if (state_[j] == ChunkState::kMisplaced) misplaced++;
    if (state_[j] == ChunkState::kCorrupt || state_[j] == ChunkState::kBadData) unknown++;
    if (!usable(state_[j])) continue;
    auto it = std::find_if(writes.begin(), writes.end(), [&](const std::vector<uint32_t>& w) {
      return headers_[w[0]].SameWrite(headers_[j]);
    });
    if (it == writes.end()) {
      writes.push_back({j});
    } else {
      it->push_back(j);
    }
  }
  const std::vector<uint32_t>* best = nullptr;
  for (const auto& w : writes) {
    if (w.size() < geo_.k) continue;
    if (best == nullptr || headers_[w[0]].generation > headers_[(*best)[0]].generation) best = &w;
  }
  StripeVerdict v;
  if (best == nullptr) {
    // Design note 3a: recycled blocks that never held this stripe.
    bool recycled = writes.empty() && unknown == 0 && not_ours + misplaced >= geo_.k;
    v.kind = not_ours >= geo_.k || recycled ? StripeVerdict::kNeverWritten : StripeVerdict::kLost;
    // For messages: the write agreed by most chunks.
    for (const auto& w : writes) {
      if (w.size() > v.members.size()) v.members = w;
    }
    return v;
  }
  v.kind = StripeVerdict::kWritten;
  v.members = *best;
  v.header_of = static_cast<int>((*best)[0]);
  for (uint32_t j = 0; j < geo_.n(); j++) {
    if (std::find(best->begin(), best->end(), j) == best->end()) v.bad.push_back(j);
  }
  return v;
}

Result<StripeVerdict> StripeReader::Rebuild() {
  StripeVerdict v = Judge(/*need_data=*/true);
  uint32_t io = 0, corrupt = 0, stale = 0;
  for (uint32_t j = 0; j < geo_.n(); j++) {
    bool member = std::find(v.members.begin(), v.members.end(), j) != v.members.end();
    if (member || v.kind == StripeVerdict::kNeverWritten) continue;
    switch (state_[j]) {
      case ChunkState::kIoError:
        io++;
        break;
      case ChunkState::kGood:
        stale++;
        break;
      default:
        corrupt++;
        if (state_[j] == ChunkState::kBadData || state_[j] == ChunkState::kCorrupt ||
            state_[j] == ChunkState::kMisplaced) {
          if (SlotVdev* slot = seg_.SlotOf(stripe_, j)) slot->NoteChecksumError();
        }
        break;
    }
  }
  seg_.Count([&](JerasureStats& s) {
    s.chunk_read_errors += io;
    s.corrupt_chunks += corrupt;
    s.stale_chunks += stale;
    if (v.kind == StripeVerdict::kLost) s.unrecoverable_stripes++;
  });
  if (v.kind == StripeVerdict::kLost) {
    return Err(Code::kIOError,
               "stripe {}: {} of {} chunks lost ({} unreadable, {} corrupt, {} of other writes); "
               "at most {} can be rebuilt{}",
               stripe_, io + corrupt + stale, geo_.n(), io, corrupt, stale, geo_.m,
               first_io_error_.empty() ? "" : "; the first unreadable: " + first_io_error_);
  }
  if (v.kind == StripeVerdict::kNeverWritten || v.bad.empty()) return v;

  const uint64_t d = geo_.data_bytes();
  std::vector<std::byte*> ptrs(geo_.n());
  for (uint32_t j = 0; j < geo_.n(); j++) ptrs[j] = Data(j);
  std::vector<int> erasures(v.bad.begin(), v.bad.end());
  Status decoded = seg_.code_->Decode(std::span(ptrs).first(geo_.k),
                                      std::span(ptrs).subspan(geo_.k), erasures, d);
  if (!decoded) {
    return Err(Code::kCorruption, "stripe {}: cannot rebuild {} chunks: {}", stripe_,
               erasures.size(), decoded.error().message());
  }
  ChunkHeader h = headers_[v.header_of];
  for (uint32_t j : v.bad) {
    if (Checksum64(Data(j), d) != h.checksums[j]) {
      return Err(Code::kCorruption, "{}: rebuilt data does not match its checksum", Describe(j));
    }
    h.index = j;
    EncodeChunkHeader(h, {Chunk(j), kChunkHeaderBytes});
    headers_[j] = h;
    state_[j] = ChunkState::kGood;
    full_[j] = true;
  }
  seg_.Count([&](JerasureStats& s) {
    s.degraded_reads++;
    s.rebuilt_chunks += v.bad.size();
  });
  return v;
}

uint64_t StripeReader::Repair(const StripeVerdict& v) {
  if (v.kind != StripeVerdict::kWritten) return 0;
  uint64_t ok = 0, failed = 0;
  for (uint32_t j : v.bad) {
    uint64_t at = geo_.ChunkLunOffset(stripe_, j);
    BlockWrite parts[] = {{.offset = at, .data = {Chunk(j), kChunkHeaderBytes}},
                          {.offset = at + kChunkHeaderBytes, .data = {Data(j), geo_.data_bytes()}}};
    Status s = seg_.lun_->WriteBlocks(parts);
    (s ? ok : failed)++;
    if (!s) seg_.NoteMissedChunk(stripe_, j);  // still stale there (contract 9)
  }
  seg_.Count([&](JerasureStats& s) {
    s.repaired_chunks += ok;
    s.repair_write_failures += failed;
  });
  return ok;
}

}  // namespace tessera
