// The diff stream: a self-describing, checksummed file holding the changes
// that turn one snapshot of a volume into another (or, with no base, a whole
// snapshot). Written by `tessera diff --stream`, read by `tessera apply`.
// See docs/format/diff-stream.md for the bytes.
//
//   header (1024 bytes) | record* | end record
//
// Header (little-endian):
//     off  size  field
//       0     8  magic "TSRADIF1"
//       8     4  version (1)
//      12     4  flags: bit 0 incremental (has a base snapshot)
//      16     8  volume size in bytes (of the target snapshot)
//      24     8  source volume id (dataset id in the source pool)
//      32    16  source pool uuid
//      48     8  base snapshot guid (0 without a base)
//      56     8  base snapshot txg (0 without a base)
//      64     8  target snapshot guid
//      72     8  target snapshot txg
//      80     8  target snapshot creation time, unix seconds
//      88   256  source volume name (NUL-padded, at most 255 bytes)
//     344   256  base snapshot name (NUL-padded; empty without a base)
//     600   256  target snapshot name (NUL-padded)
//     856   160  reserved, zero
//    1016     8  XXH3-64 of bytes [0, 1016)
//
// Record header (32 bytes), followed by `length` data bytes for a data record:
//       0     4  type: 1 data, 2 zero, 3 end
//       4     4  reserved, zero
//       8     8  data/zero: byte offset in the volume; end: number of records before it
//      16     8  data/zero: length in bytes; end: the total checksum
//      24     8  XXH3-64 of the data, seeded with XXH3-64 of bytes [0, 24)
//
// Contract
//  1. Offsets and lengths are multiples of 4096, lengths > 0; records lie
//     inside the volume, in increasing offset order, without overlap. A
//     data record holds at most kDiffMaxDataRecord bytes.
//  2. The total checksum chains every record's checksum: start with the
//     header's checksum t; for each record before the end, t =
//     XXH3-64(record checksum as 8 LE bytes, seed t).
//  3. DiffStreamReader verifies as it reads: any violation of 1-2, a bad
//     checksum, a missing end record or bytes after it is Corruption (with
//     the record's position). Nothing here changes a volume: applying is the
//     caller's business (Storage verifies the whole stream first).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/util/status.h"

namespace tessera {

inline constexpr char kDiffStreamMagic[8] = {'T', 'S', 'R', 'A', 'D', 'I', 'F', '1'};
inline constexpr uint32_t kDiffStreamVersion = 1;
inline constexpr size_t kDiffHeaderBytes = 1024;
inline constexpr size_t kDiffRecordHeaderBytes = 32;
inline constexpr size_t kDiffNameBytes = 256;
inline constexpr uint64_t kDiffMaxDataRecord = 1 << 20;
inline constexpr uint32_t kDiffFlagIncremental = 1;

enum class DiffRecordType : uint32_t { kData = 1, kZero = 2, kEnd = 3 };

struct DiffStreamHeader {
  uint32_t flags = 0;
  uint64_t volume_size = 0;
  uint64_t source_volume_id = 0;
  std::array<uint8_t, 16> pool_uuid{};
  uint64_t base_guid = 0;
  uint64_t base_txg = 0;
  uint64_t target_guid = 0;
  uint64_t target_txg = 0;
  uint64_t target_created_unix = 0;
  std::string volume;
  std::string base_name;
  std::string target_name;
  bool incremental() const { return (flags & kDiffFlagIncremental) != 0; }
};

std::vector<std::byte> EncodeDiffHeader(const DiffStreamHeader& header);
// Corruption for a bad magic, version, checksum, flags or name field.
Result<DiffStreamHeader> DecodeDiffHeader(std::span<const std::byte> bytes);

struct DiffRecord {
  DiffRecordType type = DiffRecordType::kEnd;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::vector<std::byte> data;  // data records only
};

// Writes a stream to a FILE the caller owns. Records must follow contract 1.
class DiffStreamWriter {
 public:
  DiffStreamWriter(std::FILE* out, std::string what) : out_(out), what_(std::move(what)) {}
  Status WriteHeader(const DiffStreamHeader& header);
  Status AddData(uint64_t offset, std::span<const std::byte> data);
  Status AddZero(uint64_t offset, uint64_t length);
  // Writes the end record and flushes the FILE.
  Status Finish();
  uint64_t bytes_written() const { return bytes_; }

 private:
  Status Put(std::span<const std::byte> bytes);
  Status AddRecord(DiffRecordType type, uint64_t offset, uint64_t length,
                   std::span<const std::byte> data);
  std::FILE* out_;
  std::string what_;
  uint64_t total_ = 0;  // contract 2
  uint64_t records_ = 0;
  uint64_t next_offset_ = 0;
  uint64_t bytes_ = 0;
};

// Reads and verifies a stream from a FILE the caller owns.
class DiffStreamReader {
 public:
  DiffStreamReader(std::FILE* in, std::string what) : in_(in), what_(std::move(what)) {}
  Result<DiffStreamHeader> ReadHeader();
  // The next record, verified; the end record last (then call no more).
  Result<DiffRecord> Next();
  uint64_t bytes_read() const { return bytes_; }

 private:
  Status Get(std::span<std::byte> out, std::string_view field);
  std::FILE* in_;
  std::string what_;
  uint64_t volume_size_ = 0;
  uint64_t total_ = 0;
  uint64_t records_ = 0;
  uint64_t next_offset_ = 0;
  uint64_t bytes_ = 0;
};

struct DiffStreamSummary {
  DiffStreamHeader header;
  uint64_t records = 0;       // data and zero records
  uint64_t data_bytes = 0;    // bytes carried as data
  uint64_t zero_bytes = 0;    // bytes carried as "zero"
  uint64_t stream_bytes = 0;  // size of the stream file
};

// A stdio FILE over a copy of `fd` (which stays the caller's), positioned
// at the start of the file. `mode` is fdopen's.
struct StreamFileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using StreamFile = std::unique_ptr<std::FILE, StreamFileCloser>;
Result<StreamFile> StreamFileFromStart(int fd, const char* mode);

// Reads the whole stream in `fd` from its start and verifies it (contract
// 3). `progress` (optional) is called after each record with the stream
// bytes read so far and the file's size.
using DiffProgressFn = std::function<void(uint64_t done, uint64_t total)>;
Result<DiffStreamSummary> VerifyDiffStream(int fd, const DiffProgressFn& progress = {});

}  // namespace tessera
