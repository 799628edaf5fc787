// exNode validation: the rules a model must satisfy to be serialized or used.
//
// Design notes
//  1. One validator serves both directions. ParseExnode calls it with the
//     source lines of every element, so each error starts "line N: "; a model
//     built in code is validated without lines and errors name the section.
//  2. Checks run in text order (exnode, view, segments, blocks, then the
//     cross-segment reference graph), so the first error reported is the one
//     nearest the top of the file.
//  3. Strings must be representable: a value the reader would trim or split
//     differently is rejected here, which is what makes
//     ParseExnode(SerializeExnode(m)) == m hold for every valid m.
//  4. Id lookups during validation go through sets built once, so a large
//     volume (thousands of rows and blocks) validates in O(n log n).
//  5. Segment references (SegmentReferenceKeys) must name an existing segment
//     other than the referrer and the reference graph must be acyclic, so a
//     segment loader that recurses into children terminates.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/exnode/exnode.h"
#include "core/exnode/exnode_internal.h"

namespace tessera::exnode_internal {
namespace {

std::string At(int line) { return line > 0 ? fmt::format("line {}: ", line) : std::string(); }

int LineOf(const std::vector<int>* v, size_t i) { return v && i < v->size() ? (*v)[i] : 0; }

Status CheckValue(int line, std::string_view label, std::string_view key,
                  std::string_view value) {
  if (!IsValidValue(value)) {
    return Err(Code::kInvalidArgument,
               "{}{} key '{}' value has a line break, NUL or leading/trailing blank", At(line),
               label, key);
  }
  return Ok();
}

Status CheckId(int line, std::string_view label, uint64_t id) {
  if (id > kMaxId63) return Err(Code::kInvalidArgument, "{}{} id {} exceeds 63 bits", At(line), label, id);
  return Ok();
}

Status CheckSegment(const Exnode& ex, size_t index, const std::set<uint64_t>& segment_ids,
                    const std::set<uint64_t>& block_ids, const SourceLines* lines) {
  const ExnodeSegment& seg = ex.segments[index];
  const std::string label = seg.Label();
  const int header = lines ? lines->segment_headers[index] : 0;
  TRY_STATUS(CheckId(header, "segment", seg.id));
  const std::vector<int>* param_lines = lines ? &lines->segment_params[index] : nullptr;
  auto refs = SegmentReferenceKeys(seg.type);
  size_t row_number = 0;
  for (size_t k = 0; k < seg.params.size(); ++k) {
    const KeyValue& kv = seg.params[k];
    const int line = LineOf(param_lines, k);
    if (!IsValidKey(kv.key)) {
      return Err(Code::kInvalidArgument, "{}{} key '{}' is not [A-Za-z0-9_.:-]+", At(line), label,
                 kv.key);
    }
    if (kv.key == "type") {
      return Err(Code::kInvalidArgument, "{}{} key 'type' repeated", At(line), label);
    }
    TRY_STATUS(CheckValue(line, label, kv.key, kv.value));
    if (seg.type == SegmentType::kLun && kv.key == "row") {
      ++row_number;
      auto row = ParseLunRow(kv.value);
      if (!row) {
        return Err(Code::kInvalidArgument, "{}{} row {}: {}", At(line), label, row_number,
                   row.error().message());
      }
      for (const auto& dev : row->devices) {
        if (!block_ids.contains(dev.block_id)) {
          return Err(Code::kInvalidArgument, "{}{} row {} references block {} which does not exist",
                     At(line), label, row_number, dev.block_id);
        }
      }
    }
    for (auto ref_key : refs) {
      if (kv.key != ref_key) continue;
      auto target = ParseId63(kv.value);
      if (!target) {
        return Err(Code::kInvalidArgument, "{}{} key '{}': {}", At(line), label, kv.key,
                   target.error().message());
      }
      if (*target == seg.id) {
        return Err(Code::kInvalidArgument, "{}{} key '{}' references the segment itself", At(line),
                   label, kv.key);
      }
      if (!segment_ids.contains(*target)) {
        return Err(Code::kInvalidArgument,
                   "{}{} key '{}' references segment {} which does not exist", At(line), label,
                   kv.key, *target);
      }
    }
  }
  return Ok();
}

Status CheckBlock(const ExnodeBlock& block, int header, int size_line) {
  const std::string label = block.Label();
  TRY_STATUS(CheckId(header, "block", block.id));
  TRY_STATUS(CheckValue(header, label, "read_cap", block.read_cap));
  TRY_STATUS(CheckValue(header, label, "write_cap", block.write_cap));
  TRY_STATUS(CheckValue(header, label, "manage_cap", block.manage_cap));
  TRY_STATUS(CheckValue(header, label, "vdev", block.vdev));
  if (block.vdev.empty()) {
    return Err(Code::kInvalidArgument, "{}{} key 'vdev' is empty", At(header), label);
  }
  if (block.size > block.max_size) {
    return Err(Code::kInvalidArgument, "{}{} size {} exceeds max_size {}", At(size_line), label,
               block.size, block.max_size);
  }
  for (const auto& kv : block.extra) {
    if (!IsValidKey(kv.key) || IsBlockKey(kv.key)) {
      return Err(Code::kInvalidArgument, "{}{} extra key '{}' is invalid or reserved", At(header),
                 label, kv.key);
    }
    TRY_STATUS(CheckValue(header, label, kv.key, kv.value));
  }
  return Ok();
}

// Depth-first search over segment references; state 1 = on the path, 2 = done.
Status CheckAcyclic(const Exnode& ex, const SourceLines* lines) {
  std::vector<int> state(ex.segments.size(), 0);
  std::vector<size_t> path;
  std::map<uint64_t, size_t> index_of;
  for (size_t i = 0; i < ex.segments.size(); ++i) index_of.emplace(ex.segments[i].id, i);
  auto visit = [&](auto&& self, size_t i) -> Status {
    state[i] = 1;
    path.push_back(i);
    const ExnodeSegment& seg = ex.segments[i];
    for (auto key : SegmentReferenceKeys(seg.type)) {
      for (const auto& value : seg.GetAll(key)) {
        size_t j = index_of.at(*ParseId63(value));  // CheckSegment proved it parses and exists
        if (state[j] == 1) {
          std::string cycle;
          for (auto it = std::find(path.begin(), path.end(), j); it != path.end(); ++it) {
            cycle += fmt::format("{} -> ", ex.segments[*it].id);
          }
          int line = lines ? lines->segment_headers[j] : 0;
          return Err(Code::kInvalidArgument, "{}segment reference cycle: {}{}", At(line), cycle,
                     ex.segments[j].id);
        }
        if (state[j] == 0) TRY_STATUS(self(self, j));
      }
    }
    path.pop_back();
    state[i] = 2;
    return Ok();
  };
  for (size_t i = 0; i < ex.segments.size(); ++i) {
    if (state[i] == 0) TRY_STATUS(visit(visit, i));
  }
  return Ok();
}

}  // namespace

Status ValidateExnodeAt(const Exnode& ex, const SourceLines* lines) {
  const int exnode_line = lines ? lines->exnode_header : 0;
  TRY_STATUS(CheckId(exnode_line, "[exnode]", ex.id));
  TRY_STATUS(CheckValue(exnode_line, "[exnode]", "name", ex.name));

  const int view_line = lines ? lines->view_header : 0;
  if (ex.view_segments.empty()) {
    return Err(Code::kInvalidArgument, "{}[view] lists no segment", At(view_line));
  }
  std::set<uint64_t> seen;
  for (size_t i = 0; i < ex.view_segments.size(); ++i) {
    const uint64_t id = ex.view_segments[i];
    const int line = lines ? LineOf(&lines->view_segments, i) : 0;
    if (!seen.insert(id).second) {
      return Err(Code::kInvalidArgument, "{}[view] segment {} listed twice", At(line), id);
    }
    if (ex.FindSegment(id) == nullptr) {
      return Err(Code::kInvalidArgument, "{}[view] segment {} names no [segment-{}] section",
                 At(line), id, id);
    }
  }
  const int default_line = lines ? lines->view_default : 0;
  if (ex.FindSegment(ex.default_segment) == nullptr) {
    return Err(Code::kInvalidArgument, "{}[view] default {} names no [segment-{}] section",
               At(default_line), ex.default_segment, ex.default_segment);
  }
  if (!seen.contains(ex.default_segment)) {
    return Err(Code::kInvalidArgument, "{}[view] default {} is not one of the view's segments",
               At(default_line), ex.default_segment);
  }

  std::set<uint64_t> segment_ids, block_ids;
  for (size_t i = 0; i < ex.segments.size(); ++i) {
    if (!segment_ids.insert(ex.segments[i].id).second) {
      return Err(Code::kInvalidArgument, "{}duplicate section {}",
                 At(lines ? lines->segment_headers[i] : 0), ex.segments[i].Label());
    }
  }
  for (size_t i = 0; i < ex.blocks.size(); ++i) {
    if (!block_ids.insert(ex.blocks[i].id).second) {
      return Err(Code::kInvalidArgument, "{}duplicate section {}",
                 At(lines ? lines->block_headers[i] : 0), ex.blocks[i].Label());
    }
  }
  for (size_t i = 0; i < ex.segments.size(); ++i) {
    TRY_STATUS(CheckSegment(ex, i, segment_ids, block_ids, lines));
  }
  for (size_t i = 0; i < ex.blocks.size(); ++i) {
    TRY_STATUS(CheckBlock(ex.blocks[i], lines ? lines->block_headers[i] : 0,
                          lines ? lines->block_size[i] : 0));
  }
  return CheckAcyclic(ex, lines);
}

}  // namespace tessera::exnode_internal
