// Pluggable upsert actions. An upsert message carries an ActionId and a
// parameter; when it reaches the key, the action computes the new value from
// the old one (or from "absent").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

using ActionId = uint8_t;

// Built-in actions.
inline constexpr ActionId kActionCounterAdd = 1;  // param: int64 LE delta; value: int64 LE (absent = 0)
inline constexpr ActionId kActionBitSet = 2;      // param: uint32 LE bit index; value grows as needed
inline constexpr ActionId kActionBitClear = 3;    // param: uint32 LE bit index

class MessageActions {
 public:
  virtual ~MessageActions() = default;
  virtual bool Knows(ActionId id) const = 0;
  // Returns the new value; nullopt means the key becomes absent.
  virtual std::optional<std::string> Apply(ActionId id, std::optional<std::string_view> old_value,
                                           std::string_view param) const = 0;
};

// The built-in actions above.
class DefaultMessageActions : public MessageActions {
 public:
  bool Knows(ActionId id) const override;
  std::optional<std::string> Apply(ActionId id, std::optional<std::string_view> old_value,
                                   std::string_view param) const override;
};

// Parameter encoders for the built-ins.
std::string CounterDelta(int64_t delta);
std::string BitIndex(uint32_t bit);
int64_t DecodeCounter(std::string_view value);

}  // namespace tessera
