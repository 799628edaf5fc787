// Diff stream encoding and verification (diff_stream.h).
//
// Design notes
//  1. The writer and the reader keep the same running state (records so
//     far, the next free offset, the chained total), so every rule of
//     contract 1-2 is checked at one place on each side.
//  2. The reader never trusts a length before checking it: a data record's
//     length is bounded by kDiffMaxDataRecord and the volume size before
//     its bytes are allocated or read.
#include "core/volume/diff_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/checksum.h"
#include "core/util/endian.h"
#include "core/util/units.h"

namespace tessera {
namespace {

constexpr size_t kHeaderChecksumAt = kDiffHeaderBytes - 8;
constexpr size_t kVolumeNameAt = 88;
constexpr size_t kBaseNameAt = kVolumeNameAt + kDiffNameBytes;
constexpr size_t kTargetNameAt = kBaseNameAt + kDiffNameBytes;
constexpr size_t kReservedAt = kTargetNameAt + kDiffNameBytes;
static_assert(kReservedAt == 856);
static_assert(kHeaderChecksumAt == 1016);

std::byte* At(std::vector<std::byte>& v, size_t off) { return v.data() + off; }

void PutName(std::vector<std::byte>& out, size_t at, const std::string& name) {
  std::memcpy(out.data() + at, name.data(), std::min(name.size(), kDiffNameBytes - 1));
}

Result<std::string> GetName(std::span<const std::byte> in, size_t at, std::string_view field) {
  const char* p = reinterpret_cast<const char*>(in.data() + at);
  size_t len = strnlen(p, kDiffNameBytes);
  if (len == kDiffNameBytes)
    return Err(Code::kCorruption, "diff stream header: {} is not NUL-terminated", field);
  for (size_t i = len; i < kDiffNameBytes; i++) {
    if (p[i] != 0)
      return Err(Code::kCorruption, "diff stream header: {} has bytes after its end", field);
  }
  return std::string(p, len);
}

std::array<std::byte, kDiffRecordHeaderBytes> RecordHeader(DiffRecordType type, uint64_t offset,
                                                           uint64_t length,
                                                           std::span<const std::byte> data) {
  std::array<std::byte, kDiffRecordHeaderBytes> h{};
  PutU32(h.data(), static_cast<uint32_t>(type));
  PutU64(h.data() + 8, offset);
  PutU64(h.data() + 16, length);
  uint64_t seed = Checksum64(h.data(), 24);
  PutU64(h.data() + 24, Checksum64(data, seed));
  return h;
}

uint64_t Chain(uint64_t total, uint64_t record_checksum) {
  std::byte b[8];
  PutU64(b, record_checksum);
  return Checksum64(b, 8, total);
}

}  // namespace

std::vector<std::byte> EncodeDiffHeader(const DiffStreamHeader& h) {
  std::vector<std::byte> out(kDiffHeaderBytes);
  std::memcpy(out.data(), kDiffStreamMagic, 8);
  PutU32(At(out, 8), kDiffStreamVersion);
  PutU32(At(out, 12), h.flags);
  PutU64(At(out, 16), h.volume_size);
  PutU64(At(out, 24), h.source_volume_id);
  std::memcpy(At(out, 32), h.pool_uuid.data(), 16);
  PutU64(At(out, 48), h.base_guid);
  PutU64(At(out, 56), h.base_txg);
  PutU64(At(out, 64), h.target_guid);
  PutU64(At(out, 72), h.target_txg);
  PutU64(At(out, 80), h.target_created_unix);
  PutName(out, kVolumeNameAt, h.volume);
  PutName(out, kBaseNameAt, h.base_name);
  PutName(out, kTargetNameAt, h.target_name);
  PutU64(At(out, kHeaderChecksumAt), Checksum64(out.data(), kHeaderChecksumAt));
  return out;
}

Result<DiffStreamHeader> DecodeDiffHeader(std::span<const std::byte> in) {
  if (in.size() != kDiffHeaderBytes)
    return Err(Code::kCorruption, "diff stream header of {} bytes", in.size());
  if (std::memcmp(in.data(), kDiffStreamMagic, 8) != 0) {
    return Err(Code::kCorruption, "not a diff stream (bad magic)");
  }
  if (GetU64(in.data() + kHeaderChecksumAt) != Checksum64(in.data(), kHeaderChecksumAt)) {
    return Err(Code::kCorruption, "diff stream header checksum mismatch");
  }
  uint32_t version = GetU32(in.data() + 8);
  if (version != kDiffStreamVersion) {
    return Err(Code::kCorruption, "diff stream version {} (this build reads version {})", version,
               kDiffStreamVersion);
  }
  DiffStreamHeader h;
  h.flags = GetU32(in.data() + 12);
  if ((h.flags & ~kDiffFlagIncremental) != 0)
    return Err(Code::kCorruption, "diff stream: unknown flags {:#x}", h.flags);
  h.volume_size = GetU64(in.data() + 16);
  h.source_volume_id = GetU64(in.data() + 24);
  std::memcpy(h.pool_uuid.data(), in.data() + 32, 16);
  h.base_guid = GetU64(in.data() + 48);
  h.base_txg = GetU64(in.data() + 56);
  h.target_guid = GetU64(in.data() + 64);
  h.target_txg = GetU64(in.data() + 72);
  h.target_created_unix = GetU64(in.data() + 80);
  h.volume = TRY(GetName(in, kVolumeNameAt, "volume name"));
  h.base_name = TRY(GetName(in, kBaseNameAt, "base snapshot name"));
  h.target_name = TRY(GetName(in, kTargetNameAt, "target snapshot name"));
  for (size_t i = kReservedAt; i < kHeaderChecksumAt; i++) {
    if (in[i] != std::byte{0})
      return Err(Code::kCorruption, "diff stream header: reserved bytes are not zero");
  }
  if (h.volume_size == 0 || h.volume_size % kBlockSize != 0) {
    return Err(Code::kCorruption,
               "diff stream header: volume size {} is not a positive multiple of 4096",
               h.volume_size);
  }
  if (h.target_guid == 0 || h.target_name.empty() || h.volume.empty()) {
    return Err(Code::kCorruption, "diff stream header: no volume, target snapshot or guid");
  }
  if (h.incremental() != (h.base_guid != 0) || h.incremental() != !h.base_name.empty()) {
    return Err(Code::kCorruption,
               "diff stream header: base snapshot fields disagree with the flags");
  }
  return h;
}

// ---- writer ----

Status DiffStreamWriter::Put(std::span<const std::byte> bytes) {
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), out_) != bytes.size()) {
    return Err(Code::kIOError, "writing {}: {}", what_, std::strerror(errno));
  }
  bytes_ += bytes.size();
  return Ok();
}

