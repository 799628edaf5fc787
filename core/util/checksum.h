// Checksums: XXH3-64 over a byte range. Used by every on-disk structure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tessera {

uint64_t Checksum64(std::span<const std::byte> data, uint64_t seed = 0);
uint64_t Checksum64(const void* data, size_t size, uint64_t seed = 0);

}  // namespace tessera
