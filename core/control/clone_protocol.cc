// The FlattenProgress JSON form (clone_protocol.h).
#include "core/control/clone_protocol.h"

#include "core/control/json_fields.h"

namespace tessera {

Json ToJson(const FlattenProgress& progress) {
  return Json{{"offset", progress.offset},
              {"size", progress.size},
              {"copied_bytes", progress.copied_bytes},
              {"done", progress.done}};
}

Result<FlattenProgress> FlattenProgressFromJson(const Json& json) {
  JsonFields fields = TRY(JsonFields::Of(json, "flatten progress"));
  FlattenProgress progress;
  progress.offset = TRY(fields.Unsigned("offset"));
  progress.size = TRY(fields.Unsigned("size"));
  progress.copied_bytes = TRY(fields.Unsigned("copied_bytes"));
  progress.done = TRY(fields.Bool("done"));
  return progress;  // fields from newer servers are ignored, as in protocol.cc
}

}  // namespace tessera
