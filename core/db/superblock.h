// The superblock: the root of all committed state. Two slots (blocks 1 and 2)
// on every vdev of the fastest tier; txg N is written to slot N % 2, so the
// previous commit's superblock is never overwritten by the next one.
// Layout (little-endian, see docs/format/superblock.md):
//
//   off  size  field
//     0     8  magic "TSRASUP1"
//     8     4  version (1)
//    12     4  reserved, zero
//    16    16  pool uuid
//    32     8  txg
//    40     8  next dataset id
//    48     8  commit time (unix seconds)
//    56    29  root tree BlockPtr (core/tree/node_store.h encoding)
//    85  4003  reserved, zero
//  4088     8  XXH3-64 of bytes [0, 4088)
#pragma once

#include <cstdint>
#include <span>

#include "core/tree/node_store.h"
#include "core/util/status.h"
#include "core/util/uuid.h"

namespace tessera {

inline constexpr char kSuperblockMagic[8] = {'T', 'S', 'R', 'A', 'S', 'U', 'P', '1'};
inline constexpr uint32_t kSuperblockVersion = 1;

struct Superblock {
  Uuid pool_uuid{};
  uint64_t txg = 0;
  uint64_t next_dataset_id = 1;
  uint64_t commit_time = 0;
  BlockPtr root;
};

void EncodeSuperblock(const Superblock& sb, std::span<std::byte> block);
Result<Superblock> DecodeSuperblock(std::span<const std::byte> block);

}  // namespace tessera
