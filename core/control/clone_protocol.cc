// The clone ops of the control protocol (clone_protocol.h).
#include "core/control/clone_protocol.h"

#include "core/control/json_fields.h"

namespace tessera {

Json CloneCreateRequest(const std::string& volume, const std::string& snapshot, const std::string& clone) {
  return Json{{"op", kOpCloneCreate}, {"volume", volume}, {"snapshot", snapshot}, {"clone", clone}};
}

Json VolumeFlattenRequest(const std::string& name, uint64_t offset, uint64_t max_bytes) {
  return Json{{"op", kOpVolumeFlatten}, {"name", name}, {"offset", offset}, {"max_bytes", max_bytes}};
}

Json SnapshotRollbackRequest(const std::string& volume, const std::string& snapshot, bool force) {
  return Json{{"op", kOpSnapshotRollback}, {"volume", volume}, {"snapshot", snapshot}, {"force", force}};
}

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

namespace {

Result<Json> CloneCreate(Storage& storage, JsonFields& fields) {
  std::string volume = TRY(fields.String("volume"));
  std::string snapshot = TRY(fields.String("snapshot"));
  std::string clone = TRY(fields.String("clone"));
  TRY_STATUS(fields.NoOtherFields());
  return ToJson(TRY(storage.CloneSnapshot(volume, snapshot, clone)));
}

Result<Json> VolumeFlatten(Storage& storage, JsonFields& fields) {
  std::string name = TRY(fields.String("name"));
  uint64_t offset = TRY(fields.OptionalUnsigned("offset")).value_or(0);
  uint64_t max_bytes = TRY(fields.OptionalUnsigned("max_bytes")).value_or(kFlattenStepBytes);
  TRY_STATUS(fields.NoOtherFields());
  return ToJson(TRY(storage.FlattenVolume(name, offset, max_bytes)));
}

Result<Json> SnapshotRollback(Storage& storage, JsonFields& fields) {
  std::string volume = TRY(fields.String("volume"));
  std::string snapshot = TRY(fields.String("snapshot"));
  bool force = TRY(fields.OptionalBool("force")).value_or(false);
  TRY_STATUS(fields.NoOtherFields());
  TRY_STATUS(storage.RollbackSnapshot(volume, snapshot, force));
  return Json();
}

}  // namespace

std::optional<Result<Json>> DispatchCloneOp(Storage& storage, std::string_view op, JsonFields& fields) {
  if (op == kOpCloneCreate) return CloneCreate(storage, fields);
  if (op == kOpVolumeFlatten) return VolumeFlatten(storage, fields);
  if (op == kOpSnapshotRollback) return SnapshotRollback(storage, fields);
  return std::nullopt;
}

}  // namespace tessera
