// The exNode: the text description of one volume's data layout (after LStore).
//
// An exNode names the volume ([exnode]), lists the segments a reader may open
// ([view]), defines every segment ([segment-ID]) and every data block
// ([block-ID]). Segments stack: a cache segment names its child segment, a log
// names its log and data segments, a jerasure segment names its lun, and a lun
// lists rows of blocks. The text form is specified in docs/format/exnode.md.
//
// Contract
//  1. Exnode and its parts are plain values: copyable, comparable with ==, no
//     hidden state. Const use from many threads is safe; mutation is not.
//  2. ParseExnode returns either a model that passes ValidateExnode, or
//     InvalidArgument whose message starts "line N: " and names the offending
//     line. A partially parsed model is never returned.
//  3. SerializeExnode returns the canonical text of any model that passes
//     ValidateExnode, and InvalidArgument (nothing written) otherwise.
//     ParseExnode(SerializeExnode(m)) == m for every valid m, and
//     SerializeExnode(ParseExnode(t)) == t for every canonical text t.
//  4. The typed accessors never throw. They return NotFound for a missing key
//     and InvalidArgument for a malformed or ambiguous (repeated) value; the
//     message names the section, e.g. "[segment-12] key 'size' missing".
//  5. Ids are 63-bit: 0 <= id <= kMaxId63, written in canonical decimal.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera {

inline constexpr uint64_t kMaxId63 = (uint64_t{1} << 63) - 1;

// A fresh random id in [1, kMaxId63]. Thread-safe; each thread owns a
// generator seeded from std::random_device.
uint64_t RandomId63();

// Parses canonical unsigned decimal ("0" or no leading zero, digits only).
// InvalidArgument names the text on failure.
Result<uint64_t> ParseU64Decimal(std::string_view text);
// As ParseU64Decimal, and the value must be <= kMaxId63:
// "id 'abc' is not a 63-bit integer".
Result<uint64_t> ParseId63(std::string_view text);

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

enum class SegmentType { kFile, kLun, kCache, kLog, kJerasure };

// "file", "lun", "cache", "log", "jerasure".
std::string_view SegmentTypeName(SegmentType type);
// InvalidArgument "unknown segment type 'x' (expected file, lun, ...)".
Result<SegmentType> ParseSegmentType(std::string_view name);
// The keys of a segment of `type` whose values are ids of other segments of
// the same exNode: cache "segment"; jerasure "segment"; log "log", "data".
// ValidateExnode checks that they exist and form no cycle.
std::span<const std::string_view> SegmentReferenceKeys(SegmentType type);

struct ExnodeSegment {
  uint64_t id = 0;
  SegmentType type = SegmentType::kFile;
  // Every key of the section except `type`, in text order; keys may repeat
  // (a lun has one `row` per row). Never contains the key "type".
  std::vector<KeyValue> params;

  // "[segment-12]", for messages.
  std::string Label() const;
  // The single value of `key`: NotFound when absent, InvalidArgument when
  // the key is repeated (use GetAll) or (GetU64) not canonical decimal.
  Result<std::string> GetString(std::string_view key) const;
  Result<uint64_t> GetU64(std::string_view key) const;
  // Every value of `key`, in order; empty when absent.
  std::vector<std::string> GetAll(std::string_view key) const;
  void Add(std::string key, std::string value);

  bool operator==(const ExnodeSegment&) const = default;
};

struct ExnodeBlock {
  uint64_t id = 0;
  std::string read_cap;
  std::string write_cap;
  std::string manage_cap;
  uint64_t size = 0;      // bytes in use; <= max_size
  uint64_t max_size = 0;  // bytes allocated
  std::string vdev;       // the vdev it lives on (name or address); non-empty
  // Any other keys, in text order; never one of the six above.
  std::vector<KeyValue> extra;

  std::string Label() const;  // "[block-7]"
  Result<std::string> GetString(std::string_view key) const;  // over `extra`
  Result<uint64_t> GetU64(std::string_view key) const;        // over `extra`
  std::vector<std::string> GetAll(std::string_view key) const;

  bool operator==(const ExnodeBlock&) const = default;
};

// One lun `row=seg_offset:seg_end:row_len:block_1:offset_1:...` value.
struct LunRowDevice {
  uint64_t block_id = 0;
  uint64_t offset = 0;
  bool operator==(const LunRowDevice&) const = default;
};
struct LunRow {
  uint64_t seg_offset = 0;
  uint64_t seg_end = 0;  // >= seg_offset
  uint64_t row_len = 0;
  std::vector<LunRowDevice> devices;  // at least one
  std::string ToString() const;
  bool operator==(const LunRow&) const = default;
};
// InvalidArgument names the field that is wrong.
Result<LunRow> ParseLunRow(std::string_view text);

struct Exnode {
  uint64_t id = 0;
  std::string name;
  uint64_t default_segment = 0;        // one of view_segments
  std::vector<uint64_t> view_segments;  // distinct, each a segment below
  std::vector<ExnodeSegment> segments;        // ids distinct; serialized in this order
  std::vector<ExnodeBlock> blocks;            // ids distinct; serialized in this order

  // Null when absent. Linear scans; build an index for many lookups.
  const ExnodeSegment* FindSegment(uint64_t segment_id) const;
  const ExnodeBlock* FindBlock(uint64_t block_id) const;

  bool operator==(const Exnode&) const = default;
};

// Checks every rule of docs/format/exnode.md ("Validation"): representable
// strings, 63-bit ids, distinct ids, the view, block sizes, lun rows naming
// existing blocks, segment references existing and acyclic.
Status ValidateExnode(const Exnode& exnode);

Result<Exnode> ParseExnode(std::string_view text);
Result<std::string> SerializeExnode(const Exnode& exnode);

}  // namespace tessera
