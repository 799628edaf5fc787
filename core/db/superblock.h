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
//    56    37  root tree BlockPtr, version-2 part (core/tree/node_store.h)
//    93    56  version 3: the root's more_copies addresses; else reserved
//   149     4  version 3: metadata copies (the pool's setting, 1..9); else
//              reserved (version 2 means 2)
//   153  3935  reserved, zero
//  4088     8  XXH3-64 of bytes [0, 4088)
//
// Version history: 1 had 29-byte block pointers and one copy of every node;
// 2 adds the second-copy address to every block pointer (and dead-list
// entries); 3 lets a node have up to kMaxNodeCopies copies and records how
// many the pool keeps. Versions 2 and 3 are read. Version 3 is written only
// when the pool keeps more than two copies (or the root has a third), so a
// pool that never does stays version 2, readable by builds that know only
// version 2; a build that knows only 2 refuses a version-3 pool with a clear
// error. Other versions are refused.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/tree/node_store.h"
#include "core/util/status.h"
#include "core/util/uuid.h"

namespace tessera {

inline constexpr char kSuperblockMagic[8] = {'T', 'S', 'R', 'A', 'S', 'U', 'P', '1'};
inline constexpr uint32_t kSuperblockVersion = 3;
inline constexpr uint32_t kSuperblockVersionTwoCopies = 2;

struct Superblock {
  Uuid pool_uuid{};
  uint64_t txg = 0;
  uint64_t next_dataset_id = 1;
  uint64_t commit_time = 0;
  BlockPtr root;
  uint32_t metadata_copies = 2;  // the pool's setting (Database::RequireMetadataCopies)
};

void EncodeSuperblock(const Superblock& sb, std::span<std::byte> block);
// Corruption when the magic or checksum does not verify; InvalidArgument
// (naming the versions) when it verifies but has another version.
Result<Superblock> DecodeSuperblock(std::span<const std::byte> block);
// The pool uuid of a block whose magic and checksum verify, whatever its
// version; nullopt otherwise.
std::optional<Uuid> SuperblockPoolUuid(std::span<const std::byte> block);

}  // namespace tessera
