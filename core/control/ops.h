// The control operations, each described once: its name, its arguments (a
// Request type and its Fields), its result (Reply) and the one PoolApi call
// it makes. op_table.h says what an op type holds and who reads it; the
// table of docs/control-protocol.md is generated from this file
// (ControlOpTableMarkdown) and checked against it by op_table_test.cc.
//
// Adding an op: its call in PoolApi (core/volume/pool_api.h; Storage::Impl
// and PoolClient implement it), a struct here, its place in ControlOps, and
// its row in the docs' table.
//
// Contract: as op_table.h. Run makes exactly one PoolApi call, after the
// whole request decoded; it holds no storage logic.
#pragma once

#include <string>

#include "core/control/clone_protocol.h"
#include "core/control/op_table.h"
#include "core/control/protocol_repair.h"
#include "core/pool/address.h"
#include "core/volume/pool_api.h"

namespace tessera {

// Enum fields.
template <>
struct JsonValue<Tier> {
  static constexpr std::string_view kType = "`\"fastest\"`, `\"fast\"`, `\"slow\"` or `\"slowest\"`";
  static Result<std::optional<Tier>> Read(JsonFields& f, std::string_view key) {
    std::optional<std::string> text = TRY(f.OptionalString(key));
    if (!text) return std::nullopt;
    std::optional<Tier> tier = ParseTier(*text);
    if (!tier) {
      return Err(Code::kInvalidArgument,
                 "{}: unknown tier '{}' in field '{}'; expected fastest, fast, slow or slowest", f.what(), *text,
                 key);
    }
    return tier;
  }
  static Json Write(Tier tier) { return std::string(TierName(tier)); }
};

template <>
struct JsonValue<InspectDepth> {
  static constexpr std::string_view kType = "`\"quick\"`, `\"scan\"` or `\"full\"`";
  static Result<std::optional<InspectDepth>> Read(JsonFields& f, std::string_view key) {
    std::optional<std::string> text = TRY(f.OptionalString(key));
    if (!text) return std::nullopt;
    return TRY(ParseInspectDepth(*text));
  }
  static Json Write(InspectDepth depth) { return std::string(InspectDepthName(depth)); }
};

// Request types and their fields (op_table.h contract 1).
template <typename V>
void Fields(V& v, VolumeSpec& s) {
  v.Required("name", s.name);
  v.Required("size", s.size);
  v.Optional("layout", s.layout);
  v.OmitEmpty("tier", s.tier);
  v.OmitEmpty("spread", s.spread);
}

template <typename V>
void Fields(V& v, VdevSpec& s) {
  v.OmitEmpty("name", s.name);
  v.Required("path", s.path);
  v.Required("size", s.size);
  v.Optional("tier", s.tier);
  v.Optional("attrs", s.attrs);
  v.OmitEmpty("force", s.force);
}

namespace ops {

struct NoArgs {};
template <typename V>
void Fields(V&, NoArgs&) {}

struct NameArgs {
  std::string name;
};
template <typename V>
void Fields(V& v, NameArgs& a) {
  v.Required("name", a.name);
}

struct VolumeArgs {
  std::string volume;
};
template <typename V>
void Fields(V& v, VolumeArgs& a) {
  v.Required("volume", a.volume);
}

struct SnapshotArgs {
  std::string volume;
  std::string snapshot;
};
template <typename V>
void Fields(V& v, SnapshotArgs& a) {
  v.Required("volume", a.volume);
  v.Required("snapshot", a.snapshot);
}

struct ResizeArgs {
  std::string name;
  uint64_t size = 0;
  bool force = false;
};
template <typename V>
void Fields(V& v, ResizeArgs& a) {
  v.Required("name", a.name);
  v.Required("size", a.size);
  v.Optional("force", a.force);
}

struct MoveArgs {
  std::string name;
  Tier tier = Tier::kSlow;
};
template <typename V>
void Fields(V& v, MoveArgs& a) {
  v.Required("name", a.name);
  v.Required("tier", a.tier);
}

struct RenameArgs {
  std::string name;
  std::string new_name;
};
template <typename V>
void Fields(V& v, RenameArgs& a) {
  v.Required("name", a.name);
  v.Required("new_name", a.new_name);
}

struct RollbackArgs {
  std::string volume;
  std::string snapshot;
  bool force = false;
  bool destroy_newer = false;
};
template <typename V>
void Fields(V& v, RollbackArgs& a) {
  v.Required("volume", a.volume);
  v.Required("snapshot", a.snapshot);
  v.Optional("force", a.force);
  v.Optional("destroy_newer", a.destroy_newer);
}

struct CloneArgs {
  std::string volume;
  std::string snapshot;
  std::string clone;
};
template <typename V>
void Fields(V& v, CloneArgs& a) {
  v.Required("volume", a.volume);
  v.Required("snapshot", a.snapshot);
  v.Required("clone", a.clone);
}

struct FlattenArgs {
  std::string name;
  uint64_t offset = 0;
  uint64_t max_bytes = kFlattenStepBytes;
};
template <typename V>
void Fields(V& v, FlattenArgs& a) {
  v.Required("name", a.name);
  v.Optional("offset", a.offset);
  v.Optional("max_bytes", a.max_bytes);
}

// volume.diff: empty `from` is from nothing, empty `to` the live volume.
struct DiffArgs {
  std::string volume;
  std::string from;
  std::string to;
};
template <typename V>
void Fields(V& v, DiffArgs& a) {
  v.Required("volume", a.volume);
  v.OmitEmpty("from", a.from);
  v.OmitEmpty("to", a.to);
}

// diff.stream: as DiffArgs, but `to` is a snapshot and required.
struct DiffStreamArgs {
  std::string volume;
  std::string from;
  std::string to;
};
template <typename V>
void Fields(V& v, DiffStreamArgs& a) {
  v.Required("volume", a.volume);
  v.OmitEmpty("from", a.from);
  v.Required("to", a.to);
}

struct InspectArgs {
  std::string name;
  InspectDepth depth = InspectDepth::kScan;
  bool repair = false;
  bool progress = false;
};
template <typename V>
void Fields(V& v, InspectArgs& a) {
  v.Required("name", a.name);
  v.Optional("depth", a.depth);
  v.Optional("repair", a.repair);
  v.Optional("progress", a.progress);
}

struct ScrubArgs {
  bool progress = false;
};
template <typename V>
void Fields(V& v, ScrubArgs& a) {
  v.Optional("progress", a.progress);
}

struct ReplaceArgs {
  std::string name;
  std::string path;
  bool progress = false;
};
template <typename V>
void Fields(V& v, ReplaceArgs& a) {
  v.Required("name", a.name);
  v.Required("path", a.path);
  v.Optional("progress", a.progress);
}

struct VolumeCreate {
  static constexpr std::string_view kName = "volume.create";
  static constexpr std::string_view kResultDoc = "VolumeInfo of the new volume";
  using Request = VolumeSpec;
  using Reply = VolumeInfo;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.CreateVolume(r); }
};

struct VolumeList {
  static constexpr std::string_view kName = "volume.list";
  static constexpr std::string_view kResultDoc = "array of VolumeInfo";
  using Request = NoArgs;
  using Reply = std::vector<VolumeInfo>;
  static Result<Reply> Run(PoolApi& s, const Request&, const OpCall&) { return s.ListVolumes(); }
};

struct VolumeInfoOp {
  static constexpr std::string_view kName = "volume.info";
  static constexpr std::string_view kResultDoc = "VolumeInfo";
  using Request = NameArgs;
  using Reply = VolumeInfo;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.GetVolumeInfo(r.name); }
};

