#include "core/db/root_keys.h"

#include <algorithm>
#include <cstring>

#include "core/util/endian.h"

namespace tessera {
namespace {

// Appends `n` bytes to `out` and returns the first.
std::byte* Grow(std::string& out, size_t n) {
  out.resize(out.size() + n);
  return reinterpret_cast<std::byte*>(out.data() + out.size() - n);
}

const std::byte* At(std::string_view in, size_t offset) {
  return reinterpret_cast<const std::byte*>(in.data() + offset);
}

void AppendBigEndian(std::string& out, uint64_t v) { PutU64BigEndian(Grow(out, 8), v); }
void AppendU16(std::string& out, uint16_t v) { PutU16(Grow(out, 2), v); }
void AppendU32(std::string& out, uint32_t v) { PutU32(Grow(out, 4), v); }
void AppendU64(std::string& out, uint64_t v) { PutU64(Grow(out, 8), v); }

// The records keep the 37-byte pointer of format version 2 where it always
// was; a pointer with a third copy appends its more_copies part
// (kMoreCopiesEncodedSize bytes) at the end of the record, so every record's
// size says which form it has (docs/format/root-tree.md).
void AppendPtr(std::string& out, const BlockPtr& ptr) {
  EncodeBlockPtr(ptr, Grow(out, kBlockPtrEncodedSize));
  out.resize(out.size() - kBlockPtrEncodedSize + kBlockPtrV2EncodedSize);
}

BlockPtr PtrAt(std::string_view in, size_t offset) { return DecodeBlockPtrV2(At(in, offset)); }

bool HasMoreCopies(const BlockPtr& ptr) { return ptr.more_copies[0] != 0; }

void AppendMoreCopies(std::string& out, const BlockPtr& ptr) {
  EncodeMoreCopies(ptr, Grow(out, kMoreCopiesEncodedSize));
}

void MoreCopiesAt(std::string_view in, size_t offset, BlockPtr* ptr) {
  DecodeMoreCopies(At(in, offset), ptr);
}

}  // namespace

std::string BitmapKey(uint64_t segment) {
  std::string k = "b";
  AppendBigEndian(k, segment);
  return k;
}

std::string DatasetKey(std::string_view name) { return "d" + std::string(name); }

std::string SnapshotPrefix(uint64_t dataset_id) {
  std::string k = "s";
  AppendBigEndian(k, dataset_id);
  return k;
}

std::string SnapshotKey(uint64_t dataset_id, uint64_t txg) {
  std::string k = SnapshotPrefix(dataset_id);
  AppendBigEndian(k, txg);
  return k;
}

std::string DeadListsPrefix(uint64_t dataset_id) {
  std::string k = "l";
  AppendBigEndian(k, dataset_id);
  return k;
}

std::string DeadPrefix(uint64_t dataset_id, uint64_t owner) {
  std::string k = DeadListsPrefix(dataset_id);
  AppendBigEndian(k, owner);
  return k;
}

std::string DeadKey(uint64_t dataset_id, uint64_t owner, uint64_t address) {
  std::string k = DeadPrefix(dataset_id, owner);
  AppendBigEndian(k, address);
  return k;
}

std::string ExtentPrefix(uint64_t dataset_id) {
  std::string k = "e";
  AppendBigEndian(k, dataset_id);
  return k;
}

std::string ExtentKey(uint64_t dataset_id, uint64_t address) {
  std::string k = ExtentPrefix(dataset_id);
  AppendBigEndian(k, address);
  return k;
}

std::string MissedPrefix(uint64_t vdev) {
  std::string k = "m";
  AppendBigEndian(k, vdev);
  return k;
}

std::string MissedKey(uint64_t vdev, uint64_t dataset_id, uint64_t row) {
  std::string k = MissedPrefix(vdev);
  AppendBigEndian(k, dataset_id);
  AppendBigEndian(k, row);
  return k;
}

std::string EncodeMissedNote(uint64_t note) {
  std::string v;
  AppendU64(v, note);
  return v;
}

Result<uint64_t> DecodeMissedNote(std::string_view value) {
  if (value.size() != 8) return Err(Code::kCorruption, "missed-write note of {} bytes, expected 8", value.size());
  return GetU64(At(value, 0));
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  return end;
}

uint64_t ReadBigEndian(std::string_view bytes) {
  std::byte padded[8] = {};  // fewer than 8 bytes are the low ones
  size_t n = std::min<size_t>(bytes.size(), 8);
  std::memcpy(padded + 8 - n, bytes.data(), n);
  return GetU64BigEndian(padded);
}

std::string EncodeDatasetRecord(const DatasetRecord& r) {
  std::string out;
  AppendU64(out, r.id);
  AppendU64(out, r.created_txg);
  AppendU64(out, r.latest_snapshot_txg);
  AppendPtr(out, r.root);
  if (HasMoreCopies(r.root)) AppendMoreCopies(out, r.root);
  return out;
}

Result<DatasetRecord> DecodeDatasetRecord(std::string_view v) {
  constexpr size_t kShort = 24 + kBlockPtrV2EncodedSize;
  if (v.size() != kShort && v.size() != kShort + kMoreCopiesEncodedSize) {
    return Err(Code::kCorruption, "dataset record of {} bytes", v.size());
  }
  DatasetRecord r{.id = GetU64(At(v, 0)),
                  .created_txg = GetU64(At(v, 8)),
                  .latest_snapshot_txg = GetU64(At(v, 16)),
                  .root = PtrAt(v, 24)};
  if (v.size() > kShort) MoreCopiesAt(v, kShort, &r.root);
  if (!r.root.IsNull() && !CopiesWellFormed(r.root)) return Err(Code::kCorruption, "dataset record: malformed copies");
  return r;
}

std::string EncodeSnapshotRecord(const SnapshotRecord& r) {
  std::string out;
  AppendU64(out, r.txg);
  AppendU64(out, r.created_unix);
  AppendPtr(out, r.root);
  AppendU16(out, static_cast<uint16_t>(r.name.size()));
  out += r.name;
  AppendU64(out, r.guid);
  if (HasMoreCopies(r.root)) AppendMoreCopies(out, r.root);
  return out;
}

Result<SnapshotRecord> DecodeSnapshotRecord(std::string_view v) {
  size_t fixed = 16 + kBlockPtrV2EncodedSize + 2;
  if (v.size() < fixed) return Err(Code::kCorruption, "snapshot record of {} bytes", v.size());
  size_t name_len = GetU16(At(v, fixed - 2));
  // A record without the trailing guid (written before it existed) gets one
  // derived from its txg and root, stable across reads.
  bool more = v.size() == fixed + name_len + 8 + kMoreCopiesEncodedSize;
  bool has_guid = more || v.size() == fixed + name_len + 8;
  if (!has_guid && v.size() != fixed + name_len) {
    return Err(Code::kCorruption, "snapshot record of {} bytes", v.size());
  }
  SnapshotRecord r{.name = std::string(v.substr(fixed, name_len)),
                   .txg = GetU64(At(v, 0)),
                   .created_unix = GetU64(At(v, 8)),
                   .root = PtrAt(v, 16)};
  if (more) MoreCopiesAt(v, fixed + name_len + 8, &r.root);
  if (!r.root.IsNull() && !CopiesWellFormed(r.root)) return Err(Code::kCorruption, "snapshot record: malformed copies");
  r.guid = has_guid ? GetU64(At(v, fixed + name_len)) : 0;
  if (r.guid == 0) r.guid = (r.txg * 0x9E3779B97F4A7C15ull) ^ r.root.checksum ^ 1;
  return r;
}

std::string EncodeDeadEntry(const DeadEntry& e) {
  std::string out;
  AppendU64(out, e.birth);
  AppendU32(out, e.blocks);
  AppendU64(out, e.copy_address);
  if (e.more_copies[0] != 0) {
    for (uint64_t a : e.more_copies) AppendU64(out, a);
  }
  return out;
}

Result<DeadEntry> DecodeDeadEntry(std::string_view v) {
  if (v.size() != 20 && v.size() != 20 + kMoreCopiesEncodedSize) {
    return Err(Code::kCorruption, "dead list entry of {} bytes", v.size());
  }
  DeadEntry e{
      .birth = GetU64(At(v, 0)), .blocks = GetU32(At(v, 8)), .copy_address = GetU64(At(v, 12))};
  for (size_t i = 0; v.size() > 20 && i < e.more_copies.size(); i++) {
    e.more_copies[i] = GetU64(At(v, 20 + 8 * i));
  }
  return e;
}

std::vector<uint64_t> DeadEntry::CopyAddresses(uint64_t address) const {
  BlockPtr ptr{.address = address, .copy_address = copy_address, .more_copies = more_copies};
  return ptr.CopyAddresses();
}

}  // namespace tessera
