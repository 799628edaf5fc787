// Log segment: reads, extents and inspection.
//
// Design notes
//  1. Reads take no log lock: a mapping is inserted only after its data is
//     written, and data blocks are never overwritten in place, so whatever
//     mapping a read sees points at complete data.
//  2. Runs of blocks whose data offsets are consecutive are read with one
//     data-segment read; every block is verified against its mapping's
//     checksum (contract 6).
#include <cstring>

#include "core/segment/log_segment.h"
#include "core/util/align.h"
#include "core/util/aligned_buffer.h"
#include "core/util/checksum.h"

namespace tessera {
namespace {

struct Found {
  uint64_t index;  // block index within the request
  Mapping mapping;
};

}  // namespace

Status LogSegment::ReadBlocks(uint64_t first_lba, uint64_t count, std::span<std::byte> out) {
  // A relocation may move (and free) data between the mapping lookup and the
  // data read; then the lookup is simply repeated.
  for (int attempt = 0;; attempt++) {
    uint64_t moves = relocations_.load();
    Status status = ReadBlocksOnce(first_lba, count, out);
    if (status || attempt >= 3 || relocations_.load() == moves) return status;
  }
}

Status LogSegment::ReadBlocksOnce(uint64_t first_lba, uint64_t count, std::span<std::byte> out) {
  std::vector<Found> found;
  std::optional<Error> decode_error;
  if (count == 1) {
    auto value = TRY(tree_->Get(MappingKey(first_lba)));
    if (value) found.push_back(Found{0, TRY(DecodeMapping(*value))});
  } else {
    TRY_STATUS(tree_->Scan(MappingKey(first_lba), MappingKey(first_lba + count),
                           [&](std::string_view k, std::string_view v) {
                             auto m = DecodeMapping(v);
                             if (!m) {
                               decode_error = m.error();
                               return false;
                             }
                             found.push_back(Found{MappingKeyLba(k) - first_lba, *m});
                             return true;
                           }));
  }
  if (decode_error) return Err(*decode_error);
  std::vector<bool> mapped(count, false);
  for (const Found& f : found) mapped[f.index] = true;
  // Zero mappings (a clone's trims) read as zeros.
  std::erase_if(found, [&](const Found& f) {
    if (f.mapping.zero()) std::memset(out.data() + f.index * kBlockSize, 0, kBlockSize);
    return f.mapping.zero();
  });
  // Holes: the base (a clone's origin) or zeros.
  auto base = this->base();
  for (uint64_t i = 0; i < count;) {
    if (mapped[i]) {
      i++;
      continue;
    }
    uint64_t j = i;
    while (j < count && !mapped[j]) j++;
    auto hole = out.subspan(i * kBlockSize, (j - i) * kBlockSize);
    uint64_t at = (first_lba + i) * kBlockSize;
    if (base && at < base->Size()) {
      uint64_t n = std::min<uint64_t>(hole.size(), base->Size() - at);
      TRY_STATUS(base->Read(at, hole.first(n)));
      std::memset(hole.data() + n, 0, hole.size() - n);
    } else {
      std::memset(hole.data(), 0, hole.size());
    }
    i = j;
  }
  // Mapped runs.
  for (size_t a = 0; a < found.size();) {
    size_t b = a + 1;
    while (b < found.size() && found[b].index == found[b - 1].index + 1 &&
           found[b].mapping.data_offset == found[b - 1].mapping.data_offset + kBlockSize) {
      b++;
    }
    auto run = out.subspan(found[a].index * kBlockSize, (b - a) * kBlockSize);
    TRY_STATUS(data_->Read(found[a].mapping.data_offset, run));
    if (heat_) heat_->Touch(found[a].mapping.data_offset, run.size());
    for (size_t i = a; i < b; i++) {
      auto block = out.subspan(found[i].index * kBlockSize, kBlockSize);
      if (Checksum64(block) != found[i].mapping.checksum) {
        {
          std::lock_guard lock(mu_);
          stats_.checksum_failures++;
        }
        return Err(Code::kCorruption, "volume {} block {}: checksum mismatch at data offset {}",
                   volume_id_, first_lba + found[i].index, found[i].mapping.data_offset);
      }
    }
    a = b;
  }
  return Ok();
}

Status LogSegment::ReadUnaligned(uint64_t offset, std::span<std::byte> out) {
  uint64_t first = AlignDown(offset, kBlockSize);
  uint64_t last = *AlignUp(offset + out.size(), kBlockSize);
  AlignedBuffer buffer(last - first);
  TRY_STATUS(ReadBlocks(first / kBlockSize, (last - first) / kBlockSize, buffer.span()));
  std::memcpy(out.data(), buffer.data() + (offset - first), out.size());
  return Ok();
}

Status LogSegment::Read(uint64_t offset, std::span<std::byte> out) {
  TRY_STATUS(CheckRange(offset, out.size()));
  if (out.empty()) return Ok();
  if (IsAligned(offset, kBlockSize) && IsAligned(out.size(), kBlockSize)) {
    return ReadBlocks(offset / kBlockSize, out.size() / kBlockSize, out);
  }
  return ReadUnaligned(offset, out);
}

Result<std::vector<SegmentExtent>> LogSegment::Extents(uint64_t offset, uint64_t length) {
  TRY_STATUS(CheckRange(offset, length));
  std::vector<SegmentExtent> out;
  if (length == 0) return out;
  auto base = this->base();
  uint64_t end = offset + length;
  // Unmapped runs fall through to the base; zero mappings are final holes.
  enum class Kind { kData, kZero, kUnmapped };
  std::vector<std::pair<SegmentExtent, Kind>> runs;
  auto add = [&](uint64_t from, uint64_t to, Kind kind) {
    from = std::max(from, offset);
    to = std::min(to, end);
    if (from >= to) return;
    if (!runs.empty() && runs.back().second == kind && runs.back().first.offset + runs.back().first.length == from) {
      runs.back().first.length += to - from;
    } else {
      runs.push_back({SegmentExtent{.offset = from, .length = to - from, .hole = kind != Kind::kData}, kind});
    }
  };
  uint64_t first_lba = offset / kBlockSize;
  uint64_t end_lba = (end + kBlockSize - 1) / kBlockSize;
  uint64_t cursor = first_lba * kBlockSize;
  std::optional<Error> error;
  TRY_STATUS(tree_->Scan(MappingKey(first_lba), MappingKey(end_lba), [&](std::string_view k, std::string_view v) {
    auto m = DecodeMapping(v);
    if (!m) {
      error = m.error();
      return false;
    }
    uint64_t at = MappingKeyLba(k) * kBlockSize;
    if (at > cursor) add(cursor, at, Kind::kUnmapped);
    add(at, at + kBlockSize, m->zero() ? Kind::kZero : Kind::kData);
    cursor = at + kBlockSize;
    return true;
  }));
  if (error) return Err(*error);
  if (cursor < end) add(cursor, end, Kind::kUnmapped);
  auto append = [&](const SegmentExtent& e) {
    if (!out.empty() && out.back().hole == e.hole && out.back().offset + out.back().length == e.offset) {
      out.back().length += e.length;
    } else {
      out.push_back(e);
    }
  };
  for (const auto& [e, kind] : runs) {
    if (kind != Kind::kUnmapped || !base || e.offset >= base->Size()) {
      append(e);
      continue;
    }
    // Holes fall through to the base: report its extents there.
    uint64_t base_end = std::min(e.offset + e.length, base->Size());
    for (const SegmentExtent& b : TRY(base->Extents(e.offset, base_end - e.offset))) append(b);
    if (base_end < e.offset + e.length) {
      append(SegmentExtent{.offset = base_end, .length = e.offset + e.length - base_end, .hole = true});
    }
  }
  return out;
}

Result<InspectReport> LogSegment::Inspect(InspectMode mode) {
  InspectReport report = TRY(data_->Inspect(mode));
  if (mode == InspectMode::kQuick) return report;
  std::vector<std::pair<uint64_t, Mapping>> all;
  std::optional<Error> error;
  TRY_STATUS(tree_->Scan(MappingKey(0), MappingKey(UINT64_MAX), [&](std::string_view k, std::string_view v) {
    auto m = DecodeMapping(v);
    if (!m) error = m.error();
    else if (!m->zero()) all.emplace_back(MappingKeyLba(k), *m);
    return m.has_value();
  }));
  if (error) return Err(*error);
  AlignedBuffer block(kBlockSize);
  for (const auto& [lba, m] : all) {
    report.checked++;
    auto status = data_->Read(m.data_offset, block.span());
    if (!status || Checksum64(block.span()) != m.checksum) {
      report.bad++;
      report.problems.push_back(fmt::format("block {} at data offset {}: {}", lba, m.data_offset,
                                            status ? "checksum mismatch" : status.error().ToString()));
    }
  }
  return report;
}

}  // namespace tessera