struct VolumeResize {
  static constexpr std::string_view kName = "volume.resize";
  static constexpr std::string_view kResultDoc = "`null`";
  using Request = ResizeArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) { return s.ResizeVolume(r.name, r.size, r.force); }
};

struct VolumeDelete {
  static constexpr std::string_view kName = "volume.delete";
  static constexpr std::string_view kResultDoc = "`null`";
  using Request = NameArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) { return s.DeleteVolume(r.name); }
};

struct VolumeRename {
  static constexpr std::string_view kName = "volume.rename";
  static constexpr std::string_view kResultDoc = "`null`; the volume's snapshots follow it";
  using Request = RenameArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) { return s.RenameVolume(r.name, r.new_name); }
};

struct VolumeInspect {
  static constexpr std::string_view kName = "volume.inspect";
  static constexpr std::string_view kResultDoc = "InspectReport";
  using Request = InspectArgs;
  using Reply = VolumeInspectReport;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall& call) {
    return s.InspectVolume(r.name, r.depth, r.repair, call.Progress(r.progress));
  }
};

struct ExnodeShow {
  static constexpr std::string_view kName = "exnode.show";
  static constexpr std::string_view kResultDoc = "string: the exNode text ([format/exnode.md](format/exnode.md))";
  using Request = NameArgs;
  using Reply = std::string;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.ExnodeText(r.name); }
};

