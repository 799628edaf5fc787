#include "core/util/size.h"

#include <cctype>

namespace tessera {

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view digits = text;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) i++;
  if (i == 0) return Err(Code::kInvalidArgument, "size '{}' does not start with a number", text);
  digits = text.substr(0, i);
  std::string_view suffix = text.substr(i);
  uint32_t shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      case 'B': shift = 0; break;
      default: return Err(Code::kInvalidArgument, "size '{}' has unknown unit '{}'", text, suffix);
    }
    std::string_view rest = suffix.substr(1);
    if (suffix[0] != 'B' && suffix[0] != 'b' && !rest.empty() && rest != "iB" && rest != "B") {
      return Err(Code::kInvalidArgument, "size '{}' has unknown unit '{}'", text, suffix);
    }
    if ((suffix[0] == 'B' || suffix[0] == 'b') && !rest.empty()) {
      return Err(Code::kInvalidArgument, "size '{}' has unknown unit '{}'", text, suffix);
    }
  }
  uint64_t value = 0;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - d) / 10) return Err(Code::kInvalidArgument, "size '{}' overflows", text);
    value = value * 10 + d;
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) {
    return Err(Code::kInvalidArgument, "size '{}' overflows", text);
  }
  return value << shift;
}

std::string FormatSize(uint64_t bytes) {
  static const char* kUnits[] = {"", "K", "M", "G", "T", "P"};
  int unit = 0;
  double value = static_cast<double>(bytes);
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    unit++;
  }
  if (unit == 0) return fmt::format("{}", bytes);
  if (value == static_cast<double>(static_cast<uint64_t>(value))) {
    return fmt::format("{}{}", static_cast<uint64_t>(value), kUnits[unit]);
  }
  return fmt::format("{:.1f}{}", value, kUnits[unit]);
}

}  // namespace tessera
