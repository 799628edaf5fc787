// The log segment's on-disk batch format and its mapping keys.
// See docs/format/log-batch.md.
//
// A batch is one header block followed (for data batches) by its data
// blocks, written contiguously into the data segment:
//
//   off  size  field
//     0     8  magic "TSRALOG1"
//     8     4  version (1)
//    12     4  kind: 1 data, 2 trim, 3 trim past the end
//    16     8  volume id (the exNode id)
//    24     8  epoch (bumped each time the volume is opened)
//    32     8  sequence number (within the epoch, from the committed head)
//    40     8  offset of this header in the data segment
//    48     4  entry count n (<= kLogMaxEntries)
//    52     4  reserved, zero
//    56  16*n  entries: data: (lba u64, XXH3-64 of the block u64);
//                       trims: (first lba u64, block count u64)
//     .     .  zero
//  4088     8  XXH3-64 of bytes [0, 4088)
//
// Mapping keys in the volume's dataset tree:
//   'm' lba(8, big-endian) -> data offset (8) + block checksum (8), little-endian;
//                             data offset kZeroMapping (checksum 0): the block
//                             reads as zeros even where the log has a base (a
//                             clone's trims, LogSegment contract 5)
//   'h'                    -> committed log head: offset (8), seq (8), epoch (8)
//   'r' row start(8, BE)   -> live blocks in that row of the data segment
//                             (int64 LE, maintained by counter upserts)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera {

inline constexpr char kLogMagic[8] = {'T', 'S', 'R', 'A', 'L', 'O', 'G', '1'};
inline constexpr uint32_t kLogVersion = 1;
inline constexpr size_t kLogHeaderFixed = 56;
inline constexpr size_t kLogMaxEntries = (4088 - kLogHeaderFixed) / 16;  // 252

// kTrimPastEnd deletes mappings from the volume's end on (its first lba is
// the size when it was written): what a shrink left past the new end, or
// what a grow is about to make visible (log_segment.cc, design note 6).
enum class LogBatchKind : uint32_t { kData = 1, kTrim = 2, kTrimPastEnd = 3 };

struct LogEntry {
  uint64_t a = 0;  // data: lba; trim: first lba
  uint64_t b = 0;  // data: block checksum; trim: block count
};

struct LogHeader {
  LogBatchKind kind = LogBatchKind::kData;
  uint64_t volume_id = 0;
  uint64_t epoch = 0;
  uint64_t seq = 0;
  uint64_t offset = 0;
  std::vector<LogEntry> entries;
  // Bytes the batch occupies in the data segment.
  uint64_t Span() const;
};

struct LogHead {
  uint64_t offset = 0;
  uint64_t seq = 0;
  uint64_t epoch = 0;
};

struct Mapping {
  uint64_t data_offset = 0;
  uint64_t checksum = 0;
  bool zero() const;
};

// The data offset of a mapping that reads as zeros and holds no data.
inline constexpr uint64_t kZeroMapping = UINT64_MAX;
inline bool Mapping::zero() const { return data_offset == kZeroMapping; }

void EncodeLogHeader(const LogHeader& header, std::span<std::byte> block);
// Corruption when magic, version, checksum, kind or count don't verify.
Result<LogHeader> DecodeLogHeader(std::span<const std::byte> block);

std::string MappingKey(uint64_t lba);
uint64_t MappingKeyLba(std::string_view key);
std::string EncodeMapping(const Mapping& m);
Result<Mapping> DecodeMapping(std::string_view value);
inline constexpr std::string_view kLogHeadKey = "h";
std::string RowKey(uint64_t row_start);
uint64_t RowKeyStart(std::string_view key);
std::string EncodeLogHead(const LogHead& head);
Result<LogHead> DecodeLogHead(std::string_view value);

}  // namespace tessera
