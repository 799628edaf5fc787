// Random identifiers for pools and vdevs.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace tessera {

using Uuid = std::array<uint8_t, 16>;

Uuid RandomUuid();
uint64_t RandomU64();
std::string UuidToString(const Uuid& uuid);

}  // namespace tessera
