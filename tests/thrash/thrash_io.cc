// The thrasher's volume I/O: writes, trims, zeros, reads, flushes, handles.
#include <cstring>

#include <fmt/core.h>

#include "tests/thrash/thrasher.h"

namespace tessera::thrash {

bool Thrasher::OpWrite() { return DoWrite(false); }

bool Thrasher::DoWrite(bool unaligned) {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  VolumeState& s = v->live();
  auto [offset, length] = RandomRange(s.size(), unaligned);
  Bytes data = RandomBytes(length, rng_());
  bool fua = Chance(10);
  std::memcpy(s.data.data() + offset, data.data(), length);
  s.Changed(offset, length, false);
  v->Record(offset, length, op_);
  Note(fmt::format("{} [{}, +{}){}", v->name, offset, length, fua ? " fua" : ""));
  auto volume = Handle(*v);
  Expect(volume->Write(offset, data, fua), fmt::format("write of {} [{}, +{})", v->name, offset, length));
  if (fua) s.Changed(offset, length, true);
  return true;
}

bool Thrasher::OpTrim() { return DoTrim(false); }

bool Thrasher::DoTrim(bool unaligned) {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  VolumeState& s = v->live();
  auto [offset, length] = RandomRange(s.size(), unaligned);
  bool fua = Chance(10);
  std::memset(s.data.data() + offset, 0, length);
  s.Changed(offset, length, false);
  v->Record(offset, length, op_);
  Note(fmt::format("{} [{}, +{}){}", v->name, offset, length, fua ? " fua" : ""));
  auto volume = Handle(*v);
  Expect(volume->Trim(offset, length, fua), fmt::format("trim of {} [{}, +{})", v->name, offset, length));
  if (fua) s.Changed(offset, length, true);
  return true;
}

bool Thrasher::OpZero() { return DoZero(false); }

bool Thrasher::DoZero(bool unaligned) {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  VolumeState& s = v->live();
  auto [offset, length] = RandomRange(s.size(), unaligned);
  bool fua = Chance(10);
  bool may_trim = Chance(50);
  std::memset(s.data.data() + offset, 0, length);
  s.Changed(offset, length, false);
  v->Record(offset, length, op_);
  Note(fmt::format("{} [{}, +{}){}{}", v->name, offset, length, may_trim ? " may-trim" : "", fua ? " fua" : ""));
  auto volume = Handle(*v);
  Expect(volume->Zero(offset, length, may_trim, fua), fmt::format("zero of {} [{}, +{})", v->name, offset, length));
  if (fua) s.Changed(offset, length, true);
  return true;
}

bool Thrasher::OpUnaligned() {
  switch (Rand(3)) {
    case 0: return DoWrite(true);
    case 1: return DoTrim(true);
    default: return DoZero(true);
  }
}

bool Thrasher::OpRead() {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  // A snapshot export now and then, else the live volume.
  const Bytes* model = &v->live().data;
  std::string name = v->name;
  if (!v->snapshots.empty() && Chance(30)) {
    const SnapshotModel& snap = v->snapshots[Rand(v->snapshots.size())];
    model = &snap.data;
    name = v->name + "@" + snap.name;
  }
  auto [offset, length] = RandomRange(model->size(), Chance(25));
  Note(fmt::format("{} [{}, +{})", name, offset, length));
  std::shared_ptr<Volume> volume;
  if (name == v->name) {
    volume = Handle(*v);
  } else {
    auto opened = storage_->OpenVolume(name);
    Expect(opened, fmt::format("OpenVolume({})", name));
    volume = *opened;
  }
  Bytes got(length);
  Expect(volume->Read(offset, got), fmt::format("read of {} [{}, +{})", name, offset, length));
  if (std::memcmp(got.data(), model->data() + offset, length) != 0) {
    size_t at = 0;
    while (got[at] == (*model)[offset + at]) at++;
    Fail(fmt::format("read of {} [{}, +{}) differs from the model at byte {} (block {}): {:#04x}, expected {:#04x}",
                     name, offset, length, offset + at, (offset + at) / kBlock, static_cast<unsigned>(got[at]),
                     static_cast<unsigned>((*model)[offset + at])));
  }
  stats_.reads_compared++;
  return true;
}

bool Thrasher::OpFlush() {
  VolumeModel* v = PickVolume();
  if (v == nullptr) return false;
  Note(v->name);
  auto volume = Handle(*v);
  Expect(volume->Flush(), fmt::format("flush of {}", v->name));
  v->live().AllDurable();
  return true;
}

bool Thrasher::OpDropHandle() {
  VolumeModel* v = PickVolume([](const VolumeModel& m) { return m.handle != nullptr; });
  if (v == nullptr) return false;
  Note(v->name);
  v->handle.reset();
  return true;
}

bool Thrasher::OpCloseIdle() {
  Note("");
  Expect(storage_->CloseIdleVolumes(), "CloseIdleVolumes");
  // Closing flushes: what no handle holds is durable now.
  for (auto& [name, v] : volumes_) {
    if (!v.handle) v.live().AllDurable();
  }
  return true;
}

bool Thrasher::OpCommit() {
  Note("");
  Expect(storage_->Commit(), "Commit");
  return true;
}

}  // namespace tessera::thrash
