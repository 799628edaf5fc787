#include "core/util/uuid.h"

#include <random>

#include <fmt/core.h>

namespace tessera {

uint64_t RandomU64() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

Uuid RandomUuid() {
  Uuid uuid;
  for (size_t i = 0; i < uuid.size(); i += 8) {
    uint64_t r = RandomU64();
    for (size_t j = 0; j < 8; j++) uuid[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  return uuid;
}

std::string UuidToString(const Uuid& u) {
  std::string out;
  for (size_t i = 0; i < u.size(); i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += fmt::format("{:02x}", u[i]);
  }
  return out;
}

}  // namespace tessera
