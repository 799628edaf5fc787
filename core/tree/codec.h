// On-disk form of tree nodes. Internal to core/tree.
//
// Stored form = 32-byte header + payload (zstd-compressed when the header's
// compression byte says so). All fields little-endian.
//
//   off size field
//     0    4 magic "TBEN" (kNodeMagic)
//     4    1 version (2: 37-byte block pointers with a second copy address;
//              3: kBlockPtrEncodedSize pointers, up to kMaxNodeCopies copies)
//     5    1 type: 1 = leaf, 2 = internal
//     6    2 level (0 for leaves)
//     8    4 count: leaf entries, or children of an internal node
//    12    4 payload_bytes (uncompressed)
//    16    4 stored_payload_bytes (bytes after the header)
//    20    1 compression (Compression)
//    21    3 reserved, zero
//    24    8 payload checksum: XXH3-64 of the uncompressed payload
//
// Leaf payload:      count x (u16 key_len, u32 value_len, key, value), keys
//                    strictly increasing.
// Internal payload:  count x BlockPtr (37 bytes in version 2,
//                    kBlockPtrEncodedSize in version 3)
//                    (count-1) x (u16 len, pivot), strictly increasing
//                    count x buffer: u32 points, u32 ranges,
//                      ranges x (u16 lo_len, lo, u16 hi_len, hi)
//                      points x (u16 key_len, key, u8 type, u32 len, payload)
//
// The parent's BlockPtr covers the stored form: stored_bytes and checksum
// (XXH3-64 of all stored bytes, before padding to 4 KiB blocks).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/tree/node.h"
#include "core/tree/node_store.h"
#include "core/util/status.h"

namespace tessera {

inline constexpr uint32_t kNodeMagic = 0x4E454254;  // "TBEN"
// Version 3 carries up to kMaxNodeCopies copy addresses per child pointer;
// version 2 (two at most) is still read, and written for nodes whose
// children have at most two copies (codec.cc, design note 4).
inline constexpr uint8_t kNodeVersion = 3;
inline constexpr uint8_t kNodeVersionTwoCopies = 2;
inline constexpr uint32_t kAnyLevel = UINT32_MAX;
// Decoding refuses payloads larger than this (garbage protection).
inline constexpr uint32_t kMaxNodePayload = 256u << 20;

// Encodes `node` into its stored form (zstd when `compress` and it helps).
// Sets `*compression` to what was used. Precondition: no dirty children.
std::string EncodeNode(const Node& node, bool compress, Compression* compression);

// Verifies `stored` (exactly ptr.stored_bytes bytes) against `ptr` and
// decodes it. `expected_level` is checked unless kAnyLevel. Any mismatch or
// malformed content yields Corruption naming ptr.address.
Result<std::unique_ptr<Node>> DecodeNode(const BlockPtr& ptr, std::span<const std::byte> stored,
                                         uint32_t expected_level);

// Reads (whole blocks) and decodes the node behind `ptr`.
Result<std::unique_ptr<Node>> ReadNode(NodeStore* store, const BlockPtr& ptr,
                                       uint32_t expected_level);

}  // namespace tessera
