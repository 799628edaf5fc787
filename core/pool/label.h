// The vdev label: one 4 KiB block at the start and one at the end of every
// vdev. Both copies are written identically; either one that verifies is
// accepted. Layout (little-endian, see docs/format/label.md):
//
//   off  size  field
//     0     8  magic "TSRALBL1"
//     8     4  version (1)
//    12     4  reserved, zero
//    16    16  pool uuid
//    32     8  vdev guid
//    40     1  tier (0..3)
//    41     1  reserved, zero
//    42     2  index within tier
//    44     4  reserved, zero
//    48     8  size in blocks (the whole vdev, as created)
//    56    64  vdev name, NUL-padded
//   120   120  the pool's lease (pool_lease.h), in block 0 of the fastest
//              tier's vdevs only; zero elsewhere and in pools never leased:
//   120     8    magic "TSRALSE1"
//   128     8    holder (random per open, nonzero)
//   136     8    sequence (grows with every renewal)
//   144     8    host id (a hash of the holder's machine and boot)
//   152     8    time of the renewal, unix milliseconds (the holder's clock)
//   160     4    renewal interval, milliseconds
//   164     4    holder's pid
//   168     4    state: 1 held, 2 released
//   172     4    reserved, zero
//   176    64    holder's host name, NUL-padded
//   240  3848  reserved, zero
//  4088     8  XXH3-64 of bytes [0, 4088)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/pool/address.h"
#include "core/util/status.h"
#include "core/util/units.h"
#include "core/util/uuid.h"

namespace tessera {

inline constexpr char kLabelMagic[8] = {'T', 'S', 'R', 'A', 'L', 'B', 'L', '1'};
inline constexpr uint32_t kLabelVersion = 1;
inline constexpr size_t kLabelNameBytes = 64;
inline constexpr size_t kLabelChecksumOffset = kBlockSize - 8;

struct VdevLabel {
  Uuid pool_uuid{};
  uint64_t vdev_guid = 0;
  Tier tier = Tier::kFastest;
  uint16_t index = 0;
  uint64_t size_blocks = 0;
  std::string name;

  bool operator==(const VdevLabel&) const = default;
};

// Who holds the pool (pool_lease.h), as block 0 of a metadata vdev's label
// records it.
struct LeaseRecord {
  enum class State : uint32_t { kHeld = 1, kReleased = 2 };
  uint64_t holder = 0;
  uint64_t sequence = 0;
  uint64_t host_id = 0;
  uint64_t time_ms = 0;
  uint32_t interval_ms = 0;
  uint32_t pid = 0;
  State state = State::kHeld;
  std::string host_name;  // at most 63 bytes are kept

  bool operator==(const LeaseRecord&) const = default;
};

// `out` is exactly one block; `lease`, when given, is written at offset 120.
void EncodeLabel(const VdevLabel& label, std::span<std::byte> out, const LeaseRecord* lease = nullptr);
// Corruption when the magic, version, checksum or fields don't verify.
Result<VdevLabel> DecodeLabel(std::span<const std::byte> block);
// The lease of a label block that DecodeLabel accepts; nullopt when it has
// none (or the block is not a valid label, or its lease fields are not).
std::optional<LeaseRecord> DecodeLease(std::span<const std::byte> block);

}  // namespace tessera
