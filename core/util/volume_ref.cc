#include "core/util/volume_ref.h"

namespace tessera {
namespace {

// Why `text` is no VolumeRef, or empty when it is one.
std::string_view Fault(std::string_view text) {
  size_t at = text.find('@');
  if (text.empty()) return "the name is empty";
  if (at == std::string_view::npos) return "";
  if (text.find('@', at + 1) != std::string_view::npos) return "it has more than one '@'";
  if (at == 0) return "it has no volume name before '@'";
  if (at + 1 == text.size()) return "it has no snapshot name after '@'";
  return "";
}

}  // namespace

std::string VolumeRef::ToString() const { return IsSnapshot() ? volume + "@" + snapshot : volume; }

Result<VolumeRef> ParseVolumeRef(std::string_view text) {
  if (std::string_view fault = Fault(text); !fault.empty()) {
    return Err(Code::kInvalidArgument, "'{}' is not VOLUME or VOLUME@SNAPSHOT: {}", text, fault);
  }
  size_t at = text.find('@');
  if (at == std::string_view::npos) return VolumeRef{std::string(text), ""};
  return VolumeRef{std::string(text.substr(0, at)), std::string(text.substr(at + 1))};
}

std::string_view VolumeOf(std::string_view name) { return name.substr(0, name.find('@')); }

Result<VolumeRef> ParseSnapshotRef(std::string_view text) {
  std::string_view fault = Fault(text);
  if (fault.empty() && text.find('@') == std::string_view::npos) fault = "it names no snapshot";
  if (!fault.empty()) return Err(Code::kInvalidArgument, "'{}' is not VOLUME@SNAPSHOT: {}", text, fault);
  return ParseVolumeRef(text);
}

}  // namespace tessera
