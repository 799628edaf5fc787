// INI tokenizer for exNode text.
//
// Design notes
//  1. Lines are split on '\n' only; a trailing '\r' is trimmed with the other
//     blanks, so CRLF text reads the same as LF text.
//  2. Comments are whole lines only. A '#' or ';' after a key's '=' belongs
//     to the value (capabilities and queries may contain them).
//  3. Only the first '=' splits key from value.
#include "core/exnode/ini_reader.h"

#include "core/exnode/exnode_internal.h"

namespace tessera::exnode_internal {
namespace {

std::string_view Trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

Result<std::vector<IniSection>> ReadIni(std::string_view text) {
  std::vector<IniSection> sections;
  int line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_number;
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.find('\0') != std::string_view::npos) {
      return Err(Code::kInvalidArgument, "line {}: contains a NUL byte", line_number);
    }
    if (line.front() == '[') {
      std::string_view name = line.substr(1, line.size() >= 2 ? line.size() - 2 : 0);
      bool ok = line.size() >= 3 && line.back() == ']' &&
                name.find_first_of("[] \t") == std::string_view::npos;
      if (!ok) {
        return Err(Code::kInvalidArgument, "line {}: malformed section header '{}'",
                   line_number, line);
      }
      sections.push_back({name, line_number, {}});
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return Err(Code::kInvalidArgument, "line {}: expected key=value or [section], got '{}'",
                 line_number, line);
    }
    std::string_view key = Trim(line.substr(0, eq));
    if (!IsValidKey(key)) {
      return Err(Code::kInvalidArgument, "line {}: key '{}' is not [A-Za-z0-9_.:-]+",
                 line_number, key);
    }
    if (sections.empty()) {
      return Err(Code::kInvalidArgument, "line {}: key '{}' appears before any [section]",
                 line_number, key);
    }
    sections.back().entries.push_back({key, Trim(line.substr(eq + 1)), line_number});
  }
  return sections;
}

}  // namespace tessera::exnode_internal