struct SnapshotCreate {
  static constexpr std::string_view kName = "snapshot.create";
  static constexpr std::string_view kResultDoc =
      "`null`; the volume is flushed first, the snapshot is durable on return";
  using Request = SnapshotArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) { return s.CreateSnapshot(r.volume, r.snapshot); }
};

struct SnapshotList {
  static constexpr std::string_view kName = "snapshot.list";
  static constexpr std::string_view kResultDoc = "array of SnapshotInfo, oldest first";
  using Request = VolumeArgs;
  using Reply = std::vector<SnapshotInfo>;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.ListSnapshots(r.volume); }
};

struct SnapshotDelete {
  static constexpr std::string_view kName = "snapshot.delete";
  static constexpr std::string_view kResultDoc =
      "`null`; `Busy` while `VOLUME@SNAPSHOT` is exported or has clones; what only the snapshot held is free "
      "on return";
  using Request = SnapshotArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) { return s.DeleteSnapshot(r.volume, r.snapshot); }
};

struct SnapshotRollback {
  static constexpr std::string_view kName = "snapshot.rollback";
  static constexpr std::string_view kResultDoc = "`null`";
  using Request = RollbackArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) {
    return s.RollbackSnapshot(r.volume, r.snapshot, r.force, r.destroy_newer);
  }
};

struct CloneCreate {
  static constexpr std::string_view kName = "clone.create";
  static constexpr std::string_view kResultDoc = "VolumeInfo of the clone";
  using Request = CloneArgs;
  using Reply = VolumeInfo;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) {
    return s.CloneSnapshot(r.volume, r.snapshot, r.clone);
  }
};

struct VolumeFlatten {
  static constexpr std::string_view kName = "volume.flatten";
  static constexpr std::string_view kResultDoc = "FlattenProgress";
  using Request = FlattenArgs;
  using Reply = FlattenProgress;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) {
    return s.FlattenVolume(r.name, r.offset, r.max_bytes);
  }
};

struct VolumeMove {
  static constexpr std::string_view kName = "volume.move";
  static constexpr std::string_view kResultDoc = "MoveProgress";
  using Request = MoveArgs;
  using Reply = MoveProgress;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.MoveVolume(r.name, r.tier); }
};

struct VolumeDiffOp {
  static constexpr std::string_view kName = "volume.diff";
  static constexpr std::string_view kResultDoc = "VolumeDiff";
  using Request = DiffArgs;
  using Reply = VolumeDiff;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.DiffVolume(r.volume, r.from, r.to); }
};

struct DiffStream {
  static constexpr std::string_view kName = "diff.stream";
  static constexpr std::string_view kResultDoc = "DiffStreamInfo";
  static constexpr bool kPassesFd = true;
  using Request = DiffStreamArgs;
  using Reply = DiffStreamInfo;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall& call) {
    return s.WriteDiffStream(r.volume, r.from, r.to, TRY(call.PassedStream()));
  }
};

struct DiffApply {
  static constexpr std::string_view kName = "diff.apply";
  static constexpr std::string_view kResultDoc = "DiffStreamInfo";
  static constexpr bool kPassesFd = true;
  using Request = VolumeArgs;
  using Reply = DiffStreamInfo;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall& call) {
    return s.ApplyDiffStream(r.volume, TRY(call.PassedStream()));
  }
};

struct PoolStatusOp {
  static constexpr std::string_view kName = "pool.status";
  static constexpr std::string_view kResultDoc = "PoolStatus";
  using Request = NoArgs;
  using Reply = PoolStatus;
  static Result<Reply> Run(PoolApi& s, const Request&, const OpCall&) { return s.GetPoolStatus(); }
};

struct PoolIostat {
  static constexpr std::string_view kName = "pool.iostat";
  static constexpr std::string_view kResultDoc = "PoolIoReport";
  using Request = NoArgs;
  using Reply = PoolIoReport;
  static Result<Reply> Run(PoolApi& s, const Request&, const OpCall&) { return s.GetIoReport(); }
};

struct PoolCheck {
  static constexpr std::string_view kName = "pool.check";
  static constexpr std::string_view kResultDoc = "CheckReport";
  using Request = NoArgs;
  using Reply = CheckReport;
  static Result<Reply> Run(PoolApi& s, const Request&, const OpCall&) { return s.Check(); }
};

struct PoolScrub {
  static constexpr std::string_view kName = "pool.scrub";
  static constexpr std::string_view kResultDoc = "ScrubReport";
  using Request = ScrubArgs;
  using Reply = ScrubReport;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall& call) {
    return s.Scrub(call.Progress(r.progress));
  }
};

