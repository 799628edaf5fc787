// JSON forms of the control protocol.
//
// Design notes
//  1. Requests are decoded strictly (op_table.h rejects unknown fields);
//     value types in responses are decoded leniently: a newer server may add
//     fields, and an older client ignores them.
//  2. Nothing here throws: parsing uses nlohmann's non-throwing parse, field
//     access goes through JsonFields, and dumping replaces invalid UTF-8.
#include "core/control/protocol.h"

#include "core/control/codes.h"
#include "core/control/json_fields.h"
#include "core/control/protocol_repair.h"

namespace tessera {

Json OkResponse(Json result) {
  Json response = Json::object();
  response["ok"] = true;
  response["result"] = std::move(result);
  return response;
}

Json ErrorResponse(const Error& error) {
  Json response = Json::object();
  response["ok"] = false;
  response["code"] = std::string(CodeName(error.code()));
  response["error"] = error.message();
  return response;
}

Result<Json> ResultFromResponse(const Json& response) {
  auto malformed = [](const Error& e) {
    return Err(Code::kIOError, "control: malformed response from the server: {}", e.message());
  };
  auto fields = JsonFields::Of(response, "response");
  if (!fields) return malformed(fields.error());
  auto ok = fields->Bool("ok");
  if (!ok) return malformed(ok.error());
  if (*ok) {
    auto it = response.find("result");
    return it == response.end() ? Json() : *it;
  }
  auto code_name = fields->String("code");
  if (!code_name) return malformed(code_name.error());
  auto message = fields->String("error");
  if (!message) return malformed(message.error());
  std::optional<Code> code = CodeFromName(*code_name);
  if (!code) return Err(Code::kIOError, "{} (unknown error code '{}')", *message, *code_name);
  return std::unexpected(Error(*code, *message));
}

Json ToJson(const VolumeInfo& info) {
  return Json{{"name", info.name},
              {"id", info.id},
              {"size", info.size},
              {"layout", info.layout},
              {"tier", info.tier},
              {"mapped_bytes", info.mapped_bytes},
              {"allocated_bytes", info.allocated_bytes},
              {"open", info.open},
              {"origin", info.origin}};
}

Json ToJson(const std::vector<VolumeInfo>& infos) {
  Json array = Json::array();
  for (const VolumeInfo& info : infos) array.push_back(ToJson(info));
  return array;
}

Json ToJson(const VdevStatus& vdev) {
  Json attrs = Json::object();
  for (const auto& [key, value] : vdev.attrs) attrs[key] = value;
  return Json{{"name", vdev.name},
              {"path", vdev.path},
              {"tier", vdev.tier},
              {"index", vdev.index},
              {"size_bytes", vdev.size_bytes},
              {"used_bytes", vdev.used_bytes},
              {"state", vdev.state},
              {"attrs", std::move(attrs)},
              {"read_errors", vdev.read_errors},
              {"write_errors", vdev.write_errors},
              {"flush_errors", vdev.flush_errors},
              {"checksum_errors", vdev.checksum_errors}};
}

Json ToJson(const PoolStatus& status) {
  Json vdevs = Json::array();
  for (const VdevStatus& vdev : status.vdevs) vdevs.push_back(ToJson(vdev));
  return Json{{"name", status.name},
              {"uuid", status.uuid},
              {"txg", status.txg},
              {"size_bytes", status.size_bytes},
              {"used_bytes", status.used_bytes},
              {"free_bytes", status.free_bytes},
              {"dead_pinned_bytes", status.dead_pinned_bytes},
              {"volumes", status.volumes},
              {"vdevs", std::move(vdevs)},
              {"health", status.health},
              {"metadata_copies", status.metadata_copies},
              {"metadata_copies_written", status.metadata_copies_written},
              {"degraded_volumes", ToJson(status.degraded_volumes)}};
}

Json ToJson(const CheckReport& report) {
  return Json{{"clean", report.clean()},
              {"summary", report.Summary()},
              {"nodes", report.nodes},
              {"referenced_blocks", report.referenced_blocks},
              {"allocated_blocks", report.allocated_blocks},
              {"leaks", report.leaks},
              {"double_references", report.double_references},
              {"unallocated_references", report.unallocated_references},
              {"checksum_failures", report.checksum_failures}};
}

Json ToJson(const std::vector<SnapshotInfo>& snapshots) {
  Json array = Json::array();
  for (const SnapshotInfo& s : snapshots) {
    array.push_back(Json{{"name", s.name},
                         {"txg", s.txg},
                         {"created_unix", s.created_unix},
                         {"guid", s.guid},
                         {"referenced_bytes", s.referenced_bytes},
                         {"unique_bytes", s.unique_bytes}});
  }
  return array;
}

Result<std::vector<SnapshotInfo>> SnapshotInfosFromJson(const Json& json) {
  if (!json.is_array()) return Err(Code::kInvalidArgument, "snapshot list: expected an array");
  std::vector<SnapshotInfo> out;
  for (const Json& item : json) {
    JsonFields fields = TRY(JsonFields::Of(item, "snapshot"));
    SnapshotInfo s;
    s.name = TRY(fields.String("name"));
    s.txg = TRY(fields.Unsigned("txg"));
    s.created_unix = TRY(fields.Unsigned("created_unix"));
    s.guid = TRY(fields.OptionalUnsigned("guid")).value_or(0);
    s.referenced_bytes = TRY(fields.OptionalUnsigned("referenced_bytes")).value_or(0);
    s.unique_bytes = TRY(fields.OptionalUnsigned("unique_bytes")).value_or(0);
    out.push_back(std::move(s));
  }
  return out;
}

Result<VolumeInfo> VolumeInfoFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "volume"));
  VolumeInfo info;
  info.name = TRY(fields.String("name"));
  info.id = TRY(fields.Unsigned("id"));
  info.size = TRY(fields.Unsigned("size"));
  info.layout = TRY(fields.String("layout"));
  info.tier = TRY(fields.String("tier"));
  info.mapped_bytes = TRY(fields.Unsigned("mapped_bytes"));
  info.allocated_bytes = TRY(fields.Unsigned("allocated_bytes"));
  info.open = TRY(fields.Bool("open"));
  info.origin = TRY(fields.OptionalString("origin")).value_or("");
  return info;
}

