#include "core/pool/label.h"

#include <algorithm>
#include <cstring>

#include "core/pool/pool.h"
#include "core/util/checksum.h"
#include "core/util/endian.h"

namespace tessera {

namespace {

constexpr char kLeaseMagic[8] = {'T', 'S', 'R', 'A', 'L', 'S', 'E', '1'};
constexpr size_t kLeaseOffset = 120;
constexpr size_t kLeaseHostBytes = 64;

}  // namespace

void EncodeLabel(const VdevLabel& label, std::span<std::byte> out, const LeaseRecord* lease) {
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
  if (lease != nullptr) {
    std::byte* l = p + kLeaseOffset;
    std::memcpy(l, kLeaseMagic, 8);
    PutU64(l + 8, lease->holder);
    PutU64(l + 16, lease->sequence);
    PutU64(l + 24, lease->host_id);
    PutU64(l + 32, lease->time_ms);
    PutU32(l + 40, lease->interval_ms);
    PutU32(l + 44, lease->pid);
    PutU32(l + 48, static_cast<uint32_t>(lease->state));
    std::memcpy(l + 56, lease->host_name.data(), std::min(lease->host_name.size(), kLeaseHostBytes - 1));
  }
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

std::optional<LeaseRecord> DecodeLease(std::span<const std::byte> block) {
  if (!DecodeLabel(block)) return std::nullopt;
  const std::byte* l = block.data() + kLeaseOffset;
  if (std::memcmp(l, kLeaseMagic, 8) != 0) return std::nullopt;
  LeaseRecord lease{.holder = GetU64(l + 8), .sequence = GetU64(l + 16), .host_id = GetU64(l + 24),
                    .time_ms = GetU64(l + 32), .interval_ms = GetU32(l + 40), .pid = GetU32(l + 44)};
  const uint32_t state = GetU32(l + 48);
  if (lease.holder == 0 || (state != 1 && state != 2)) return std::nullopt;
  lease.state = static_cast<LeaseRecord::State>(state);
  const char* host = reinterpret_cast<const char*>(l + 56);
  lease.host_name.assign(host, strnlen(host, kLeaseHostBytes - 1));
  return lease;
}

}  // namespace tessera
