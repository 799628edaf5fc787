// exNode text form: ParseExnode and SerializeExnode.
//
// Design notes
//  1. Parsing runs in three passes: ReadIni (lines -> sections), per-section
//     conversion (section kinds, required and repeated keys, ids), then
//     ValidateExnodeAt (cross-references), each error naming its line. The
//     model is returned only after all three pass, so no caller ever sees a
//     partially parsed exNode.
//  2. Canonical text, written by SerializeExnode:
//       [exnode] name, id | [view] default, segment... | each [segment-ID]
//       type then params in model order | each [block-ID] read_cap,
//       write_cap, manage_cap, size, max_size, vdev then extra keys.
//     Sections are separated by one blank line; every line ends in '\n'.
//     Comments and blank lines of the input are not preserved.
//  3. Sections may appear in any order in the input; segments and blocks keep
//     their relative input order in the model. So canonical text round-trips
//     byte for byte, and any valid model round-trips through text.
//  4. A section name is identified by its canonical spelling (ids have no
//     leading zeros), so duplicate detection by name is exact.
#include <iterator>
#include <map>

#include <fmt/format.h>

#include "core/exnode/exnode.h"
#include "core/exnode/exnode_internal.h"
#include "core/exnode/ini_reader.h"

namespace tessera {
namespace {

using exnode_internal::IniEntry;
using exnode_internal::IniSection;
using exnode_internal::SourceLines;

// Splits a section's entries: each key of `singles` must appear exactly once
// (found[i] is its entry); `repeatable` may appear any number of times; other
// keys go to the returned list when `allow_other`, else are an error.
Result<std::vector<const IniEntry*>> SplitKeys(const IniSection& sec,
                                               std::span<const std::string_view> singles,
                                               std::vector<const IniEntry*>& found,
                                               std::string_view repeatable, bool allow_other) {
  found.assign(singles.size(), nullptr);
  std::vector<const IniEntry*> others;
  for (const IniEntry& entry : sec.entries) {
    size_t i = 0;
    while (i < singles.size() && singles[i] != entry.key) ++i;
    if (i < singles.size()) {
      if (found[i] != nullptr) {
        return Err(Code::kInvalidArgument, "line {}: [{}] key '{}' repeated (first at line {})",
                   entry.line, sec.name, entry.key, found[i]->line);
      }
      found[i] = &entry;
    } else if (entry.key == repeatable || allow_other) {
      others.push_back(&entry);
    } else {
      return Err(Code::kInvalidArgument, "line {}: [{}] unknown key '{}'", entry.line, sec.name,
                 entry.key);
    }
  }
  for (size_t i = 0; i < singles.size(); ++i) {
    if (found[i] == nullptr) {
      return Err(Code::kInvalidArgument, "line {}: [{}] key '{}' missing", sec.line, sec.name,
                 singles[i]);
    }
  }
  return others;
}

Result<uint64_t> IdAt(const IniEntry& entry) {
  auto id = ParseId63(entry.value);
  if (!id) return Err(Code::kInvalidArgument, "line {}: {}", entry.line, id.error().message());
  return *id;
}

Result<uint64_t> U64At(const IniEntry& entry, std::string_view section) {
  auto value = ParseU64Decimal(entry.value);
  if (!value) {
    return Err(Code::kInvalidArgument, "line {}: [{}] key '{}': {}", entry.line, section,
               entry.key, value.error().message());
  }
  return *value;
}

Status ReadExnodeSection(const IniSection& sec, Exnode& ex, SourceLines& lines) {
  static constexpr std::string_view kKeys[] = {"name", "id"};
  std::vector<const IniEntry*> found;
  TRY(SplitKeys(sec, kKeys, found, "", false));
  ex.name = std::string(found[0]->value);
  ex.id = TRY(IdAt(*found[1]));
  lines.exnode_header = sec.line;
  return Ok();
}

Status ReadViewSection(const IniSection& sec, Exnode& ex, SourceLines& lines) {
  static constexpr std::string_view kKeys[] = {"default"};
  std::vector<const IniEntry*> found;
  auto segments = TRY(SplitKeys(sec, kKeys, found, "segment", false));
  ex.default_segment = TRY(IdAt(*found[0]));
  lines.view_header = sec.line;
  lines.view_default = found[0]->line;
  for (const IniEntry* entry : segments) {
    ex.view_segments.push_back(TRY(IdAt(*entry)));
    lines.view_segments.push_back(entry->line);
  }
  return Ok();
}

Status ReadSegmentSection(const IniSection& sec, uint64_t id, Exnode& ex, SourceLines& lines) {
  static constexpr std::string_view kKeys[] = {"type"};
  std::vector<const IniEntry*> found;
  auto params = TRY(SplitKeys(sec, kKeys, found, "", true));
  auto type = ParseSegmentType(found[0]->value);
  if (!type) {
    return Err(Code::kInvalidArgument, "line {}: [{}] {}", found[0]->line, sec.name,
               type.error().message());
  }
  ExnodeSegment seg{id, *type, {}};
  std::vector<int> param_lines;
  for (const IniEntry* entry : params) {
    seg.Add(std::string(entry->key), std::string(entry->value));
    param_lines.push_back(entry->line);
  }
  ex.segments.push_back(std::move(seg));
  lines.segment_headers.push_back(sec.line);
  lines.segment_params.push_back(std::move(param_lines));
  return Ok();
}

Status ReadBlockSection(const IniSection& sec, uint64_t id, Exnode& ex, SourceLines& lines) {
  std::vector<const IniEntry*> found;
  auto extra = TRY(SplitKeys(sec, exnode_internal::kBlockKeys, found, "", true));
  ExnodeBlock block;
  block.id = id;
  block.read_cap = std::string(found[0]->value);
  block.write_cap = std::string(found[1]->value);
  block.manage_cap = std::string(found[2]->value);
  block.size = TRY(U64At(*found[3], sec.name));
  block.max_size = TRY(U64At(*found[4], sec.name));
  block.vdev = std::string(found[5]->value);
  for (const IniEntry* entry : extra) {
    block.extra.push_back({std::string(entry->key), std::string(entry->value)});
  }
  ex.blocks.push_back(std::move(block));
  lines.block_headers.push_back(sec.line);
  lines.block_size.push_back(found[3]->line);
  return Ok();
}

// Parses the id of "segment-ID" / "block-ID".
Result<uint64_t> SectionId(const IniSection& sec, std::string_view prefix) {
  auto id = ParseId63(sec.name.substr(prefix.size()));
  if (!id) {
    return Err(Code::kInvalidArgument, "line {}: [{}]: {}", sec.line, sec.name,
               id.error().message());
  }
  return *id;
}

int CountLines(std::string_view text) {
  int n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

}  // namespace

Result<Exnode> ParseExnode(std::string_view text) {
  auto sections = TRY(exnode_internal::ReadIni(text));
  Exnode ex;
  SourceLines lines;
  std::map<std::string_view, int> first_line;
  for (const IniSection& sec : sections) {
    if (sec.name.starts_with("segment-")) {
      uint64_t id = TRY(SectionId(sec, "segment-"));
      if (!first_line.contains(sec.name)) TRY_STATUS(ReadSegmentSection(sec, id, ex, lines));
    } else if (sec.name.starts_with("block-")) {
      uint64_t id = TRY(SectionId(sec, "block-"));
      if (!first_line.contains(sec.name)) TRY_STATUS(ReadBlockSection(sec, id, ex, lines));
    } else if (sec.name != "exnode" && sec.name != "view") {
      return Err(Code::kInvalidArgument,
                 "line {}: unknown section kind [{}] (expected exnode, view, segment-ID or "
                 "block-ID)",
                 sec.line, sec.name);
    }
    auto [it, inserted] = first_line.emplace(sec.name, sec.line);
    if (!inserted) {
      return Err(Code::kInvalidArgument, "line {}: duplicate section [{}] (first at line {})",
                 sec.line, sec.name, it->second);
    }
    if (sec.name == "exnode") TRY_STATUS(ReadExnodeSection(sec, ex, lines));
    if (sec.name == "view") TRY_STATUS(ReadViewSection(sec, ex, lines));
  }
  for (std::string_view required : {"exnode", "view"}) {
    if (!first_line.contains(required)) {
      return Err(Code::kInvalidArgument, "line {}: input ends with no [{}] section",
                 CountLines(text), required);
    }
  }
  TRY_STATUS(exnode_internal::ValidateExnodeAt(ex, &lines));
  return ex;
}

Result<std::string> SerializeExnode(const Exnode& ex) {
  TRY_STATUS(ValidateExnode(ex));
  std::string out;
  auto put = std::back_inserter(out);
  fmt::format_to(put, "[exnode]\nname={}\nid={}\n", ex.name, ex.id);
  fmt::format_to(put, "\n[view]\ndefault={}\n", ex.default_segment);
  for (uint64_t id : ex.view_segments) fmt::format_to(put, "segment={}\n", id);
  for (const ExnodeSegment& seg : ex.segments) {
    fmt::format_to(put, "\n[segment-{}]\ntype={}\n", seg.id, SegmentTypeName(seg.type));
    for (const KeyValue& kv : seg.params) fmt::format_to(put, "{}={}\n", kv.key, kv.value);
  }
  for (const ExnodeBlock& b : ex.blocks) {
    fmt::format_to(put,
                   "\n[block-{}]\nread_cap={}\nwrite_cap={}\nmanage_cap={}\nsize={}\n"
                   "max_size={}\nvdev={}\n",
                   b.id, b.read_cap, b.write_cap, b.manage_cap, b.size, b.max_size, b.vdev);
    for (const KeyValue& kv : b.extra) fmt::format_to(put, "{}={}\n", kv.key, kv.value);
  }
  return out;
}

}  // namespace tessera
