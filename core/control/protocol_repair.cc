// JSON forms of the self-healing ops (protocol_repair.h).
//
// Design notes
//  1. As protocol.cc: results are lenient (unknown fields are ignored).
//  2. A ScrubReport carries its metadata CheckReport nested, in the form of
//     pool.check.
#include "core/control/protocol_repair.h"

#include "core/control/json_fields.h"

namespace tessera {
namespace {

Json Strings(const std::vector<std::string>& items) {
  Json array = Json::array();
  for (const auto& s : items) array.push_back(s);
  return array;
}

Result<const Json*> ArrayOf(const Json& json, std::string_view what) {
  if (!json.is_array()) return Err(Code::kInvalidArgument, "{}: expected an array", what);
  return &json;
}

}  // namespace

Result<InspectDepth> ParseInspectDepth(std::string_view text) {
  if (text == "quick") return InspectDepth::kQuick;
  if (text == "scan") return InspectDepth::kScan;
  if (text == "full") return InspectDepth::kFull;
  return Err(Code::kInvalidArgument, "unknown inspect depth '{}'; expected quick, scan or full", text);
}

Json ProgressLine(const Progress& p) {
  return Json{{"progress", Json{{"what", p.what}, {"done", p.done}, {"total", p.total}}}};
}

std::optional<Progress> ProgressFromLine(const Json& line) {
  if (!line.is_object()) return std::nullopt;
  auto it = line.find("progress");
  if (it == line.end() || !it->is_object()) return std::nullopt;
  auto fields = JsonFields::Of(*it, "progress");
  if (!fields) return std::nullopt;
  auto what = fields->String("what");
  auto done = fields->Unsigned("done");
  auto total = fields->Unsigned("total");
  if (!what || !done || !total) return std::nullopt;
  return Progress{.what = *what, .done = *done, .total = *total};
}

Json ToJson(const std::vector<VdevStatus>& vdevs) {
  Json array = Json::array();
  for (const VdevStatus& v : vdevs) array.push_back(ToJson(v));
  return array;
}

Json ToJson(const std::vector<VolumeHealth>& volumes) {
  Json array = Json::array();
  for (const VolumeHealth& v : volumes) {
    array.push_back(Json{{"name", v.name}, {"state", v.state}, {"rows", v.rows}, {"vdevs", Strings(v.vdevs)}});
  }
  return array;
}

Json ToJson(const VolumeInspectReport& r) {
  return Json{{"volume", r.volume},
              {"depth", r.depth},
              {"repair", r.repair},
              {"clean", r.clean()},
              {"checked", r.checked},
              {"bad", r.bad},
              {"repaired", r.repaired},
              {"replaced_blocks", r.replaced_blocks},
              {"unrecoverable", r.unrecoverable},
              {"problems", Strings(r.problems)}};
}

Json ToJson(const ScrubReport& r) {
  return Json{{"clean", r.clean()},
              {"volumes", r.volumes},
              {"checked", r.checked},
              {"repaired", r.repaired},
              {"unrecoverable", r.unrecoverable},
              {"degraded", r.degraded},
              {"metadata", ToJson(r.metadata)},
              {"problems", Strings(r.problems)}};
}

Json ToJson(const VdevReplaceReport& r) {
  return Json{{"vdev", r.vdev},
              {"old_path", r.old_path},
              {"new_path", r.new_path},
              {"copied_blocks", r.copied_blocks},
              {"rebuilt_chunks", r.rebuilt_chunks},
              {"unrecoverable_blocks", r.unrecoverable_blocks},
              {"metadata_copies_rebuilt", r.metadata_copies_rebuilt},
              {"volumes", Strings(r.volumes)},
              {"problems", Strings(r.problems)}};
}

Result<std::vector<VdevStatus>> VdevStatusesFromJson(const Json& json) {
  std::vector<VdevStatus> out;
  for (const Json& item : *TRY(ArrayOf(json, "vdev list"))) out.push_back(TRY(VdevStatusFromJson(item)));
  return out;
}

Result<std::vector<VolumeHealth>> VolumeHealthsFromJson(const Json& json) {
  std::vector<VolumeHealth> out;
  for (const Json& item : *TRY(ArrayOf(json, "degraded volumes"))) {
    JsonFields fields = TRY(JsonFields::Of(item, "volume health"));
    VolumeHealth h;
    h.name = TRY(fields.String("name"));
    h.state = TRY(fields.String("state"));
    h.rows = TRY(fields.Unsigned("rows"));
    h.vdevs = TRY(fields.Strings("vdevs"));
    out.push_back(std::move(h));
  }
  return out;
}

Result<VolumeInspectReport> VolumeInspectReportFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "inspect report"));
  VolumeInspectReport r;
  r.volume = TRY(fields.String("volume"));
  r.depth = TRY(fields.String("depth"));
  r.repair = TRY(fields.Bool("repair"));
  r.checked = TRY(fields.Unsigned("checked"));
  r.bad = TRY(fields.Unsigned("bad"));
  r.repaired = TRY(fields.Unsigned("repaired"));
  r.replaced_blocks = TRY(fields.Unsigned("replaced_blocks"));
  r.unrecoverable = TRY(fields.Unsigned("unrecoverable"));
  r.problems = TRY(fields.Strings("problems"));
  return r;
}

Result<ScrubReport> ScrubReportFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "scrub report"));
  ScrubReport r;
  r.volumes = TRY(fields.Unsigned("volumes"));
  r.checked = TRY(fields.Unsigned("checked"));
  r.repaired = TRY(fields.Unsigned("repaired"));
  r.unrecoverable = TRY(fields.Unsigned("unrecoverable"));
  r.degraded = TRY(fields.Unsigned("degraded"));
  r.metadata = TRY(CheckReportFromJson(*TRY(fields.Object("metadata"))));
  r.problems = TRY(fields.Strings("problems"));
  return r;
}

Result<VdevReplaceReport> VdevReplaceReportFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "replace report"));
  VdevReplaceReport r;
  r.vdev = TRY(fields.String("vdev"));
  r.old_path = TRY(fields.String("old_path"));
  r.new_path = TRY(fields.String("new_path"));
  r.copied_blocks = TRY(fields.Unsigned("copied_blocks"));
  r.rebuilt_chunks = TRY(fields.Unsigned("rebuilt_chunks"));
  r.unrecoverable_blocks = TRY(fields.Unsigned("unrecoverable_blocks"));
  r.metadata_copies_rebuilt = TRY(fields.OptionalUnsigned("metadata_copies_rebuilt")).value_or(0);
  r.volumes = TRY(fields.Strings("volumes"));
  r.problems = TRY(fields.Strings("problems"));
  return r;
}

}  // namespace tessera
