// The superblock: the root of all committed state. Two slots (blocks 1 and 2)
// on every healthy vdev of the fastest tier that has one, and on vdevs of
// the next tiers until at least two vdevs hold it (Database::SuperblockVdevs);
// txg N is written to slot N % 2, so the previous commit's superblock is
// never overwritten by the next one. Layout (little-endian, see
// docs/format/superblock.md):
//
//   off  size  field
//     0     8  magic "TSRASUP1"
//     8     4  version (2; bytes 0..32 keep their meaning in every version)
//    12     4  reserved, zero
//    16    16  pool uuid
//    32     8  txg
//    40     8  next dataset id
//    48     8  commit time (unix seconds)
//    56    37  root tree BlockPtr (core/tree/node_store.h encoding)
//    93  3995  reserved, zero
//  4088     8  XXH3-64 of bytes [0, 4088)
//
// Version history: 1 had 29-byte block pointers and one copy of every node;
// 2 adds the second-copy address to every block pointer (and dead-list
// entries). A version other than kSuperblockVersion is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/tree/node_store.h"
#include "core/util/status.h"
#include "core/util/uuid.h"

namespace tessera {

inline constexpr char kSuperblockMagic[8] = {'T', 'S', 'R', 'A', 'S', 'U', 'P', '1'};
inline constexpr uint32_t kSuperblockVersion = 2;

struct Superblock {
  Uuid pool_uuid{};
  uint64_t txg = 0;
  uint64_t next_dataset_id = 1;
  uint64_t commit_time = 0;
  BlockPtr root;
};

void EncodeSuperblock(const Superblock& sb, std::span<std::byte> block);
// Corruption when the magic or checksum does not verify; InvalidArgument
// (naming both versions) when it verifies but has another version.
Result<Superblock> DecodeSuperblock(std::span<const std::byte> block);
// The pool uuid of a block whose magic and checksum verify, whatever its
// version; nullopt otherwise.
std::optional<Uuid> SuperblockPoolUuid(std::span<const std::byte> block);

}  // namespace tessera
