// JSON forms of the diff ops' results (protocol.h): VolumeDiff and
// DiffStreamInfo.
#include "core/control/json_fields.h"
#include "core/control/protocol.h"

namespace tessera {

Json ToJson(const VolumeDiff& diff) {
  Json ranges = Json::array();
  for (const DiffRange& r : diff.ranges) {
    ranges.push_back(Json{{"offset", r.offset}, {"length", r.length}, {"zero", r.zero}});
  }
  return Json{{"volume", diff.volume},
              {"from", diff.from},
              {"to", diff.to},
              {"size", diff.size},
              {"changed_bytes", diff.changed_bytes},
              {"nodes_visited", diff.nodes_visited},
              {"ranges", std::move(ranges)}};
}

Result<VolumeDiff> VolumeDiffFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "volume diff"));
  VolumeDiff diff;
  diff.volume = TRY(fields.String("volume"));
  diff.from = TRY(fields.String("from"));
  diff.to = TRY(fields.String("to"));
  diff.size = TRY(fields.Unsigned("size"));
  diff.changed_bytes = TRY(fields.Unsigned("changed_bytes"));
  diff.nodes_visited = TRY(fields.OptionalUnsigned("nodes_visited")).value_or(0);
  for (const Json& item : *TRY(fields.Array("ranges"))) {
    JsonFields range = TRY(JsonFields::Of(item, "diff range"));
    diff.ranges.push_back(DiffRange{.offset = TRY(range.Unsigned("offset")),
                                    .length = TRY(range.Unsigned("length")),
                                    .zero = TRY(range.Bool("zero"))});
  }
  return diff;
}

Json ToJson(const DiffStreamInfo& info) {
  return Json{{"volume", info.volume},
              {"base", info.base},
              {"target", info.target},
              {"records", info.records},
              {"data_bytes", info.data_bytes},
              {"zero_bytes", info.zero_bytes},
              {"stream_bytes", info.stream_bytes}};
}

Result<DiffStreamInfo> DiffStreamInfoFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "diff stream"));
  DiffStreamInfo info;
  info.volume = TRY(fields.String("volume"));
  info.base = TRY(fields.String("base"));
  info.target = TRY(fields.String("target"));
  info.records = TRY(fields.Unsigned("records"));
  info.data_bytes = TRY(fields.Unsigned("data_bytes"));
  info.zero_bytes = TRY(fields.Unsigned("zero_bytes"));
  info.stream_bytes = TRY(fields.Unsigned("stream_bytes"));
  return info;
}

}  // namespace tessera
