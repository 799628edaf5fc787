// What the B-epsilon tree needs from the layer that owns the disk.
//
// The tree never interprets addresses; the database maps them onto the pool
// (core/pool DiskAddress) and the allocator. Tests use MemoryNodeStore.
#pragma once

#include <compare>
#include <cstdint>
#include <span>

#include "core/util/status.h"

namespace tessera {

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };

// A parent's pointer to a child node on disk. Every read through it is
// verified against `checksum` and `stored_bytes`.
struct BlockPtr {
  uint64_t address = 0;        // opaque to the tree; 0 means "none"
  uint32_t stored_bytes = 0;   // bytes on disk (before padding to whole blocks)
  uint64_t checksum = 0;       // XXH3-64 of the stored bytes
  uint64_t birth = 0;          // generation (txg) in which the node was written
  Compression compression = Compression::kNone;

  bool IsNull() const { return address == 0; }
  uint32_t Blocks() const { return (stored_bytes + 4095) / 4096; }
  bool operator==(const BlockPtr&) const = default;
};

// Encoded size of a BlockPtr inside nodes and superblocks.
inline constexpr size_t kBlockPtrEncodedSize = 8 + 4 + 8 + 8 + 1;
void EncodeBlockPtr(const BlockPtr& ptr, std::byte* out);
BlockPtr DecodeBlockPtr(const std::byte* in);

class NodeStore {
 public:
  virtual ~NodeStore() = default;
  // Reserves `blocks` contiguous 4 KiB blocks for a new node.
  virtual Result<uint64_t> Allocate(uint32_t blocks) = 0;
  // `data` is whole blocks.
  virtual Status Write(uint64_t address, std::span<const std::byte> data) = 0;
  virtual Status Read(uint64_t address, std::span<std::byte> data) = 0;
  // The live tree no longer references this node. The store decides whether
  // the blocks are freed now, later, or kept for a snapshot (birth + dead list).
  virtual void Free(const BlockPtr& ptr) = 0;
  // The generation that nodes written now are born in.
  virtual uint64_t CurrentGeneration() const = 0;
};

}  // namespace tessera