Status DiffStreamWriter::WriteHeader(const DiffStreamHeader& header) {
  std::vector<std::byte> bytes = EncodeDiffHeader(header);
  total_ = GetU64(bytes.data() + kHeaderChecksumAt);
  return Put(bytes);
}

Status DiffStreamWriter::AddRecord(DiffRecordType type, uint64_t offset, uint64_t length,
                                   std::span<const std::byte> data) {
  if (length == 0 || offset % kBlockSize != 0 || length % kBlockSize != 0 ||
      offset < next_offset_) {
    return Err(Code::kInvalidArgument,
               "diff stream: record [{}, +{}) is misaligned or out of order", offset, length);
  }
  auto h = RecordHeader(type, offset, length, data);
  TRY_STATUS(Put(h));
  TRY_STATUS(Put(data));
  total_ = Chain(total_, GetU64(h.data() + 24));
  records_++;
  next_offset_ = offset + length;
  return Ok();
}

Status DiffStreamWriter::AddData(uint64_t offset, std::span<const std::byte> data) {
  if (data.size() > kDiffMaxDataRecord)
    return Err(Code::kInvalidArgument, "diff stream: data record too long");
  return AddRecord(DiffRecordType::kData, offset, data.size(), data);
}

Status DiffStreamWriter::AddZero(uint64_t offset, uint64_t length) {
  return AddRecord(DiffRecordType::kZero, offset, length, {});
}

Status DiffStreamWriter::Finish() {
  TRY_STATUS(Put(RecordHeader(DiffRecordType::kEnd, records_, total_, {})));
  if (std::fflush(out_) != 0)
    return Err(Code::kIOError, "writing {}: {}", what_, std::strerror(errno));
  return Ok();
}

// ---- reader ----

Status DiffStreamReader::Get(std::span<std::byte> out, std::string_view field) {
  size_t got = std::fread(out.data(), 1, out.size(), in_);
  if (got != out.size()) {
    if (std::ferror(in_)) return Err(Code::kIOError, "reading {}: {}", what_, std::strerror(errno));
    return Err(Code::kCorruption, "{}: truncated in {} at byte {} (no end record)", what_, field,
               bytes_ + got);
  }
  bytes_ += got;
  return Ok();
}

