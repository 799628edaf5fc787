#include "core/pool/label.h"

#include <algorithm>
#include <cstring>

#include "core/pool/pool.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"

namespace tessera {

void EncodeLabel(const VdevLabel& label, std::span<std::byte> out) {
  std::fill(out.begin(), out.end(), std::byte{0});
  std::byte* p = out.data();
  std::memcpy(p, kLabelMagic, 8);
  PutU32(p + 8, kLabelVersion);
  std::memcpy(p + 16, label.pool_uuid.data(), 16);
  PutU64(p + 32, label.vdev_guid);
  p[40] = static_cast<std::byte>(label.tier);
  PutU16(p + 42, label.index);
  PutU64(p + 48, label.size_blocks);
  std::memcpy(p + 56, label.name.data(), std::min(label.name.size(), kLabelNameBytes - 1));
  PutU64(p + kLabelChecksumOffset, Checksum64(p, kLabelChecksumOffset));
}

Result<VdevLabel> DecodeLabel(std::span<const std::byte> block) {
  if (block.size() != kBlockSize) return Err(Code::kInvalidArgument, "label must be one block");
  const std::byte* p = block.data();
  if (std::memcmp(p, kLabelMagic, 8) != 0) return Err(Code::kCorruption, "no Tessera label (bad magic)");
  if (GetU64(p + kLabelChecksumOffset) != Checksum64(p, kLabelChecksumOffset)) {
    return Err(Code::kCorruption, "label checksum mismatch");
  }
  if (GetU32(p + 8) != kLabelVersion) {
    return Err(Code::kCorruption, "label version {} is not supported", GetU32(p + 8));
  }
  VdevLabel label;
  std::memcpy(label.pool_uuid.data(), p + 16, 16);
  label.vdev_guid = GetU64(p + 32);
  uint8_t tier = static_cast<uint8_t>(p[40]);
  if (tier >= kTierCount) return Err(Code::kCorruption, "label tier {} out of range", tier);
  label.tier = static_cast<Tier>(tier);
  label.index = GetU16(p + 42);
  if (label.index >= kMaxVdevsPerTier) return Err(Code::kCorruption, "label index {} out of range", label.index);
  label.size_blocks = GetU64(p + 48);
  // The pool places the end label at size_blocks - 1 and addresses blocks
  // with kMaxBlock bits: a size outside this range would wrap either.
  if (label.size_blocks < kFirstUsableBlock + 2 || label.size_blocks > kMaxBlock + 1) {
    return Err(Code::kCorruption, "label size of {} blocks is out of range [{}, {}]", label.size_blocks,
               kFirstUsableBlock + 2, kMaxBlock + 1);
  }
  const char* name = reinterpret_cast<const char*>(p + 56);
  size_t name_len = strnlen(name, kLabelNameBytes);
  // EncodeLabel keeps a NUL: a full field would not read back the same.
  if (name_len == kLabelNameBytes) return Err(Code::kCorruption, "label name is not NUL-terminated");
  label.name.assign(name, name_len);
  return label;
}

}  // namespace tessera
