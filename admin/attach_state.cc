#include "admin/attach_state.h"

#include "core/control/json_fields.h"
#include "core/util/checksum.h"

namespace tessera {

Json AttachStateToJson(const AttachState& s) {
  return Json{{"name", s.name},     {"method", s.method},         {"device", s.device},
              {"socket", s.socket}, {"mountpoint", s.mountpoint}, {"pid", s.pid}};
}

Result<AttachState> AttachStateFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "attach record"));
  AttachState s;
  s.name = TRY(fields.String("name"));
  s.method = TRY(fields.String("method"));
  if (s.method != "nbd" && s.method != "nbdfuse") {
    return Err(Code::kInvalidArgument, "attach record: unknown method '{}'", s.method);
  }
  s.device = TRY(fields.String("device"));
  s.socket = TRY(fields.String("socket"));
  s.mountpoint = TRY(fields.String("mountpoint"));
  uint64_t pid = TRY(fields.Unsigned("pid"));
  if (pid > INT32_MAX) return Err(Code::kInvalidArgument, "attach record: bad pid {}", pid);
  s.pid = static_cast<int64_t>(pid);
  return s;
}

std::string FileSafeName(const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    auto u = static_cast<unsigned char>(c);
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-' || (c == '.' && i > 0);
    if (keep) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  if (out.empty()) return "%";
  // Stay well inside NAME_MAX (255): long names keep a prefix plus a hash of
  // the whole name, which keeps them distinct.
  if (out.size() > 200) {
    out = fmt::format("{}~{:016x}", out.substr(0, 160), Checksum64(name.data(), name.size()));
  }
  return out;
}

}  // namespace tessera