Result<DiffStreamHeader> DiffStreamReader::ReadHeader() {
  std::vector<std::byte> bytes(kDiffHeaderBytes);
  TRY_STATUS(Get(bytes, "the header"));
  auto header = DecodeDiffHeader(bytes);
  if (!header) return Err(header.error().WithContext(what_));
  volume_size_ = header->volume_size;
  total_ = GetU64(bytes.data() + kHeaderChecksumAt);
  return header;
}

Result<DiffRecord> DiffStreamReader::Next() {
  uint64_t at = bytes_;
  auto bad = [&](std::string_view why) {
    return Err(Code::kCorruption, "{}: record {} at byte {}: {}", what_, records_, at, why);
  };
  std::array<std::byte, kDiffRecordHeaderBytes> h;
  TRY_STATUS(Get(h, fmt::format("record {}", records_)));
  DiffRecord r;
  uint32_t type = GetU32(h.data());
  if (type < 1 || type > 3) return bad(fmt::format("unknown record type {}", type));
  if (GetU32(h.data() + 4) != 0) return bad("reserved bytes are not zero");
  r.type = static_cast<DiffRecordType>(type);
  r.offset = GetU64(h.data() + 8);
  r.length = GetU64(h.data() + 16);
  if (r.type == DiffRecordType::kEnd) {
    if (GetU64(h.data() + 24) !=
        Checksum64(std::span<const std::byte>{}, Checksum64(h.data(), 24))) {
      return bad("end record checksum mismatch");
    }
    if (r.offset != records_)
      return bad(fmt::format("end record counts {} records, read {}", r.offset, records_));
    if (r.length != total_) return bad("total checksum mismatch");
    std::byte extra;
    if (std::fread(&extra, 1, 1, in_) != 0) return bad("bytes after the end record");
    return r;
  }
  if (r.length == 0 || r.offset % kBlockSize != 0 || r.length % kBlockSize != 0) {
    return bad(fmt::format("range [{}, +{}) is not whole 4 KiB blocks", r.offset, r.length));
  }
  if (r.offset < next_offset_ || r.offset > volume_size_ || r.length > volume_size_ - r.offset) {
    return bad(fmt::format("range [{}, +{}) overlaps an earlier record or leaves the volume",
                           r.offset, r.length));
  }
  if (r.type == DiffRecordType::kData) {
    if (r.length > kDiffMaxDataRecord)
      return bad(fmt::format("data record of {} bytes is too long", r.length));
    r.data.resize(r.length);
    TRY_STATUS(Get(r.data, fmt::format("the data of record {}", records_)));
  }
  uint64_t seed = Checksum64(h.data(), 24);
  uint64_t sum = GetU64(h.data() + 24);
  if (sum != Checksum64(r.data, seed)) return bad("checksum mismatch");
  total_ = Chain(total_, sum);
  records_++;
  next_offset_ = r.offset + r.length;
  return r;
}

Result<StreamFile> StreamFileFromStart(int fd, const char* mode) {
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return Err(Code::kIOError, "stream file: dup: {}", std::strerror(errno));
  StreamFile file(::fdopen(copy, mode));
  if (!file) {
    int error = errno;
    ::close(copy);
    return Err(Code::kIOError, "stream file: fdopen: {}", std::strerror(error));
  }
  if (std::fseek(file.get(), 0, SEEK_SET) != 0) {
    return Err(Code::kInvalidArgument, "stream file: cannot seek to its start: {}",
               std::strerror(errno));
  }
  return file;
}

Result<DiffStreamSummary> VerifyDiffStream(int fd, const DiffProgressFn& progress) {
  StreamFile file = TRY(StreamFileFromStart(fd, "rb"));
  std::FILE* f = file.get();
  struct stat st {};
  uint64_t file_size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  DiffStreamReader reader(f, "stream");
  DiffStreamSummary summary;
  auto run = [&]() -> Status {
    summary.header = TRY(reader.ReadHeader());
    while (true) {
      DiffRecord r = TRY(reader.Next());
      if (r.type == DiffRecordType::kEnd) break;
      summary.records++;
      (r.type == DiffRecordType::kData ? summary.data_bytes : summary.zero_bytes) += r.length;
      if (progress) progress(reader.bytes_read(), file_size);
    }
    return Ok();
  };
  TRY_STATUS(run());
  summary.stream_bytes = reader.bytes_read();
  return summary;
}

}  // namespace tessera