Result<std::vector<VolumeInfo>> VolumeInfosFromJson(const Json& json) {
  if (!json.is_array()) return Err(Code::kInvalidArgument, "volume list: expected an array");
  std::vector<VolumeInfo> infos;
  for (const Json& item : json) infos.push_back(TRY(VolumeInfoFromJson(item)));
  return infos;
}

Result<VdevStatus> VdevStatusFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "vdev"));
  VdevStatus vdev;
  vdev.name = TRY(fields.String("name"));
  vdev.path = TRY(fields.String("path"));
  vdev.tier = TRY(fields.String("tier"));
  uint64_t index = TRY(fields.Unsigned("index"));
  if (index > UINT32_MAX) return Err(Code::kInvalidArgument, "vdev: index {} too large", index);
  vdev.index = static_cast<uint32_t>(index);
  vdev.size_bytes = TRY(fields.Unsigned("size_bytes"));
  vdev.used_bytes = TRY(fields.Unsigned("used_bytes"));
  vdev.state = TRY(fields.String("state"));
  const Json* attrs = TRY(fields.Object("attrs"));
  for (const auto& [key, value] : attrs->items()) {
    if (!value.is_string()) {
      return Err(Code::kInvalidArgument, "vdev: attribute '{}' must be a string", key);
    }
    vdev.attrs[key] = value.get<std::string>();
  }
  // Counters arrived with vdev management; an older server sends none.
  vdev.read_errors = TRY(fields.OptionalUnsigned("read_errors")).value_or(0);
  vdev.write_errors = TRY(fields.OptionalUnsigned("write_errors")).value_or(0);
  vdev.flush_errors = TRY(fields.OptionalUnsigned("flush_errors")).value_or(0);
  vdev.checksum_errors = TRY(fields.OptionalUnsigned("checksum_errors")).value_or(0);
  return vdev;
}

Result<PoolStatus> PoolStatusFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "pool status"));
  PoolStatus status;
  status.name = TRY(fields.String("name"));
  status.uuid = TRY(fields.String("uuid"));
  status.txg = TRY(fields.Unsigned("txg"));
  status.size_bytes = TRY(fields.Unsigned("size_bytes"));
  status.used_bytes = TRY(fields.Unsigned("used_bytes"));
  status.free_bytes = TRY(fields.Unsigned("free_bytes"));
  status.dead_pinned_bytes = TRY(fields.OptionalUnsigned("dead_pinned_bytes")).value_or(0);
  status.volumes = TRY(fields.Unsigned("volumes"));
  const Json* vdevs = TRY(fields.Array("vdevs"));
  for (const Json& vdev : *vdevs) status.vdevs.push_back(TRY(VdevStatusFromJson(vdev)));
  status.health = TRY(fields.OptionalString("health")).value_or("online");
  status.metadata_copies = static_cast<uint32_t>(TRY(fields.OptionalUnsigned("metadata_copies")).value_or(0));
  status.metadata_copies_written =
      static_cast<uint32_t>(TRY(fields.OptionalUnsigned("metadata_copies_written")).value_or(0));
  if (json.contains("degraded_volumes")) {
    status.degraded_volumes = TRY(VolumeHealthsFromJson(*TRY(fields.Array("degraded_volumes"))));
  }
  return status;
}

Result<CheckReport> CheckReportFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "check report"));
  CheckReport report;
  report.nodes = TRY(fields.Unsigned("nodes"));
  report.referenced_blocks = TRY(fields.Unsigned("referenced_blocks"));
  report.allocated_blocks = TRY(fields.Unsigned("allocated_blocks"));
  report.leaks = TRY(fields.Strings("leaks"));
  report.double_references =
      TRY(fields.Strings("double_references"));
  report.unallocated_references =
      TRY(fields.Strings("unallocated_references"));
  report.checksum_failures =
      TRY(fields.Strings("checksum_failures"));
  return report;
}

Result<std::string> StringFromJson(const Json& json) {
  if (!json.is_string()) return Err(Code::kInvalidArgument, "expected a string result");
  return json.get<std::string>();
}

std::string EncodeLine(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Json> ParseLine(std::string_view line) {
  Json json = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Err(Code::kInvalidArgument, "line is not valid JSON");
  if (!json.is_object()) {
    return Err(Code::kInvalidArgument, "expected a JSON object, got {}", json.type_name());
  }
  return json;
}

}  // namespace tessera
