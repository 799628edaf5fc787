// What the B-epsilon tree needs from the layer that owns the disk.
//
// The tree never interprets addresses; the database maps them onto the pool
// (core/pool DiskAddress) and the allocator. Tests use MemoryNodeStore.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <span>
#include <vector>

#include "core/util/status.h"

namespace tessera {

enum class Compression : uint8_t { kNone = 0, kZstd = 1 };

// A parent's pointer to a child node on disk. Every read through it is
// verified against `checksum` and `stored_bytes`.
//
// A node may be stored up to kMaxNodeCopies times (ditto copies, see
// docs/architecture.md), each on its own vdev, all holding the same bytes
// under the one checksum, so any copy that verifies is the node. `address`
// names the first copy, `copy_address` the second (0: one copy), and
// `more_copies` the third and later ones, packed from the front (0: none;
// never set while copy_address is 0).
inline constexpr size_t kMaxNodeCopies = 9;  // rs:K+M allows M <= 8: M+1 copies

struct BlockPtr {
  uint64_t address = 0;        // opaque to the tree; 0 means "none"
  uint64_t copy_address = 0;   // second copy, or 0
  uint32_t stored_bytes = 0;   // bytes on disk (before padding to whole blocks)
  uint64_t checksum = 0;       // XXH3-64 of the stored bytes
  uint64_t birth = 0;          // generation (txg) in which the node was written
  Compression compression = Compression::kNone;
  std::array<uint64_t, kMaxNodeCopies - 2> more_copies{};  // third copy on, or 0

  bool IsNull() const { return address == 0; }
  bool HasCopy() const { return copy_address != 0; }
  uint32_t Blocks() const { return (stored_bytes + 4095) / 4096; }
  // The address of every copy, the first copy first.
  std::vector<uint64_t> CopyAddresses() const {
    std::vector<uint64_t> out{address};
    if (copy_address == 0) return out;
    out.push_back(copy_address);
    for (uint64_t a : more_copies) {
      if (a != 0) out.push_back(a);
    }
    return out;
  }
  size_t CopyCount() const { return IsNull() ? 0 : CopyAddresses().size(); }
  // Sets the copies from `addresses` (first copy first; at most
  // kMaxNodeCopies, at least one).
  void SetCopies(std::span<const uint64_t> addresses) {
    address = addresses.empty() ? 0 : addresses[0];
    copy_address = addresses.size() > 1 ? addresses[1] : 0;
    more_copies.fill(0);
    for (size_t i = 2; i < addresses.size() && i < kMaxNodeCopies; i++) more_copies[i - 2] = addresses[i];
  }
  bool operator==(const BlockPtr&) const = default;
};

// Encoded size of a BlockPtr inside nodes and superblocks (format version 3):
// address(8) copy_address(8) stored_bytes(4) checksum(8) birth(8)
// compression(1), then the more_copies addresses (8 each). Version 2 stored
// the first 37 bytes only (two copies at most); DecodeBlockPtrV2 reads it.
inline constexpr size_t kBlockPtrV2EncodedSize = 8 + 8 + 4 + 8 + 8 + 1;
inline constexpr size_t kMoreCopiesEncodedSize = 8 * (kMaxNodeCopies - 2);
inline constexpr size_t kBlockPtrEncodedSize = kBlockPtrV2EncodedSize + kMoreCopiesEncodedSize;
void EncodeBlockPtr(const BlockPtr& ptr, std::byte* out);
BlockPtr DecodeBlockPtr(const std::byte* in);
BlockPtr DecodeBlockPtrV2(const std::byte* in);
// The more_copies part alone (kMoreCopiesEncodedSize bytes), for records
// that append it to a version-2 pointer (core/db/root_keys.h).
void EncodeMoreCopies(const BlockPtr& ptr, std::byte* out);
void DecodeMoreCopies(const std::byte* in, BlockPtr* ptr);
// True when the copies are well formed: a first copy, no address twice,
// more_copies packed and empty without a second copy.
bool CopiesWellFormed(const BlockPtr& ptr);

// True when `data` (at least ptr.stored_bytes long) holds the stored bytes
// `ptr` describes: its first stored_bytes bytes hash to ptr.checksum.
bool StoredBytesVerify(const BlockPtr& ptr, std::span<const std::byte> data);

class NodeStore {
 public:
  virtual ~NodeStore() = default;
  // Reserves ptr->Blocks() contiguous 4 KiB blocks for a new node (and as
  // many again on another device for each further copy the store keeps):
  // sets the pointer's copy addresses. Nothing is reserved on failure.
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
