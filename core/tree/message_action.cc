// The built-in upsert actions.
//
// Design notes
//  1. Counter add: value is int64 LE; absent (or shorter than 8 bytes) reads
//     as zero-extended; addition wraps (two's complement). A param that is not
//     exactly 8 bytes leaves the value unchanged.
//  2. Bit set / clear: value is a little-endian bitmap, bit i in byte i/8 at
//     position i%8. Set grows the value with zero bytes as needed (up to
//     kMaxBitmapBytes); clear never grows and leaves "absent" absent.
//  3. A malformed param or unknown id leaves the value unchanged; Tree::Upsert
//     rejects unknown ids before they are buffered.
#include <cstring>

#include "core/tree/message_action.h"
#include "core/util/endian.h"

namespace tessera {
namespace {

constexpr size_t kMaxBitmapBytes = 64 * 1024;

std::optional<std::string> Unchanged(std::optional<std::string_view> old_value) {
  if (!old_value) return std::nullopt;
  return std::string(*old_value);
}

}  // namespace

bool DefaultMessageActions::Knows(ActionId id) const {
  return id == kActionCounterAdd || id == kActionBitSet || id == kActionBitClear;
}

std::optional<std::string> DefaultMessageActions::Apply(ActionId id,
                                                        std::optional<std::string_view> old_value,
                                                        std::string_view param) const {
  switch (id) {
    case kActionCounterAdd: {
      if (param.size() != 8) return Unchanged(old_value);
      uint64_t delta = GetU64(reinterpret_cast<const std::byte*>(param.data()));
      uint64_t base = static_cast<uint64_t>(old_value ? DecodeCounter(*old_value) : 0);
      std::string out(8, '\0');
      PutU64(reinterpret_cast<std::byte*>(out.data()), base + delta);
      return out;
    }
    case kActionBitSet: {
      if (param.size() != 4) return Unchanged(old_value);
      uint32_t bit = GetU32(reinterpret_cast<const std::byte*>(param.data()));
      size_t byte = bit / 8;
      if (byte >= kMaxBitmapBytes) return Unchanged(old_value);
      std::string out = old_value ? std::string(*old_value) : std::string();
      if (out.size() <= byte) out.resize(byte + 1, '\0');
      out[byte] = static_cast<char>(static_cast<uint8_t>(out[byte]) | (1u << (bit % 8)));
      return out;
    }
    case kActionBitClear: {
      if (param.size() != 4 || !old_value) return Unchanged(old_value);
      uint32_t bit = GetU32(reinterpret_cast<const std::byte*>(param.data()));
      size_t byte = bit / 8;
      std::string out(*old_value);
      if (byte < out.size()) {
        out[byte] = static_cast<char>(static_cast<uint8_t>(out[byte]) & ~(1u << (bit % 8)));
      }
      return out;
    }
    default:
      return Unchanged(old_value);
  }
}

std::string CounterDelta(int64_t delta) {
  std::string out(8, '\0');
  PutU64(reinterpret_cast<std::byte*>(out.data()), static_cast<uint64_t>(delta));
  return out;
}

std::string BitIndex(uint32_t bit) {
  std::string out(4, '\0');
  PutU32(reinterpret_cast<std::byte*>(out.data()), bit);
  return out;
}

int64_t DecodeCounter(std::string_view value) {
  uint64_t v = 0;
  std::memcpy(&v, value.data(), value.size() < 8 ? value.size() : 8);
  return static_cast<int64_t>(v);
}

}  // namespace tessera
