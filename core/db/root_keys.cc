#include "core/db/root_keys.h"

#include "core/util/endian.h"

namespace tessera {
namespace {

void AppendBigEndian(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; i--) out.push_back(static_cast<char>(v >> (8 * i)));
}

void AppendLittle(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) out.push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t Little(std::string_view in, size_t offset, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= uint64_t{static_cast<uint8_t>(in[offset + i])} << (8 * i);
  return v;
}

// The records keep the 37-byte pointer of format version 2 where it always
// was; a pointer with a third copy appends its more_copies part
// (kMoreCopiesEncodedSize bytes) at the end of the record, so every record's
// size says which form it has (docs/format/root-tree.md).
std::string Ptr(const BlockPtr& ptr) {
  std::string out(kBlockPtrEncodedSize, '\0');
  EncodeBlockPtr(ptr, reinterpret_cast<std::byte*>(out.data()));
  out.resize(kBlockPtrV2EncodedSize);
  return out;
}

BlockPtr PtrAt(std::string_view in, size_t offset) {
  return DecodeBlockPtrV2(reinterpret_cast<const std::byte*>(in.data() + offset));
}

bool HasMoreCopies(const BlockPtr& ptr) { return ptr.more_copies[0] != 0; }

std::string MoreCopies(const BlockPtr& ptr) {
  std::string out(kMoreCopiesEncodedSize, '\0');
  EncodeMoreCopies(ptr, reinterpret_cast<std::byte*>(out.data()));
  return out;
}

void MoreCopiesAt(std::string_view in, size_t offset, BlockPtr* ptr) {
  DecodeMoreCopies(reinterpret_cast<const std::byte*>(in.data() + offset), ptr);
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

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  return end;
}

uint64_t ReadBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); i++) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

std::string EncodeDatasetRecord(const DatasetRecord& r) {
  std::string out;
  AppendLittle(out, r.id, 8);
  AppendLittle(out, r.created_txg, 8);
  AppendLittle(out, r.latest_snapshot_txg, 8);
  out += Ptr(r.root);
  if (HasMoreCopies(r.root)) out += MoreCopies(r.root);
  return out;
}

Result<DatasetRecord> DecodeDatasetRecord(std::string_view v) {
  constexpr size_t kShort = 24 + kBlockPtrV2EncodedSize;
  if (v.size() != kShort && v.size() != kShort + kMoreCopiesEncodedSize) {
    return Err(Code::kCorruption, "dataset record of {} bytes", v.size());
  }
  DatasetRecord r{.id = Little(v, 0, 8),
                  .created_txg = Little(v, 8, 8),
                  .latest_snapshot_txg = Little(v, 16, 8),
                  .root = PtrAt(v, 24)};
  if (v.size() > kShort) MoreCopiesAt(v, kShort, &r.root);
  if (!r.root.IsNull() && !CopiesWellFormed(r.root)) return Err(Code::kCorruption, "dataset record: malformed copies");
  return r;
}

std::string EncodeSnapshotRecord(const SnapshotRecord& r) {
  std::string out;
  AppendLittle(out, r.txg, 8);
  AppendLittle(out, r.created_unix, 8);
  out += Ptr(r.root);
  AppendLittle(out, r.name.size(), 2);
  out += r.name;
  AppendLittle(out, r.guid, 8);
  if (HasMoreCopies(r.root)) out += MoreCopies(r.root);
  return out;
}

Result<SnapshotRecord> DecodeSnapshotRecord(std::string_view v) {
  size_t fixed = 16 + kBlockPtrV2EncodedSize + 2;
  if (v.size() < fixed) return Err(Code::kCorruption, "snapshot record of {} bytes", v.size());
  size_t name_len = Little(v, fixed - 2, 2);
  // A record without the trailing guid (written before it existed) gets one
  // derived from its txg and root, stable across reads.
  bool more = v.size() == fixed + name_len + 8 + kMoreCopiesEncodedSize;
  bool has_guid = more || v.size() == fixed + name_len + 8;
  if (!has_guid && v.size() != fixed + name_len) {
    return Err(Code::kCorruption, "snapshot record of {} bytes", v.size());
  }
  SnapshotRecord r{.name = std::string(v.substr(fixed, name_len)),
                   .txg = Little(v, 0, 8),
                   .created_unix = Little(v, 8, 8),
                   .root = PtrAt(v, 16)};
  if (more) MoreCopiesAt(v, fixed + name_len + 8, &r.root);
  if (!r.root.IsNull() && !CopiesWellFormed(r.root)) return Err(Code::kCorruption, "snapshot record: malformed copies");
  r.guid = has_guid ? Little(v, fixed + name_len, 8) : 0;
  if (r.guid == 0) r.guid = (r.txg * 0x9E3779B97F4A7C15ull) ^ r.root.checksum ^ 1;
  return r;
}

std::string EncodeDeadEntry(const DeadEntry& e) {
  std::string out;
  AppendLittle(out, e.birth, 8);
  AppendLittle(out, e.blocks, 4);
  AppendLittle(out, e.copy_address, 8);
  if (e.more_copies[0] != 0) {
    for (uint64_t a : e.more_copies) AppendLittle(out, a, 8);
  }
  return out;
}

Result<DeadEntry> DecodeDeadEntry(std::string_view v) {
  if (v.size() != 20 && v.size() != 20 + kMoreCopiesEncodedSize) {
    return Err(Code::kCorruption, "dead list entry of {} bytes", v.size());
  }
  DeadEntry e{.birth = Little(v, 0, 8),
              .blocks = static_cast<uint32_t>(Little(v, 8, 4)),
              .copy_address = Little(v, 12, 8)};
  for (size_t i = 0; v.size() > 20 && i < e.more_copies.size(); i++) e.more_copies[i] = Little(v, 20 + 8 * i, 8);
  return e;
}

std::vector<uint64_t> DeadEntry::CopyAddresses(uint64_t address) const {
  BlockPtr ptr{.address = address, .copy_address = copy_address, .more_copies = more_copies};
  return ptr.CopyAddresses();
}

}  // namespace tessera
