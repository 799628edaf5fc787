#include "core/db/superblock.h"

#include <algorithm>
#include <cstring>

#include "core/util/checksum.h"
#include "core/util/endian.h"
#include "core/util/units.h"

namespace tessera {
namespace {
constexpr size_t kChecksumOffset = kBlockSize - 8;
constexpr size_t kCopiesOffset = 56 + kBlockPtrEncodedSize;
static_assert(kCopiesOffset + 4 <= kChecksumOffset);
}  // namespace

void EncodeSuperblock(const Superblock& sb, std::span<std::byte> block) {
  std::fill(block.begin(), block.end(), std::byte{0});
  std::byte* p = block.data();
  std::memcpy(p, kSuperblockMagic, 8);
  const bool v3 = sb.metadata_copies > 2 || sb.root.more_copies[0] != 0;
  PutU32(p + 8, v3 ? kSuperblockVersion : kSuperblockVersionTwoCopies);
  std::memcpy(p + 16, sb.pool_uuid.data(), 16);
  PutU64(p + 32, sb.txg);
  PutU64(p + 40, sb.next_dataset_id);
  PutU64(p + 48, sb.commit_time);
  if (v3) {
    EncodeBlockPtr(sb.root, p + 56);
    PutU32(p + kCopiesOffset, sb.metadata_copies);
  } else {
    std::byte ptr[kBlockPtrEncodedSize];
    EncodeBlockPtr(sb.root, ptr);
    std::memcpy(p + 56, ptr, kBlockPtrV2EncodedSize);
  }
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
  const uint32_t version = GetU32(p + 8);
  if (version != kSuperblockVersion && version != kSuperblockVersionTwoCopies) {
    return Err(Code::kInvalidArgument,
               "pool format version {} is not supported: this build reads versions {} and {}",
               version, kSuperblockVersionTwoCopies, kSuperblockVersion);
  }
  Superblock sb;
  std::memcpy(sb.pool_uuid.data(), p + 16, 16);
  sb.txg = GetU64(p + 32);
  sb.next_dataset_id = GetU64(p + 40);
  sb.commit_time = GetU64(p + 48);
  if (version == kSuperblockVersion) {
    sb.root = DecodeBlockPtr(p + 56);
    sb.metadata_copies = GetU32(p + kCopiesOffset);
    if (sb.metadata_copies < 1 || sb.metadata_copies > kMaxNodeCopies) {
      return Err(Code::kCorruption, "superblock: metadata copies {} out of range", sb.metadata_copies);
    }
  } else {
    sb.root = DecodeBlockPtrV2(p + 56);
  }
  if (!sb.root.IsNull() && !CopiesWellFormed(sb.root)) return Err(Code::kCorruption, "superblock: malformed root copies");
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
