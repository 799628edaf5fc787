// exNode model: ids, decimal parsing, segment types, typed accessors, lun rows.
//
// Design notes
//  1. Integers in the text are canonical decimal: digits only, no sign, no
//     leading zero unless the value is 0. Hence one number has one spelling
//     and "[segment-7]" / "[segment-07]" can never both name segment 7.
//  2. Accessors distinguish "absent" (NotFound) from "present but unusable"
//     (InvalidArgument: repeated, or not a number); callers that need a
//     repeated key use GetAll.
//  3. RandomId63 never returns 0, so 0 can mean "no id" in callers' code.
#include <charconv>
#include <random>

#include <fmt/format.h>

#include "core/exnode/exnode.h"
#include "core/exnode/exnode_internal.h"

namespace tessera {

uint64_t RandomId63() {
  thread_local std::mt19937_64 generator([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  std::uniform_int_distribution<uint64_t> dist(1, kMaxId63);
  return dist(generator);
}

Result<uint64_t> ParseU64Decimal(std::string_view text) {
  bool digits_only = !text.empty();
  for (char c : text) digits_only = digits_only && c >= '0' && c <= '9';
  if (!digits_only) {
    return Err(Code::kInvalidArgument, "'{}' is not an unsigned decimal integer", text);
  }
  if (text.size() > 1 && text[0] == '0') {
    return Err(Code::kInvalidArgument, "'{}' has a leading zero", text);
  }
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Err(Code::kInvalidArgument, "'{}' does not fit in 64 bits", text);
  }
  return value;
}

Result<uint64_t> ParseId63(std::string_view text) {
  auto value = ParseU64Decimal(text);
  if (!value || *value > kMaxId63) {
    return Err(Code::kInvalidArgument, "id '{}' is not a 63-bit integer", text);
  }
  return *value;
}

namespace {
constexpr std::string_view kSegmentTypeNames[] = {"file", "lun", "cache", "log", "jerasure"};
constexpr std::string_view kCacheRefs[] = {"segment"};
constexpr std::string_view kLogRefs[] = {"log", "data"};
}  // namespace

std::string_view SegmentTypeName(SegmentType type) {
  return kSegmentTypeNames[static_cast<int>(type)];
}

Result<SegmentType> ParseSegmentType(std::string_view name) {
  for (size_t i = 0; i < std::size(kSegmentTypeNames); ++i) {
    if (kSegmentTypeNames[i] == name) return static_cast<SegmentType>(i);
  }
  return Err(Code::kInvalidArgument,
             "unknown segment type '{}' (expected file, lun, cache, log or jerasure)", name);
}

std::span<const std::string_view> SegmentReferenceKeys(SegmentType type) {
  switch (type) {
    case SegmentType::kCache:
    case SegmentType::kJerasure:
      return kCacheRefs;
    case SegmentType::kLog:
      return kLogRefs;
    case SegmentType::kFile:
    case SegmentType::kLun:
      break;
  }
  return {};
}

namespace exnode_internal {

bool IsValidKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidValue(std::string_view value) {
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') return false;
  }
  auto is_blank = [](char c) { return c == ' ' || c == '\t'; };
  return value.empty() || (!is_blank(value.front()) && !is_blank(value.back()));
}

bool IsBlockKey(std::string_view key) {
  for (auto k : kBlockKeys) {
    if (k == key) return true;
  }
  return false;
}

Result<std::string> GetSingle(const std::vector<KeyValue>& kvs, std::string_view key,
                              std::string_view label) {
  const KeyValue* found = nullptr;
  size_t count = 0;
  for (const auto& kv : kvs) {
    if (kv.key != key) continue;
    if (found == nullptr) found = &kv;
    ++count;
  }
  if (found == nullptr) return Err(Code::kNotFound, "{} key '{}' missing", label, key);
  if (count > 1) {
    return Err(Code::kInvalidArgument, "{} key '{}' appears {} times; expected one", label, key,
               count);
  }
  return found->value;
}

Result<uint64_t> GetSingleU64(const std::vector<KeyValue>& kvs, std::string_view key,
                              std::string_view label) {
  std::string text = TRY(GetSingle(kvs, key, label));
  auto value = ParseU64Decimal(text);
  if (!value) {
    return Err(Code::kInvalidArgument, "{} key '{}': {}", label, key, value.error().message());
  }
  return *value;
}

std::vector<std::string> GetEvery(const std::vector<KeyValue>& kvs, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& kv : kvs) {
    if (kv.key == key) out.push_back(kv.value);
  }
  return out;
}

}  // namespace exnode_internal

