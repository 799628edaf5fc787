// A small INI tokenizer for exNode text. Internal to core/exnode.
//
// Contract
//  1. ReadIni splits text into sections of key=value entries, keeping the
//     order of sections and entries and the 1-based line number of each.
//  2. It knows nothing of exNode semantics: duplicate sections and keys are
//     returned as they are; the caller decides.
//  3. The returned string_views point into `text`; it must outlive them.
//  4. On a malformed line it returns InvalidArgument "line N: ..." and no
//     sections.
#pragma once

#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera::exnode_internal {

struct IniEntry {
  std::string_view key;
  std::string_view value;
  int line = 0;
};

struct IniSection {
  std::string_view name;  // between the brackets
  int line = 0;
  std::vector<IniEntry> entries;
};

// The grammar, per line after trimming spaces, tabs and a trailing CR:
//   empty, or starting with '#' or ';'   -> ignored (not preserved)
//   "[" name "]"                        -> starts a section; name non-empty,
//                                          no brackets or blanks inside
//   key "=" value                       -> key (trimmed) is [A-Za-z0-9_.:-]+;
//                                          value is trimmed, may be empty and
//                                          may contain '=', '#', ';'
Result<std::vector<IniSection>> ReadIni(std::string_view text);

}  // namespace tessera::exnode_internal
