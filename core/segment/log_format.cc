#include "core/segment/log_format.h"

#include <algorithm>
#include <cstring>

#include "core/util/checksum.h"
#include "core/util/endian.h"
#include "core/util/units.h"

namespace tessera {

uint64_t LogHeader::Span() const {
  return kind == LogBatchKind::kData ? (1 + entries.size()) * kBlockSize : kBlockSize;
}

void EncodeLogHeader(const LogHeader& h, std::span<std::byte> block) {
  std::fill(block.begin(), block.end(), std::byte{0});
  std::byte* p = block.data();
  std::memcpy(p, kLogMagic, 8);
  PutU32(p + 8, kLogVersion);
  PutU32(p + 12, static_cast<uint32_t>(h.kind));
  PutU64(p + 16, h.volume_id);
  PutU64(p + 24, h.epoch);
  PutU64(p + 32, h.seq);
  PutU64(p + 40, h.offset);
  PutU32(p + 48, static_cast<uint32_t>(h.entries.size()));
  for (size_t i = 0; i < h.entries.size(); i++) {
    PutU64(p + kLogHeaderFixed + 16 * i, h.entries[i].a);
    PutU64(p + kLogHeaderFixed + 16 * i + 8, h.entries[i].b);
  }
  PutU64(p + 4088, Checksum64(p, 4088));
}

Result<LogHeader> DecodeLogHeader(std::span<const std::byte> block) {
  const std::byte* p = block.data();
  if (block.size() != kBlockSize || std::memcmp(p, kLogMagic, 8) != 0) {
    return Err(Code::kCorruption, "no log batch header (bad magic)");
  }
  if (GetU64(p + 4088) != Checksum64(p, 4088)) return Err(Code::kCorruption, "log header checksum mismatch");
  if (GetU32(p + 8) != kLogVersion) return Err(Code::kCorruption, "log header version {}", GetU32(p + 8));
  LogHeader h;
  uint32_t kind = GetU32(p + 12);
  if (kind < 1 || kind > 3) return Err(Code::kCorruption, "log batch kind {}", kind);
  h.kind = static_cast<LogBatchKind>(kind);
  h.volume_id = GetU64(p + 16);
  h.epoch = GetU64(p + 24);
  h.seq = GetU64(p + 32);
  h.offset = GetU64(p + 40);
  uint32_t n = GetU32(p + 48);
  if (n > kLogMaxEntries) return Err(Code::kCorruption, "log batch of {} entries", n);
  for (uint32_t i = 0; i < n; i++) {
    h.entries.push_back({GetU64(p + kLogHeaderFixed + 16 * i), GetU64(p + kLogHeaderFixed + 16 * i + 8)});
  }
  return h;
}

std::string MappingKey(uint64_t lba) {
  std::string k(9, 'm');
  for (int i = 0; i < 8; i++) k[1 + i] = static_cast<char>(lba >> (56 - 8 * i));
  return k;
}

uint64_t MappingKeyLba(std::string_view key) {
  uint64_t v = 0;
  for (size_t i = 1; i < 9 && i < key.size(); i++) v = (v << 8) | static_cast<uint8_t>(key[i]);
  return v;
}

std::string RowKey(uint64_t row_start) {
  std::string k = MappingKey(row_start);
  k[0] = 'r';
  return k;
}

uint64_t RowKeyStart(std::string_view key) { return MappingKeyLba(key); }

std::string EncodeMapping(const Mapping& m) {
  std::string v(16, '\0');
  PutU64(reinterpret_cast<std::byte*>(v.data()), m.data_offset);
  PutU64(reinterpret_cast<std::byte*>(v.data()) + 8, m.checksum);
  return v;
}

Result<Mapping> DecodeMapping(std::string_view v) {
  if (v.size() != 16) return Err(Code::kCorruption, "mapping value of {} bytes", v.size());
  auto* p = reinterpret_cast<const std::byte*>(v.data());
  return Mapping{.data_offset = GetU64(p), .checksum = GetU64(p + 8)};
}

std::string EncodeLogHead(const LogHead& head) {
  std::string v(24, '\0');
  auto* p = reinterpret_cast<std::byte*>(v.data());
  PutU64(p, head.offset);
  PutU64(p + 8, head.seq);
  PutU64(p + 16, head.epoch);
  return v;
}

Result<LogHead> DecodeLogHead(std::string_view v) {
  if (v.size() != 24) return Err(Code::kCorruption, "log head of {} bytes", v.size());
  auto* p = reinterpret_cast<const std::byte*>(v.data());
  return LogHead{.offset = GetU64(p), .seq = GetU64(p + 8), .epoch = GetU64(p + 16)};
}

}  // namespace tessera
