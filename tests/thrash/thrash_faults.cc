// The thrasher's faults: vdev offline, online and replace, bit flips,
// scrub and inspect, power loss and crashes, all inside the fault budget
// (thrasher.h note 3).
#include <algorithm>
#include <filesystem>

#include <fmt/core.h>

#include "tests/thrash/thrasher.h"

namespace tessera::thrash {
namespace {

// A report's problems, one a line: the one that matters (the stripe that
// could not be rebuilt) often comes after many that were repaired.
std::string Problems(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += "\n  " + p;
  return out;
}

}  // namespace

uint32_t Thrasher::MinParity() const {
  uint32_t parity = 2;
  for (const auto& [name, v] : volumes_) parity = std::min(parity, v.parity);
  return parity;
}

uint32_t Thrasher::BadDataVdevs() const {
  return static_cast<uint32_t>(std::count_if(vdevs_.begin(), vdevs_.end(), [](const VdevModel& v) { return v.data && Bad(v); }));
}

bool Thrasher::MaySpoil(const VdevModel& v) const {
  if (!v.data) {  // note 3: the other metadata vdev holds every node's other copy
    return std::none_of(vdevs_.begin(), vdevs_.end(),
                        [&](const VdevModel& m) { return !m.data && m.name != v.name && Bad(m); });
  }
  return BadDataVdevs() + (Bad(v) ? 0 : 1) <= MinParity();
}

Thrasher::VdevModel* Thrasher::PickVdev(const std::function<bool(const VdevModel&)>& filter) {
  std::vector<VdevModel*> candidates;
  for (auto& v : vdevs_) {
    if (filter(v)) candidates.push_back(&v);
  }
  if (candidates.empty()) return nullptr;
  return candidates[Rand(candidates.size())];
}

bool Thrasher::OpOffline() {
  VdevModel* v = PickVdev([&](const VdevModel& m) { return !m.offline && !m.armed && MaySpoil(m); });
  if (v == nullptr) return false;
  std::shared_ptr<FaultVdev> device = harness_.Device(v->name);
  bool pull = Chance(50);
  Note(fmt::format("{}{}", v->name, pull ? " (pulled: its unflushed writes are lost)" : ""));
  Status offline = storage_->OfflineVdev(v->name);
  // A vdev goes offline only when every tree node has a copy on another
  // online vdev (database.h contract 6). A node written while one metadata
  // vdev was away has its copies on the other and on data vdevs, so with
  // the other offline now a data vdev may hold its only online copy (note 3).
  bool metadata_offline =
      std::any_of(vdevs_.begin(), vdevs_.end(), [](const VdevModel& m) { return !m.data && m.offline; });
  if ((!v->data || metadata_offline) && !offline && offline.error().code() == Code::kInvalidArgument &&
      !harness_.AnyDead()) {
    stats_.expected_refusals++;
    return true;
  }
  Expect(offline, fmt::format("OfflineVdev({})", v->name));
  v->offline = true;
  v->flipping = false;
  if (device) {
    if (pull) {
      (void)device->SimulatePowerLoss(rng_());
    } else {
      (void)device->Flush();
    }
    harness_.Forget(device);
  }
  return true;
}

bool Thrasher::OpOnline() {
  VdevModel* v = PickVdev([](const VdevModel& m) { return m.offline; });
  if (v == nullptr) return false;
  Note(v->name);
  Expect(storage_->OnlineVdev(v->name), fmt::format("OnlineVdev({})", v->name));
  v->offline = false;
  v->stale = true;  // it missed what was written meanwhile, until a scrub
  return true;
}

bool Thrasher::OpReplace() {
  VdevModel* v = PickVdev([&](const VdevModel& m) { return !m.armed && (m.data || MaySpoil(m)); });
  if (v == nullptr) return false;
  std::shared_ptr<FaultVdev> old_device = harness_.Device(v->name);
  auto vdevs = storage_->ListVdevs();
  Expect(vdevs, "ListVdevs");
  std::string old_path;
  for (const auto& s : *vdevs) {
    if (s.name == v->name) old_path = s.path;
  }
  std::string new_path = fmt::format("{}/{}-r{}.img", harness_.dir(), v->name, ++v->replacements);
  Note(fmt::format("{} {} -> {}", v->name, old_path, new_path));
  auto report = storage_->ReplaceVdev(v->name, new_path);
  if (harness_.AnyDead()) {
    // Cut off, before or after the new device took the slot (pool.conf);
    // what the rebuild wrote may be lost with the crash.
    v->stale = true;
    v->replacing = true;
    throw DeviceDied{};
  }
  // The copy flushes the open volumes first; a flush that needs a new row
  // with more than its parity of vdevs unusable (the replaced one and those
  // away) is refused, Busy, before anything changes
  // (core/volume/volume_impl.cc, note 4d).
  const bool others_bad = std::any_of(vdevs_.begin(), vdevs_.end(),
                                      [&](const VdevModel& m) { return &m != v && m.data && Bad(m); });
  if (!report && report.error().code() == Code::kBusy &&
      report.error().message().find("needs a new data row") != std::string::npos && others_bad) {
    stats_.expected_refusals++;
    return true;
  }
  Expect(report, fmt::format("ReplaceVdev({})", v->name));
  if (report->unrecoverable_blocks != 0) {
    Fail(fmt::format("ReplaceVdev({}) lost {} blocks:{}", v->name, report->unrecoverable_blocks,
                     Problems(report->problems)));
  }
  // A copy read through flipped bits may hold them; only a scrub (full
  // parity check) finds those.
  v->stale = v->flipping;
  v->offline = false;
  v->flipping = false;
  if (old_device) harness_.Forget(old_device);
  if (!old_path.empty() && old_path != new_path) std::filesystem::remove(old_path);
  // Replace flushes every open volume first.
  for (auto& [name, m] : volumes_) m.live().AllDurable();
  return true;
}

bool Thrasher::OpFlipBits() {
  VdevModel* v = PickVdev([&](const VdevModel& m) {
    return !m.flipping && !m.offline && harness_.Device(m.name) && MaySpoil(m);
  });
  if (v == nullptr) return false;
  double probability = std::vector<double>{0.002, 0.02, 0.1}[Rand(3)];
  uint64_t seed = rng_();
  Note(fmt::format("{} p={}", v->name, probability));
  harness_.Device(v->name)->SetRandomBitFlips(probability, seed);
  v->flipping = true;
  return true;
}

bool Thrasher::OpClearFlips() {
  VdevModel* v = PickVdev([&](const VdevModel& m) { return m.flipping; });
  if (v == nullptr) return false;
  Note(v->name);
  if (auto device = harness_.Device(v->name)) device->ClearBitFlips();
  v->flipping = false;
  return true;
}

bool Thrasher::OpScrub() {
  Note("");
  auto report = storage_->Scrub();
  Expect(report, "Scrub");
  if (harness_.AnyDead()) throw DeviceDied{};  // its counts include the dead device
  if (report->unrecoverable != 0) {
    Fail(fmt::format("Scrub found {} unrecoverable units:{}", report->unrecoverable, Problems(report->problems)));
  }
  bool any_offline = std::any_of(vdevs_.begin(), vdevs_.end(), [](const VdevModel& m) { return m.offline; });
  if (!any_offline && report->degraded != 0) {
    Fail(fmt::format("Scrub reports {} degraded units with every vdev online:{}", report->degraded,
                     Problems(report->problems)));
  }
  // Every online vdev now holds what it missed.
  for (auto& v : vdevs_) {
    if (!v.offline) v.stale = false;
  }
  return true;
}

// A few steps of pool rebalance: rows move off the fullest data vdev while
// faults stand; no volume's content may change.
bool Thrasher::OpRebalance() {
  int steps = 0;
  for (; steps < 4; steps++) {
    auto step = storage_->RebalancePool();
    Expect(step, "RebalancePool");
    if (step->done) break;
  }
  Note(fmt::format("{} steps", steps));
  return true;
}

bool Thrasher::OpInspect() {
  VolumeModel* volume = PickVolume();
  if (volume == nullptr) return false;
  InspectDepth depth = Chance(50) ? InspectDepth::kFull : InspectDepth::kScan;
  bool repair = Chance(50);
  Note(fmt::format("{} {}{}", volume->name, InspectDepthName(depth), repair ? " --repair" : ""));
  auto report = storage_->InspectVolume(volume->name, depth, repair);
  Expect(report, fmt::format("InspectVolume({})", volume->name));
  if (harness_.AnyDead()) throw DeviceDied{};
  if (report->unrecoverable != 0) {
    Fail(fmt::format("InspectVolume({}) found {} unrecoverable units:{}", volume->name, report->unrecoverable,
                     Problems(report->problems)));
  }
  return true;
}

bool Thrasher::OpPowerLoss() {
  Recover(false, "power loss (every unflushed write lost)");
  return true;
}

bool Thrasher::OpPowerLossSubset() {
  Recover(true, "power loss (a random subset of unflushed writes lands)");
  return true;
}

bool Thrasher::OpArmCrash() {
  if (std::any_of(vdevs_.begin(), vdevs_.end(), [](const VdevModel& m) { return m.armed; })) return false;
  VdevModel* v = PickVdev([&](const VdevModel& m) { return !m.offline && harness_.Device(m.name) && MaySpoil(m); });
  if (v == nullptr) return false;
  uint64_t writes = Rand(300);
  std::optional<uint64_t> subset;
  if (Chance(50)) subset = rng_();
  Note(fmt::format("{} after {} writes{}", v->name, writes, subset ? " (a random subset lands)" : ""));
  harness_.Device(v->name)->CrashAfterWrites(writes, subset);
  v->armed = true;
  armed_at_op_ = op_;
  return true;
}

void Thrasher::Recover(bool subset, const std::string& why) {
  Note("crash: " + why);
  std::string died = harness_.DeadVdev();
  if (!died.empty()) stats_.device_crashes++;
  stats_.power_losses++;
  harness_.PowerLoss(rng_, subset);
  DropHandles();
  storage_.reset();  // its Close fails on the dead devices, and must do no harm
  harness_.Reset();
  for (auto& v : vdevs_) {
    // A data vdev that died before the others missed the writes they took.
    if (v.data && v.name == died) v.stale = true;
    v.armed = false;
    v.flipping = false;
  }
  armed_at_op_ = 0;
  current_kind_ += " (reopen after crash)";
  OpenStorage();
  stats_.reopens++;
  Reconcile();
  CheckClean("after the crash");
}

}  // namespace tessera::thrash
