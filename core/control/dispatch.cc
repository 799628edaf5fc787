// Control request dispatch: decode, call one Storage method, encode.
//
// Design notes
//  1. Each op decodes all of its arguments and rejects unknown fields before
//     it calls Storage, so a bad request changes nothing (G5).
//  2. No storage logic lives here: one op is one Storage call (volume.resize
//     is ResizeVolume, nothing more).
#include "core/control/dispatch.h"

#include <exception>

#include "core/control/clone_protocol.h"
#include "core/control/dispatch_repair.h"
#include "core/control/json_fields.h"
#include "core/pool/address.h"

namespace tessera {
namespace {

Result<Json> Null(Status status) {
  TRY_STATUS(status);
  return Json();
}

Result<Json> VolumeCreate(Storage& storage, JsonFields& fields) {
  VolumeSpec spec;
  spec.name = TRY(fields.String("name"));
  spec.size = TRY(fields.Unsigned("size"));
  if (auto layout = TRY(fields.OptionalString("layout"))) spec.layout = *layout;
  if (auto tier = TRY(fields.OptionalString("tier"))) {
    spec.tier = ParseTier(*tier);
    if (!spec.tier) {
      return Err(Code::kInvalidArgument,
                 "volume.create: unknown tier '{}'; expected fastest, fast, slow or slowest",
                 *tier);
    }
  }
  TRY_STATUS(fields.NoOtherFields());
  return ToJson(TRY(storage.CreateVolume(spec)));
}

Result<Json> VolumeResize(Storage& storage, JsonFields& fields) {
  std::string name = TRY(fields.String("name"));
  uint64_t size = TRY(fields.Unsigned("size"));
  bool force = TRY(fields.OptionalBool("force")).value_or(false);
  TRY_STATUS(fields.NoOtherFields());
  return Null(storage.ResizeVolume(name, size, force));
}

// An op whose only argument is "name".
Result<std::string> NameOnly(JsonFields& fields) {
  std::string name = TRY(fields.String("name"));
  TRY_STATUS(fields.NoOtherFields());
  return name;
}

Result<Json> Snapshot(Storage& storage, std::string_view op, JsonFields& fields) {
  std::string volume = TRY(fields.String("volume"));
  if (op == kOpSnapshotList) {
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.ListSnapshots(volume)));
  }
  std::string snapshot = TRY(fields.String("snapshot"));
  TRY_STATUS(fields.NoOtherFields());
  if (op == kOpSnapshotCreate) return Null(storage.CreateSnapshot(volume, snapshot));
  return Null(storage.DeleteSnapshot(volume, snapshot));
}

// Contract 4.
Result<int> PassedStream(int passed_fd, std::string_view op) {
  if (passed_fd < 0) {
    return Err(Code::kInvalidArgument,
               "{} needs the stream file's descriptor passed with the request (SCM_RIGHTS)", op);
  }
  return passed_fd;
}

Result<Json> Diff(Storage& storage, std::string_view op, JsonFields& fields, int passed_fd) {
  std::string volume = TRY(fields.String("volume"));
  std::string from = TRY(fields.OptionalString("from")).value_or("");
  if (op == kOpVolumeDiff) {
    std::string to = TRY(fields.OptionalString("to")).value_or("");
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.DiffVolume(volume, from, to)));
  }
  if (op == kOpDiffStream) {
    std::string to = TRY(fields.String("to"));
    TRY_STATUS(fields.NoOtherFields());
    return ToJson(TRY(storage.WriteDiffStream(volume, from, to, TRY(PassedStream(passed_fd, op)))));
  }
  if (!from.empty()) return Err(Code::kInvalidArgument, "request: unknown field 'from'");
  TRY_STATUS(fields.NoOtherFields());
  return ToJson(TRY(storage.ApplyDiffStream(volume, TRY(PassedStream(passed_fd, op)))));
}

Result<Json> Dispatch(Storage& storage, const Json& request, const ProgressFn& progress,
                      int passed_fd) {
  JsonFields fields = TRY(JsonFields::Of(request, "request"));
  std::string op = TRY(fields.String("op"));
  if (IsRepairOp(op)) return DispatchRepairOp(storage, op, fields, progress);
  if (op == kOpVolumeCreate) return VolumeCreate(storage, fields);
  if (op == kOpVolumeResize) return VolumeResize(storage, fields);
  if (op == kOpVolumeInfo) return ToJson(TRY(storage.GetVolumeInfo(TRY(NameOnly(fields)))));
  if (op == kOpVolumeDelete) return Null(storage.DeleteVolume(TRY(NameOnly(fields))));
  if (op == kOpExnodeShow) return Json(TRY(storage.ExnodeText(TRY(NameOnly(fields)))));
  if (op == kOpSnapshotCreate || op == kOpSnapshotList || op == kOpSnapshotDelete) {
    return Snapshot(storage, op, fields);
  }
  if (auto result = DispatchCloneOp(storage, op, fields)) return std::move(*result);
  if (op == kOpVolumeDiff || op == kOpDiffStream || op == kOpDiffApply) return Diff(storage, op, fields, passed_fd);
  // The rest take no arguments.
  if (op == kOpVolumeList || op == kOpPoolStatus || op == kOpPoolCheck || op == kOpCommit) {
    TRY_STATUS(fields.NoOtherFields());
    if (op == kOpVolumeList) return ToJson(TRY(storage.ListVolumes()));
    if (op == kOpPoolStatus) return ToJson(TRY(storage.GetPoolStatus()));
    if (op == kOpPoolCheck) return ToJson(TRY(storage.Check()));
    return Null(storage.Commit());
  }
  return Err(Code::kInvalidArgument,
             "unknown op '{}'; expected volume.create, volume.list, volume.info, volume.resize, "
             "volume.delete, volume.inspect, exnode.show, snapshot.create, snapshot.list, snapshot.delete, "
             "snapshot.rollback, clone.create, volume.flatten, volume.diff, diff.stream, diff.apply, "
             "pool.status, pool.check, pool.scrub, vdev.list, vdev.offline, vdev.online, vdev.replace or commit",
             op);
}

}  // namespace

Json DispatchRequest(Storage& storage, const Json& request, const ProgressFn& progress,
                     int passed_fd) {
  try {
    Result<Json> result = Dispatch(storage, request, progress, passed_fd);
    return result ? OkResponse(std::move(*result)) : ErrorResponse(result.error());
  } catch (const std::exception& e) {
    return ErrorResponse(
        Error(Code::kIOError, fmt::format("control: internal error: {}", e.what())));
  }
}

std::string HandleRequestLine(Storage& storage, std::string_view line, const ProgressFn& progress,
                              int passed_fd) {
  try {
    Result<Json> request = ParseLine(line);
    Json response =
        request ? DispatchRequest(storage, *request, progress, passed_fd) : ErrorResponse(request.error());
    return EncodeLine(response);
  } catch (const std::exception& e) {
    return EncodeLine(
        ErrorResponse(Error(Code::kIOError, fmt::format("control: internal error: {}", e.what()))));
  }
}

}  // namespace tessera
