// The thrasher's volume management: create, delete, resize, snapshots,
// rollback, clones and flatten. Each records its possible outcome in the
// model before the call and settles it on Ok (thrasher.h note 5).
#include <algorithm>

#include <fmt/core.h>

#include "tests/thrash/thrasher.h"

namespace tessera::thrash {
namespace {

constexpr size_t kMaxVolumes = 5;
constexpr size_t kMaxSnapshots = 3;
constexpr uint64_t kMaxVolumeBytes = 6ull << 20;

}  // namespace

bool Thrasher::OpCreateVolume() {
  if (volumes_.size() >= kMaxVolumes) return false;
  // rs:2+1 only while at most one data vdev is bad (note 3); mirror:3
  // survives two, as rs:4+2 does.
  bool small = BadDataVdevs() <= 1 && Chance(30);
  std::string layout = small ? "rs:2+1" : Chance(25) ? "mirror:3" : "rs:4+2";
  uint64_t size = (256 + Rand(768)) * kBlock;  // 1-4 MiB
  std::string name = fmt::format("v{}", names_++);
  Note(fmt::format("{} {} bytes {}", name, size, layout));
  VolumeModel& v = volumes_[name];
  v = VolumeModel{.name = name, .layout = layout, .parity = small ? 1u : 2u,
                  .states = {VolumeState::Durable(Bytes(size), "")}, .maybe_absent = true};
  auto info = storage_->CreateVolume(VolumeSpec{.name = name, .size = size, .layout = layout});
  Expect(info, fmt::format("CreateVolume({})", name));
  v.maybe_absent = false;
  if (info->size != size || info->layout != layout) {
    Fail(fmt::format("CreateVolume({}) reports size {} layout {}", name, info->size, info->layout));
  }
  return true;
}

bool Thrasher::OpDeleteVolume() {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  std::string name = v->name;
  if (HasClones(name)) {
    Note(name + " (has clones: Busy)");
    v->handle.reset();
    ExpectRefused(storage_->DeleteVolume(name), Code::kBusy, fmt::format("DeleteVolume({}) with clones", name));
    return true;
  }
  if (v->handle && Chance(30)) {
    Note(name + " (open: Busy)");
    ExpectRefused(storage_->DeleteVolume(name), Code::kBusy, fmt::format("DeleteVolume({}) while open", name));
    return true;
  }
  Note(name);
  v->handle.reset();
  v->maybe_absent = true;
  Expect(storage_->DeleteVolume(name), fmt::format("DeleteVolume({})", name));
  volumes_.erase(name);
  return true;
}

bool Thrasher::OpResize() {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  uint64_t size = v->live().size();
  bool grow = Chance(55);
  uint64_t new_size = 0;
  if (grow) {
    if (size >= kMaxVolumeBytes) return false;
    new_size = size + (1 + Rand(std::min<uint64_t>(256, (kMaxVolumeBytes - size) / kBlock))) * kBlock;
  } else {
    if (size <= 64 * kBlock) return false;
    new_size = size - (1 + Rand(std::min<uint64_t>(256, size / kBlock - 64))) * kBlock;
    if (Chance(10)) {
      Note(fmt::format("{} {} -> {} without force: refused", v->name, size, new_size));
      ExpectRefused(storage_->ResizeVolume(v->name, new_size, false), Code::kInvalidArgument,
                    fmt::format("shrinking {} without force", v->name));
      return true;
    }
    if (v->handle && Chance(40)) {
      Note(fmt::format("{} {} -> {} while open: Busy", v->name, size, new_size));
      ExpectRefused(storage_->ResizeVolume(v->name, new_size, true), Code::kBusy,
                    fmt::format("shrinking {} while open", v->name));
      return true;
    }
    v->handle.reset();
  }
  Note(fmt::format("{} {} -> {}", v->name, size, new_size));
  VolumeState resized = v->live();
  resized.Resize(new_size);
  v->states.push_back(resized);
  Expect(storage_->ResizeVolume(v->name, new_size, !grow),
         fmt::format("ResizeVolume({}, {} -> {})", v->name, size, new_size));
  v->states = {std::move(resized)};
  v->history.resize(new_size / kBlock);
  if (new_size > size) v->Record(size, new_size - size, op_);
  if (v->handle && v->handle->size() != new_size) {
    Fail(fmt::format("after resizing {} to {} its open handle has size {}", v->name, new_size, v->handle->size()));
  }
  return true;
}

bool Thrasher::OpSnapshot() {
  VolumeModel* v = PickVolume([](const VolumeModel& m) { return m.snapshots.size() < kMaxSnapshots; });
  if (v == nullptr) return false;
  std::string snap = fmt::format("s{}", names_++);
  Note(fmt::format("{}@{}", v->name, snap));
  v->snapshots.push_back(SnapshotModel{.name = snap, .data = v->live().data, .maybe_absent = true});
  Expect(storage_->CreateSnapshot(v->name, snap), fmt::format("CreateSnapshot({}@{})", v->name, snap));
  v->snapshots.back().maybe_absent = false;
  v->live().AllDurable();
  return true;
}

bool Thrasher::OpDeleteSnapshot() {
  VolumeModel* v = PickVolume([](const VolumeModel& m) { return !m.snapshots.empty(); });
  if (v == nullptr) return false;
  size_t index = Rand(v->snapshots.size());
  std::string snap = v->snapshots[index].name;
  std::string full = v->name + "@" + snap;
  if (HasClones(v->name, snap)) {
    Note(full + " (has clones: Busy)");
    ExpectRefused(storage_->DeleteSnapshot(v->name, snap), Code::kBusy, fmt::format("DeleteSnapshot({})", full));
    return true;
  }
  Note(full);
  v->snapshots[index].maybe_absent = true;
  Expect(storage_->DeleteSnapshot(v->name, snap), fmt::format("DeleteSnapshot({})", full));
  v->snapshots.erase(v->snapshots.begin() + static_cast<ptrdiff_t>(index));
  return true;
}

bool Thrasher::OpRollback() {
  VolumeModel* v = PickVolume([](const VolumeModel& m) { return !m.snapshots.empty(); });
  if (v == nullptr) return false;
  // Any snapshot: newer ones are kept, or deleted with -r (destroy_newer).
  size_t index = Chance(50) ? v->snapshots.size() - 1 : Rand(v->snapshots.size());
  bool newest = index + 1 == v->snapshots.size();
  bool destroy = !newest && Chance(40);
  const SnapshotModel snap = v->snapshots[index];
  std::string full = v->name + "@" + snap.name + (destroy ? " -r" : "");
  if (destroy) {
    for (size_t n = index + 1; n < v->snapshots.size(); n++) {
      if (!HasClones(v->name, v->snapshots[n].name)) continue;
      Note(full + " (a newer snapshot has clones: Busy)");
      ExpectRefused(storage_->RollbackSnapshot(v->name, snap.name, false, true), Code::kBusy,
                    fmt::format("RollbackSnapshot({}) past {}@{}, which has clones", full, v->name,
                                v->snapshots[n].name));
      return true;
    }
  }
  bool force = false;
  if (v->handle) {
    if (Chance(40)) {
      Note(full + " (open, no force: Busy)");
      ExpectRefused(storage_->RollbackSnapshot(v->name, snap.name, false, destroy), Code::kBusy,
                    fmt::format("RollbackSnapshot({}) while open without force", full));
      return true;
    }
    force = Chance(60);
    if (!force) v->handle.reset();
  }
  Note(full + (force ? " --force" : ""));
  VolumeState rolled = VolumeState::Durable(snap.data, v->live().origin);
  v->states.push_back(rolled);
  if (destroy) {
    for (size_t n = index + 1; n < v->snapshots.size(); n++) v->snapshots[n].maybe_absent = true;
  }
  Expect(storage_->RollbackSnapshot(v->name, snap.name, force, destroy), fmt::format("RollbackSnapshot({})", full));
  if (destroy) v->snapshots.resize(index + 1);
  v->states = {std::move(rolled)};
  v->history.clear();
  v->Record(0, v->live().size(), op_);
  if (force) {
    // The revoked handle fails every call with IOError (volume.h contract 7).
    Bytes buffer(kBlock);
    auto read = v->handle->Read(0, buffer);
    if (read || read.error().code() != Code::kIOError) {
      Fail(fmt::format("a read through the handle revoked by RollbackSnapshot({}, force) gave {}", full,
                       read ? std::string("Ok") : read.error().ToString()));
    }
    v->handle.reset();
  }
  return true;
}

bool Thrasher::OpClone() {
  if (volumes_.size() >= kMaxVolumes) return false;
  VolumeModel* v = PickVolume([](const VolumeModel& m) { return !m.snapshots.empty(); });
  if (v == nullptr) return false;
  const SnapshotModel& snap = v->snapshots[Rand(v->snapshots.size())];
  std::string origin = v->name + "@" + snap.name;
  std::string name = fmt::format("c{}", names_++);
  Note(fmt::format("{} -> {}", origin, name));
  VolumeModel clone{.name = name, .layout = v->layout, .parity = v->parity,
                    .states = {VolumeState::Durable(snap.data, origin)}, .maybe_absent = true};
  std::string origin_volume = v->name;  // `v` may move when the map grows
  volumes_[name] = std::move(clone);
  auto info = storage_->CloneSnapshot(origin_volume, origin.substr(origin.find('@') + 1), name);
  Expect(info, fmt::format("CloneSnapshot({} -> {})", origin, name));
  VolumeModel& made = volumes_[name];
  made.maybe_absent = false;
  made.Record(0, made.live().size(), op_);
  if (info->origin != origin || info->size != made.live().size()) {
    Fail(fmt::format("CloneSnapshot({} -> {}) reports origin '{}' size {}", origin, name, info->origin, info->size));
  }
  return true;
}

bool Thrasher::OpFlatten() {
  VolumeModel* v = PickVolume([](const VolumeModel& m) { return !m.live().origin.empty(); });
  if (v == nullptr) return false;
  std::string origin = v->live().origin;
  uint64_t step = uint64_t{64 << 10} << Rand(6);  // 64 KiB .. 2 MiB
  if (!v->snapshots.empty()) {
    Note(fmt::format("{} (has snapshots: Busy)", v->name));
    auto refused = storage_->FlattenVolume(v->name, v->flatten_offset, step);
    ExpectRefused(refused ? Status() : Status(std::unexpected(refused.error())), Code::kBusy,
                  fmt::format("FlattenVolume({}) with snapshots", v->name));
    return true;
  }
  // The origin snapshot's size bounds what can read from it.
  size_t at = origin.find('@');
  auto it = volumes_.find(origin.substr(0, at));
  if (it == volumes_.end()) Fail(fmt::format("clone {} has origin {}, which the model lost", v->name, origin));
  SnapshotModel* snap = it->second.FindSnapshot(origin.substr(at + 1));
  if (snap == nullptr) Fail(fmt::format("clone {} has origin {}, which the model lost", v->name, origin));
  uint64_t span = std::min<uint64_t>(v->live().size(), snap->data.size());
  bool last = v->flatten_offset >= span;
  Note(fmt::format("{} at {} step {}{}", v->name, v->flatten_offset, step, last ? " (last)" : ""));
  VolumeState detached = v->live();
  detached.origin.clear();
  detached.AllDurable();
  if (last) v->states.push_back(detached);
  auto progress = storage_->FlattenVolume(v->name, v->flatten_offset, step);
  Expect(progress, fmt::format("FlattenVolume({}, {}, {})", v->name, v->flatten_offset, step));
  if (progress->done != last || progress->size != span) {
    Fail(fmt::format("FlattenVolume({}, {}, {}) gave done={} size={}; expected done={} size={}", v->name,
                     v->flatten_offset, step, progress->done, progress->size, last, span));
  }
  if (last) {
    v->states = {std::move(detached)};
    v->flatten_offset = 0;
  } else {
    v->flatten_offset = progress->offset;
  }
  return true;
}

}  // namespace tessera::thrash