struct PoolRebalance {
  static constexpr std::string_view kName = "pool.rebalance";
  static constexpr std::string_view kResultDoc = "RebalanceProgress (one step; call until done)";
  using Request = NoArgs;
  using Reply = RebalanceProgress;
  static Result<Reply> Run(PoolApi& s, const Request&, const OpCall&) { return s.RebalancePool(); }
};

struct VdevList {
  static constexpr std::string_view kName = "vdev.list";
  static constexpr std::string_view kResultDoc = "array of VdevStatus";
  using Request = NoArgs;
  using Reply = std::vector<VdevStatus>;
  static Result<Reply> Run(PoolApi& s, const Request&, const OpCall&) { return s.ListVdevs(); }
};

struct VdevOffline {
  static constexpr std::string_view kName = "vdev.offline";
  static constexpr std::string_view kResultDoc = "`null`";
  using Request = NameArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request& r, const OpCall&) { return s.OfflineVdev(r.name); }
};

struct VdevOnline {
  static constexpr std::string_view kName = "vdev.online";
  static constexpr std::string_view kResultDoc = "VdevOnlineReport (what the vdev caught up on)";
  using Request = NameArgs;
  using Reply = VdevOnlineReport;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.OnlineVdev(r.name); }
};

struct VdevReplace {
  static constexpr std::string_view kName = "vdev.replace";
  static constexpr std::string_view kResultDoc = "ReplaceReport";
  using Request = ReplaceArgs;
  using Reply = VdevReplaceReport;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall& call) {
    return s.ReplaceVdev(r.name, r.path, call.Progress(r.progress));
  }
};

struct VdevAdd {
  static constexpr std::string_view kName = "vdev.add";
  static constexpr std::string_view kResultDoc = "VdevStatus of the new vdev; pool.conf names it on return";
  using Request = VdevSpec;
  using Reply = VdevStatus;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.AddVdev(r); }
};

struct GrowArgs {
  std::string name;
  uint64_t size = 0;
};
template <typename V>
void Fields(V& v, GrowArgs& a) {
  v.Required("name", a.name);
  v.Optional("size", a.size);
}

struct VdevGrow {
  static constexpr std::string_view kName = "vdev.grow";
  static constexpr std::string_view kResultDoc = "VdevStatus of the grown vdev";
  using Request = GrowArgs;
  using Reply = VdevStatus;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.GrowVdev(r.name, r.size); }
};

struct VdevRemove {
  static constexpr std::string_view kName = "vdev.remove";
  static constexpr std::string_view kResultDoc = "VdevRemoveProgress (one step; call until done)";
  using Request = NameArgs;
  using Reply = VdevRemoveProgress;
  static Result<Reply> Run(PoolApi& s, const Request& r, const OpCall&) { return s.RemoveVdev(r.name); }
};

struct Commit {
  static constexpr std::string_view kName = "commit";
  static constexpr std::string_view kResultDoc = "`null`";
  using Request = NoArgs;
  using Reply = void;
  static Status Run(PoolApi& s, const Request&, const OpCall&) { return s.Commit(); }
};

}  // namespace ops

// Every op, in the order the unknown-op error and the docs list them.
using ControlOps =
    OpList<ops::VolumeCreate, ops::VolumeList, ops::VolumeInfoOp, ops::VolumeResize, ops::VolumeDelete,
           ops::VolumeRename, ops::VolumeInspect, ops::ExnodeShow, ops::SnapshotCreate, ops::SnapshotList,
           ops::SnapshotDelete, ops::SnapshotRollback, ops::CloneCreate, ops::VolumeFlatten, ops::VolumeMove,
           ops::VolumeDiffOp, ops::DiffStream, ops::DiffApply, ops::PoolStatusOp, ops::PoolIostat, ops::PoolCheck,
           ops::PoolScrub, ops::PoolRebalance, ops::VdevList, ops::VdevOffline, ops::VdevOnline, ops::VdevReplace,
           ops::VdevAdd, ops::VdevGrow, ops::VdevRemove, ops::Commit>;

// The result of an op from its JSON (lenient: unknown fields are ignored),
// and the JSON of one.
template <typename T>
Result<T> ReplyFromJson(const Json& json) {
  if constexpr (std::is_same_v<T, std::string>) {
    return StringFromJson(json);
  } else if constexpr (json_visit::IsVector<T>::value) {
    return ListFromJson<typename T::value_type>(json);
  } else {
    return FromJson<T>(json);
  }
}
template <typename T>
Json ReplyToJson(const T& reply) {
  return json_visit::Write(reply);
}

}  // namespace tessera
