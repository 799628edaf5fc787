#include "core/db/superblock.h"

#include <algorithm>
#include <cstring>

#include "core/util/checksum.h"
#include "core/util/endian.h"
#include "core/util/units.h"

namespace tessera {
namespace {
constexpr size_t kChecksumOffset = kBlockSize - 8;
static_assert(56 + kBlockPtrEncodedSize <= kChecksumOffset);
}  // namespace

void EncodeSuperblock(const Superblock& sb, std::span<std::byte> block) {
  std::fill(block.begin(), block.end(), std::byte{0});
  std::byte* p = block.data();
  std::memcpy(p, kSuperblockMagic, 8);
  PutU32(p + 8, kSuperblockVersion);
  std::memcpy(p + 16, sb.pool_uuid.data(), 16);
  PutU64(p + 32, sb.txg);
  PutU64(p + 40, sb.next_dataset_id);
  PutU64(p + 48, sb.commit_time);
  EncodeBlockPtr(sb.root, p + 56);
  PutU64(p + kChecksumOffset, Checksum64(p, kChecksumOffset));
}

Result<Superblock> DecodeSuperblock(std::span<const std::byte> block) {
  const std::byte* p = block.data();
  if (block.size() != kBlockSize || std::memcmp(p, kSuperblockMagic, 8) != 0) {
    return Err(Code::kCorruption, "no superblock (bad magic)");
  }
  if (GetU64(p + kChecksumOffset) != Checksum64(p, kChecksumOffset)) {
    return Err(Code::kCorruption, "superblock checksum mismatch");
  }
  if (GetU32(p + 8) != kSuperblockVersion) {
    return Err(Code::kInvalidArgument,
               "pool format version {} is not supported: this build reads version {} only",
               GetU32(p + 8), kSuperblockVersion);
  }
  Superblock sb;
  std::memcpy(sb.pool_uuid.data(), p + 16, 16);
  sb.txg = GetU64(p + 32);
  sb.next_dataset_id = GetU64(p + 40);
  sb.commit_time = GetU64(p + 48);
  sb.root = DecodeBlockPtr(p + 56);
  return sb;
}

std::optional<Uuid> SuperblockPoolUuid(std::span<const std::byte> block) {
  const std::byte* p = block.data();
  if (block.size() != kBlockSize || std::memcmp(p, kSuperblockMagic, 8) != 0 ||
      GetU64(p + kChecksumOffset) != Checksum64(p, kChecksumOffset)) {
    return std::nullopt;
  }
  Uuid uuid;
  std::memcpy(uuid.data(), p + 16, 16);
  return uuid;
}

}  // namespace tessera
