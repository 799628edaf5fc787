// Internal to core/exnode: pieces shared by the text reader, the serializer
// and the validator. Not for use outside this folder.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/exnode/exnode.h"

namespace tessera::exnode_internal {

// A key is [A-Za-z0-9_.:-]+ so that it cannot be mistaken for a comment, a
// section header or contain '='.
bool IsValidKey(std::string_view key);
// A value is one line with no leading or trailing space/tab (the reader trims
// them), no NUL, CR or LF. The empty value is valid.
bool IsValidValue(std::string_view value);

// Source line numbers of a parsed model, so that validation errors can name
// the line. Every vector parallels the model's vector of the same name.
struct SourceLines {
  int exnode_header = 0;
  int view_header = 0;
  int view_default = 0;
  std::vector<int> view_segments;
  std::vector<int> segment_headers;
  std::vector<std::vector<int>> segment_params;
  std::vector<int> block_headers;
  std::vector<int> block_size;  // the line of `size=` (size vs max_size errors)
};

// ValidateExnode, with errors prefixed "line N: " when `lines` is non-null.
Status ValidateExnodeAt(const Exnode& exnode, const SourceLines* lines);

// Helpers behind ExnodeSegment/ExnodeBlock accessors. `label` is "[segment-12]".
Result<std::string> GetSingle(const std::vector<KeyValue>& kvs, std::string_view key,
                              std::string_view label);
Result<uint64_t> GetSingleU64(const std::vector<KeyValue>& kvs, std::string_view key,
                              std::string_view label);
std::vector<std::string> GetEvery(const std::vector<KeyValue>& kvs, std::string_view key);

// The block keys that have typed fields; never in ExnodeBlock::extra.
inline constexpr std::string_view kBlockKeys[] = {"read_cap", "write_cap", "manage_cap",
                                                  "size",     "max_size",  "vdev"};
bool IsBlockKey(std::string_view key);

}  // namespace tessera::exnode_internal
