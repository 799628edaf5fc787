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
//   120  3968  reserved, zero
//  4088     8  XXH3-64 of bytes [0, 4088)
#pragma once

#include <cstddef>
#include <cstdint>
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

// `out` is exactly one block.
void EncodeLabel(const VdevLabel& label, std::span<std::byte> out);
// Corruption when the magic, version, checksum or fields don't verify.
Result<VdevLabel> DecodeLabel(std::span<const std::byte> block);

}  // namespace tessera
