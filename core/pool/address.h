// 64-bit disk addresses: 2-bit tier, 10-bit vdev index, 52-bit block.
//
//   63 62 61        52 51                                   0
//   [tier][  vdev     ][               block                 ]
//
// Block 0 of every vdev holds its label, so raw value 0 never names data and
// serves as "no address".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

enum class Tier : uint8_t { kFastest = 0, kFast = 1, kSlow = 2, kSlowest = 3 };
inline constexpr uint32_t kTierCount = 4;
inline constexpr uint32_t kMaxVdevsPerTier = 1024;
inline constexpr uint64_t kMaxBlock = (uint64_t{1} << 52) - 1;

std::string_view TierName(Tier tier);
// Accepts fastest/fast/slow/slowest (any case) or 0..3.
std::optional<Tier> ParseTier(std::string_view text);

struct DiskAddress {
  uint64_t raw = 0;

  static constexpr DiskAddress Make(Tier tier, uint32_t vdev, uint64_t block) {
    return {(uint64_t{static_cast<uint8_t>(tier)} << 62) | (uint64_t{vdev & 0x3ff} << 52) |
            (block & kMaxBlock)};
  }
  constexpr Tier tier() const { return static_cast<Tier>(raw >> 62); }
  constexpr uint32_t vdev() const { return static_cast<uint32_t>((raw >> 52) & 0x3ff); }
  constexpr uint64_t block() const { return raw & kMaxBlock; }
  constexpr bool IsNull() const { return raw == 0; }
  constexpr auto operator<=>(const DiskAddress&) const = default;
  // "fastest:0:1234"
  std::string ToString() const;
};

// Parses the ToString() form; nullopt when malformed or out of range.
std::optional<DiskAddress> ParseDiskAddress(std::string_view text);

// A data block's capability in an exNode: its disk address, preceded by
// the URI of a remote vdev (an nbd depot, a rados prefix) and '#' when its
// vdev has one: "nbd://depot1/tessera#slow:0:12345". Reading takes the
// address after the last '#' (or the whole text), so the URI only informs:
// the vdev named by the address is the pool's, wherever pool.conf says it
// is now.
std::string BlockCapability(std::string_view vdev_uri, DiskAddress address);
std::optional<DiskAddress> ParseBlockCapability(std::string_view cap);

static_assert(DiskAddress::Make(Tier::kSlowest, 1023, kMaxBlock).raw == UINT64_MAX);

}  // namespace tessera
