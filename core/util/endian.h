// Little-endian fixed-width encoding for on-disk structures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <bit>
#include <cstring>

namespace tessera {

inline void PutU16(std::byte* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void PutU32(std::byte* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void PutU64(std::byte* p, uint64_t v) { std::memcpy(p, &v, 8); }
inline uint16_t GetU16(const std::byte* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t GetU32(const std::byte* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t GetU64(const std::byte* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

// Big-endian, for keys whose integers must sort numerically byte by byte.
inline void PutU64BigEndian(std::byte* p, uint64_t v) { PutU64(p, std::byteswap(v)); }
inline uint64_t GetU64BigEndian(const std::byte* p) { return std::byteswap(GetU64(p)); }

static_assert(std::endian::native == std::endian::little, "on-disk formats assume little-endian");

}  // namespace tessera
