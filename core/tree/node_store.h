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
//
// A node may be stored twice (ditto copies, see docs/architecture.md):
// `copy_address` names the second copy, on another vdev, holding the same
// bytes; 0 means the node has one copy. Both copies are covered by the same
// checksum, so either one that verifies is the node.
struct BlockPtr {
  uint64_t address = 0;        // opaque to the tree; 0 means "none"
  uint64_t copy_address = 0;   // second copy, or 0
  uint32_t stored_bytes = 0;   // bytes on disk (before padding to whole blocks)
  uint64_t checksum = 0;       // XXH3-64 of the stored bytes
  uint64_t birth = 0;          // generation (txg) in which the node was written
  Compression compression = Compression::kNone;

  bool IsNull() const { return address == 0; }
  bool HasCopy() const { return copy_address != 0; }
  uint32_t Blocks() const { return (stored_bytes + 4095) / 4096; }
  bool operator==(const BlockPtr&) const = default;
};

// Encoded size of a BlockPtr inside nodes and superblocks:
// address(8) copy_address(8) stored_bytes(4) checksum(8) birth(8) compression(1).
inline constexpr size_t kBlockPtrEncodedSize = 8 + 8 + 4 + 8 + 8 + 1;
void EncodeBlockPtr(const BlockPtr& ptr, std::byte* out);
BlockPtr DecodeBlockPtr(const std::byte* in);

// True when `data` (at least ptr.stored_bytes long) holds the stored bytes
// `ptr` describes: its first stored_bytes bytes hash to ptr.checksum.
bool StoredBytesVerify(const BlockPtr& ptr, std::span<const std::byte> data);

class NodeStore {
 public:
  virtual ~NodeStore() = default;
  // Reserves ptr->Blocks() contiguous 4 KiB blocks for a new node (and as
  // many again on another device when the store keeps two copies): sets
  // ptr->address and ptr->copy_address. Nothing is reserved on failure.
  virtual Status Allocate(BlockPtr* ptr) = 0;
  // Writes `data` (whole blocks) to every copy of `ptr`.
  virtual Status Write(const BlockPtr& ptr, std::span<const std::byte> data) = 0;
  // Fills `data` (whole blocks) with the node's stored bytes. A store that
  // keeps copies returns one that verifies (StoredBytesVerify), repairs a bad
  // one from it, and fails with Corruption when no copy verifies; a store
  // with one copy may return unverified bytes. The caller (the codec)
  // verifies again before decoding.
  virtual Status Read(const BlockPtr& ptr, std::span<std::byte> data) = 0;
  // The live tree no longer references this node. The store decides whether
  // the blocks (of every copy) are freed now, later, or kept for a snapshot
  // (birth + dead list).
  virtual void Free(const BlockPtr& ptr) = 0;
  // The generation that nodes written now are born in.
  virtual uint64_t CurrentGeneration() const = 0;
};

}  // namespace tessera
