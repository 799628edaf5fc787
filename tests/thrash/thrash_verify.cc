// The thrasher's verification: whole volumes and snapshots against the
// model, exactly (VerifyAll) or, after a crash, against what a crash may
// leave (Reconcile, thrasher.h note 4); Check after both.
#include <algorithm>

#include <fmt/core.h>
#include <fmt/ranges.h>

#include "tests/thrash/thrasher.h"

namespace tessera::thrash {

void Thrasher::OpenStorage() {
  auto opened = harness_.Open();
  if (!opened) Fail("reopening the pool: " + opened.error().ToString());
  storage_ = std::move(*opened);
  if (options_.background_ms) storage_->StartBackground(std::chrono::milliseconds(options_.background_ms));
  auto vdevs = storage_->ListVdevs();
  Expect(vdevs, "ListVdevs after reopen");
  for (const auto& status : *vdevs) {
    for (auto& v : vdevs_) {
      if (v.name != status.name) continue;
      bool offline = status.state != "online";
      if (v.replacing) {  // either device (OpReplace)
        v.offline = offline;
        v.replacing = false;
      }
      if (offline != v.offline) {
        Fail(fmt::format("vdev {} is {} after reopen; the model has it {}", v.name, status.state,
                         v.offline ? "offline" : "online"));
      }
    }
  }
}

Bytes Thrasher::ReadAll(const std::string& name, Volume& volume) {
  Bytes got(volume.size());
  constexpr uint64_t kPiece = 1 << 20;
  for (uint64_t at = 0; at < got.size(); at += kPiece) {
    uint64_t n = std::min<uint64_t>(kPiece, got.size() - at);
    Expect(volume.Read(at, std::span(got).subspan(at, n)), fmt::format("reading {} [{}, +{})", name, at, n));
  }
  return got;
}

void Thrasher::CheckClean(const std::string& when) {
  auto report = storage_->Check();
  Expect(report, "Check " + when);
  if (!report->clean()) {
    std::string lines;
    for (const auto* list : {&report->leaks, &report->double_references, &report->unallocated_references,
                             &report->checksum_failures}) {
      for (size_t i = 0; i < list->size() && i < 3; i++) lines += "\n  " + (*list)[i];
    }
    Fail(fmt::format("Check {} is not clean: {}{}", when, report->Summary(), lines));
  }
  stats_.checks++;
  // Check flushes every open volume and closes the idle ones.
  for (auto& [name, v] : volumes_) v.live().AllDurable();
}

// Every volume and snapshot reads exactly as the model says, and the pool
// lists exactly the model's volumes and snapshots.
void Thrasher::VerifyAll() {
  auto listed = storage_->ListVolumes();
  Expect(listed, "ListVolumes");
  std::vector<std::string> names, expected;
  for (const auto& info : *listed) names.push_back(info.name);
  for (const auto& [name, v] : volumes_) expected.push_back(name);
  std::sort(names.begin(), names.end());
  if (names != expected) Fail(fmt::format("the pool lists volumes [{}], the model [{}]", fmt::join(names, ", "), fmt::join(expected, ", ")));
  for (const auto& info : *listed) {
    VolumeModel& v = volumes_.at(info.name);
    if (info.size != v.live().size() || info.origin != v.live().origin) {
      Fail(fmt::format("volume {}: size {} origin '{}', the model has size {} origin '{}'", v.name, info.size,
                       info.origin, v.live().size(), v.live().origin));
    }
    auto volume = Handle(v);
    Bytes got = ReadAll(v.name, *volume);
    if (auto bad = v.live().Mismatch(got, true)) Fail(fmt::format("volume {}: {}", v.name, *bad));
    stats_.volume_verifications++;
    auto snapshots = storage_->ListSnapshots(v.name);
    Expect(snapshots, fmt::format("ListSnapshots({})", v.name));
    std::vector<std::string> snap_names, snap_expected;
    for (const auto& s : *snapshots) snap_names.push_back(s.name);
    for (const auto& s : v.snapshots) snap_expected.push_back(s.name);
    if (snap_names != snap_expected) {
      Fail(fmt::format("volume {} has snapshots [{}], the model [{}]", v.name, fmt::join(snap_names, ", "),
                       fmt::join(snap_expected, ", ")));
    }
    for (const auto& s : v.snapshots) {
      std::string full = v.name + "@" + s.name;
      auto opened = storage_->OpenVolume(full);
      Expect(opened, fmt::format("OpenVolume({})", full));
      Bytes snap = ReadAll(full, **opened);
      VolumeState exact{.data = s.data, .maybe = std::vector<std::vector<uint64_t>>(s.data.size() / kBlock)};
      if (auto bad = exact.Mismatch(snap, true)) Fail(fmt::format("snapshot {}: {}", full, *bad));
      stats_.snapshot_verifications++;
    }
  }
}

// After a crash: settles every uncertain outcome (model.h note 3) by what
// the pool holds, which must be one the model allows; then the model holds
// exactly that, durably.
void Thrasher::Reconcile() {
  auto listed = storage_->ListVolumes();
  Expect(listed, "ListVolumes after reopen");
  std::map<std::string, VolumeInfo> actual;
  for (const auto& info : *listed) actual[info.name] = info;
  for (const auto& [name, info] : actual) {
    if (!volumes_.count(name)) Fail(fmt::format("after the crash the pool has volume {}, which the model has not", name));
  }
  std::vector<std::string> gone;
  for (auto& [name, v] : volumes_) {
    auto it = actual.find(name);
    if (it == actual.end()) {
      if (!v.maybe_absent) Fail(fmt::format("after the crash volume {} is gone", name));
      gone.push_back(name);
      continue;
    }
    const VolumeInfo& info = it->second;
    auto volume = Handle(v);
    if (volume->size() != info.size) Fail(fmt::format("volume {}: info size {} != opened size {}", name, info.size, volume->size()));
    Bytes got = ReadAll(name, *volume);
    const VolumeState* match = nullptr;
    std::string why;
    for (const VolumeState& s : v.states) {
      if (s.origin != info.origin) {
        why += fmt::format("[origin '{}', the model '{}'] ", info.origin, s.origin);
        continue;
      }
      uint64_t block = 0;
      auto bad = s.Mismatch(got, false, &block);
      if (!bad) {
        match = &s;
        break;
      }
      why += "[" + *bad;
      if (block * kBlock < got.size()) {
        uint64_t sum = BlockSum(std::span(got).subspan(block * kBlock, kBlock));
        why += ": " + v.Describe(block, sum) + WhereFrom(sum);
        // Which bytes differ from what reads returned before the crash.
        std::string ranges;
        size_t n = 0;
        for (size_t i = 0; i < kBlock && n < 6; i++) {
          if (got[block * kBlock + i] == s.data[block * kBlock + i]) continue;
          size_t j = i;
          while (j < kBlock && got[block * kBlock + j] != s.data[block * kBlock + j]) j++;
          ranges += fmt::format(" [{}, {})", i, j);
          n++;
          i = j;
        }
        bool zeros = std::all_of(got.begin() + block * kBlock, got.begin() + (block + 1) * kBlock,
                                 [](std::byte b) { return b == std::byte{0}; });
        why += fmt::format("; bytes differing from the pre-crash content:{}{}", ranges, zeros ? " (all zero)" : "");
        if (s.durable.size() == s.data.size()) {
          size_t same = 0;
          for (size_t i = 0; i < kBlock; i++) same += got[block * kBlock + i] == s.durable[block * kBlock + i];
          why += fmt::format("; {} of its 4096 bytes equal the content at the last durable point", same);
          size_t tail = 0;
          while (tail < kBlock && got[(block + 1) * kBlock - 1 - tail] == s.durable[(block + 1) * kBlock - 1 - tail]) tail++;
          why += fmt::format(" (the last {} bytes)", tail);
        }
      }
      why += "] ";
    }
    if (match == nullptr) Fail(fmt::format("after the crash volume {} fits none of {} model states: {}", name, v.states.size(), why));
    VolumeState settled = VolumeState::Durable(std::move(got), match->origin);
    v.states = {std::move(settled)};
    v.Record(0, v.live().size(), op_);
    if (v.live().origin.empty()) v.flatten_offset = 0;
    v.maybe_absent = false;
    stats_.volume_verifications++;

    auto snapshots = storage_->ListSnapshots(name);
    Expect(snapshots, fmt::format("ListSnapshots({}) after reopen", name));
    std::vector<std::string> have;
    for (const auto& s : *snapshots) have.push_back(s.name);
    std::erase_if(v.snapshots, [&](const SnapshotModel& s) {
      bool present = std::find(have.begin(), have.end(), s.name) != have.end();
      if (!present && !s.maybe_absent) Fail(fmt::format("after the crash snapshot {}@{} is gone", name, s.name));
      return !present;
    });
    std::vector<std::string> expected;
    for (auto& s : v.snapshots) {
      s.maybe_absent = false;
      expected.push_back(s.name);
    }
    if (have != expected) {
      Fail(fmt::format("after the crash volume {} has snapshots [{}], the model [{}]", name, fmt::join(have, ", "),
                       fmt::join(expected, ", ")));
    }
    for (const auto& s : v.snapshots) {
      std::string full = name + "@" + s.name;
      auto opened = storage_->OpenVolume(full);
      Expect(opened, fmt::format("OpenVolume({}) after reopen", full));
      Bytes snap = ReadAll(full, **opened);
      VolumeState exact{.data = s.data, .maybe = std::vector<std::vector<uint64_t>>(s.data.size() / kBlock)};
      if (auto bad = exact.Mismatch(snap, true)) Fail(fmt::format("after the crash snapshot {}: {}", full, *bad));
      stats_.snapshot_verifications++;
    }
  }
  for (const auto& name : gone) volumes_.erase(name);
}

std::string Thrasher::WhereFrom(uint64_t sum) const {
  std::string out;
  int found = 0;
  auto add = [&](const std::string& where) {
    if (found++ < 8) out += "; " + where;
  };
  for (const auto& [name, v] : volumes_) {
    for (uint64_t b = 0; b < v.history.size(); b++) {
      for (const auto& [s, op] : v.history[b]) {
        if (s == sum) add(fmt::format("{} block {} got it at op {}", name, b, op));
      }
    }
    for (const auto& snap : v.snapshots) {
      for (uint64_t b = 0; b < snap.data.size() / kBlock; b++) {
        if (BlockSum(std::span(snap.data).subspan(b * kBlock, kBlock)) == sum) {
          add(fmt::format("snapshot {}@{} block {} holds it", name, snap.name, b));
        }
      }
    }
  }
  return found == 0 ? "; no volume or snapshot of the model has it" : out;
}

bool Thrasher::OpVerify() {
  Note("every volume and snapshot, then Check");
  VerifyAll();
  CheckClean("after verify");
  return true;
}

bool Thrasher::OpReopen() {
  Note("close, open, verify");
  DropHandles();
  Expect(storage_->Close(), "Close");
  storage_.reset();
  harness_.Reset();
  for (auto& v : vdevs_) {
    v.armed = false;
    v.flipping = false;
  }
  armed_at_op_ = 0;
  for (auto& [name, v] : volumes_) v.live().AllDurable();
  OpenStorage();
  stats_.clean_reopens++;
  VerifyAll();
  CheckClean("after reopen");
  return true;
}

}  // namespace tessera::thrash