using namespace exnode_internal;

std::string ExnodeSegment::Label() const { return fmt::format("[segment-{}]", id); }
Result<std::string> ExnodeSegment::GetString(std::string_view key) const {
  return GetSingle(params, key, Label());
}
Result<uint64_t> ExnodeSegment::GetU64(std::string_view key) const {
  return GetSingleU64(params, key, Label());
}
std::vector<std::string> ExnodeSegment::GetAll(std::string_view key) const {
  return GetEvery(params, key);
}
void ExnodeSegment::Add(std::string key, std::string value) {
  params.push_back({std::move(key), std::move(value)});
}

std::string ExnodeBlock::Label() const { return fmt::format("[block-{}]", id); }
Result<std::string> ExnodeBlock::GetString(std::string_view key) const {
  return GetSingle(extra, key, Label());
}
Result<uint64_t> ExnodeBlock::GetU64(std::string_view key) const {
  return GetSingleU64(extra, key, Label());
}
std::vector<std::string> ExnodeBlock::GetAll(std::string_view key) const { return GetEvery(extra, key); }

std::string LunRow::ToString() const {
  std::string out = fmt::format("{}:{}:{}", seg_offset, seg_end, row_len);
  for (const auto& d : devices) out += fmt::format(":{}:{}", d.block_id, d.offset);
  return out;
}

Result<LunRow> ParseLunRow(std::string_view text) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    fields.push_back(text.substr(start, colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (fields.size() < 5 || fields.size() % 2 == 0) {
    return Err(Code::kInvalidArgument,
               "row '{}' has {} fields; expected seg_offset:seg_end:row_len followed by "
               "block:offset pairs",
               text, fields.size());
  }
  std::vector<uint64_t> numbers;
  static constexpr std::string_view kHead[] = {"seg_offset", "seg_end", "row_len"};
  for (size_t i = 0; i < fields.size(); ++i) {
    auto value = i >= 3 && i % 2 == 1 ? ParseId63(fields[i]) : ParseU64Decimal(fields[i]);
    if (!value) {
      std::string what = i < 3 ? std::string(kHead[i])
                               : fmt::format("{} {}", i % 2 == 1 ? "block" : "offset",
                                             (i - 3) / 2 + 1);
      return Err(Code::kInvalidArgument, "row '{}' field {} ({}): {}", text, i + 1, what,
                 value.error().message());
    }
    numbers.push_back(*value);
  }
  LunRow row{numbers[0], numbers[1], numbers[2], {}};
  if (row.seg_end < row.seg_offset) {
    return Err(Code::kInvalidArgument, "row '{}': seg_end {} is before seg_offset {}", text,
               row.seg_end, row.seg_offset);
  }
  for (size_t i = 3; i < numbers.size(); i += 2) row.devices.push_back({numbers[i], numbers[i + 1]});
  return row;
}

const ExnodeSegment* Exnode::FindSegment(uint64_t segment_id) const {
  for (const auto& s : segments) {
    if (s.id == segment_id) return &s;
  }
  return nullptr;
}

const ExnodeBlock* Exnode::FindBlock(uint64_t block_id) const {
  for (const auto& b : blocks) {
    if (b.id == block_id) return &b;
  }
  return nullptr;
}

Status ValidateExnode(const Exnode& exnode) { return ValidateExnodeAt(exnode, nullptr); }

}  // namespace tessera
