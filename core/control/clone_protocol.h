// The control ops for clones, flatten and rollback: their requests, the
// FlattenProgress JSON form, and their dispatch. Part of the control
// protocol (protocol.h; docs/control-protocol.md).
//
//   op                 arguments                                  result
//   clone.create       volume, snapshot, clone                    VolumeInfo
//   volume.flatten     name, [offset=0], [max_bytes=64 MiB]       FlattenProgress
//   snapshot.rollback  volume, snapshot, [force=false]            null
//
// volume.flatten is one step (Storage::FlattenVolume): the client repeats it
// with the returned offset until "done" is true, showing progress.
//
// Contract: as protocol.h (decoders validate, unknown fields are
// InvalidArgument, nothing throws); DispatchCloneOp calls one Storage method.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/control/protocol.h"

namespace tessera {

class JsonFields;

inline constexpr std::string_view kOpCloneCreate = "clone.create";
inline constexpr std::string_view kOpVolumeFlatten = "volume.flatten";
inline constexpr std::string_view kOpSnapshotRollback = "snapshot.rollback";
inline constexpr uint64_t kFlattenStepBytes = 64ull << 20;

Json CloneCreateRequest(const std::string& volume, const std::string& snapshot, const std::string& clone);
Json VolumeFlattenRequest(const std::string& name, uint64_t offset, uint64_t max_bytes);
Json SnapshotRollbackRequest(const std::string& volume, const std::string& snapshot, bool force);

Json ToJson(const FlattenProgress& progress);
Result<FlattenProgress> FlattenProgressFromJson(const Json& json);

// The result of a clone op; nullopt when `op` is not one of them.
std::optional<Result<Json>> DispatchCloneOp(Storage& storage, std::string_view op, JsonFields& fields);

}  // namespace tessera
