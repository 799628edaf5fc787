// The thrasher's loop, its table of operations and shared helpers
// (thrasher.h).
#include "tests/thrash/thrasher.h"

#include <algorithm>

#include <fmt/core.h>

namespace tessera::thrash {

const std::vector<OpKind>& Thrasher::Kinds() {
  static const std::vector<OpKind> kinds = {
      {"write", 250, &Thrasher::OpWrite},
      {"trim", 40, &Thrasher::OpTrim},
      {"zero", 40, &Thrasher::OpZero},
      {"unaligned", 100, &Thrasher::OpUnaligned},
      {"read", 120, &Thrasher::OpRead},
      {"flush", 60, &Thrasher::OpFlush},
      {"drop-handle", 30, &Thrasher::OpDropHandle},
      {"close-idle", 15, &Thrasher::OpCloseIdle},
      {"commit", 15, &Thrasher::OpCommit},
      {"create-volume", 15, &Thrasher::OpCreateVolume},
      {"delete-volume", 8, &Thrasher::OpDeleteVolume},
      {"resize", 15, &Thrasher::OpResize},
      {"snapshot", 30, &Thrasher::OpSnapshot},
      {"delete-snapshot", 25, &Thrasher::OpDeleteSnapshot},
      {"rollback", 15, &Thrasher::OpRollback},
      {"clone", 12, &Thrasher::OpClone},
      {"flatten", 25, &Thrasher::OpFlatten},
      {"offline", 8, &Thrasher::OpOffline},
      {"online", 8, &Thrasher::OpOnline},
      {"replace", 5, &Thrasher::OpReplace},
      {"flip-bits", 8, &Thrasher::OpFlipBits},
      {"clear-flips", 8, &Thrasher::OpClearFlips},
      {"scrub", 6, &Thrasher::OpScrub},
      {"rebalance", 6, &Thrasher::OpRebalance},
      {"inspect", 6, &Thrasher::OpInspect},
      {"power-loss", 8, &Thrasher::OpPowerLoss},
      {"power-loss-subset", 8, &Thrasher::OpPowerLossSubset},
      {"arm-crash", 8, &Thrasher::OpArmCrash},
      {"reopen", 5, &Thrasher::OpReopen},
      {"verify", 6, &Thrasher::OpVerify},
  };
  return kinds;
}

Thrasher::Thrasher(ThrashOptions options)
    : options_(std::move(options)), rng_(options_.seed), harness_(options_.dir, options_.sizes) {
  for (uint32_t i = 0; i < kMetaVdevs; i++) vdevs_.push_back(VdevModel{.name = PoolHarness::MetaName(i)});
  for (uint32_t i = 0; i < kDataVdevs; i++) vdevs_.push_back(VdevModel{.name = PoolHarness::DataName(i), .data = true});
}

Thrasher::~Thrasher() {
  DropHandles();
  storage_.reset();
}

void Thrasher::Fail(const std::string& what) {
  throw ThrashFailure(fmt::format("seed {}, op {} ({}): {}", options_.seed, op_, current_kind_, what));
}

void Thrasher::ExpectRefused(const Status& status, Code code, const std::string& what) {
  if (!status && status.error().code() == code) {
    stats_.expected_refusals++;
    return;
  }
  if (!status && harness_.AnyDead()) throw DeviceDied{};
  Fail(fmt::format("{}: expected {} but got {}", what, CodeName(code),
                   status ? std::string("Ok") : status.error().ToString()));
}

void Thrasher::Note(const std::string& line) {
  if (options_.verbose) fmt::print("[op {}] {}: {}\n", op_, current_kind_, line);
}

VolumeModel* Thrasher::PickVolume(const std::function<bool(const VolumeModel&)>& filter) {
  std::vector<VolumeModel*> candidates;
  for (auto& [name, v] : volumes_) {
    if (!filter || filter(v)) candidates.push_back(&v);
  }
  if (candidates.empty()) return nullptr;
  return candidates[Rand(candidates.size())];
}

std::shared_ptr<Volume> Thrasher::Handle(VolumeModel& v) {
  if (!v.handle) {
    auto opened = storage_->OpenVolume(v.name);
    Expect(opened, fmt::format("OpenVolume({})", v.name));
    v.handle = *opened;
    // After a crash a volume may have any of its states' sizes (a resize
    // cut off is complete or absent); Reconcile matches them.
    if (v.states.size() == 1 && v.handle->size() != v.live().size()) {
      Fail(fmt::format("volume '{}' opened with size {}, the model has {}", v.name, v.handle->size(), v.live().size()));
    }
  }
  return v.handle;
}

void Thrasher::DropHandles() {
  for (auto& [name, v] : volumes_) v.handle.reset();
}

std::pair<uint64_t, uint64_t> Thrasher::RandomRange(uint64_t size, bool unaligned) {
  if (unaligned) {
    uint64_t offset = Rand(size);
    uint64_t length = 1 + Rand(std::min<uint64_t>(256 << 10, size - offset));
    return {offset, length};
  }
  uint64_t blocks = size / kBlock;
  uint64_t block = Rand(blocks);
  uint64_t most = Chance(20) ? 64 : 8;
  uint64_t n = 1 + Rand(std::min(most, blocks - block));
  return {block * kBlock, n * kBlock};
}

bool Thrasher::HasClones(const std::string& volume, const std::string& snapshot) const {
  // "v0@s1" must not match a clone of "v0@s10".
  auto of = [&](const std::string& origin) {
    return snapshot.empty() ? origin.starts_with(volume + "@") : origin == volume + "@" + snapshot;
  };
  return std::any_of(volumes_.begin(), volumes_.end(), [&](const auto& entry) {
    return std::any_of(entry.second.states.begin(), entry.second.states.end(),
                       [&](const VolumeState& s) { return of(s.origin); });
  });
}

void Thrasher::Run() {
  start_ = std::chrono::steady_clock::now();
  current_kind_ = "create";
  auto created = harness_.Create();
  if (!created) Fail("creating the pool: " + created.error().ToString());
  storage_ = std::move(*created);
  if (options_.background_ms) storage_->StartBackground(std::chrono::milliseconds(options_.background_ms));

  std::vector<const OpKind*> kinds;
  uint64_t total = 0;
  for (const OpKind& k : Kinds()) {
    if (options_.skip.count(k.name) || k.weight == 0) continue;
    kinds.push_back(&k);
    total += k.weight;
  }
  if (kinds.empty()) Fail("every operation kind is left out");
  auto time_up = [&] {
    if (options_.max_ops > 0 && op_ >= options_.max_ops) return true;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() >= options_.seconds;
  };
  while (!time_up()) {
    op_++;
    uint64_t pick = Rand(total);
    const OpKind* kind = kinds.back();
    for (const OpKind* k : kinds) {
      if (pick < k->weight) {
        kind = k;
        break;
      }
      pick -= k->weight;
    }
    current_kind_ = kind->name;
    bool done = false;
    try {
      done = (this->*kind->run)();
      if (harness_.AnyDead()) throw DeviceDied{};
    } catch (const DeviceDied&) {
      std::string dead = harness_.DeadVdev();
      try {
        Recover(Chance(50), dead.empty() ? fmt::format("NoSpace during {}", kind->name)
                                         : fmt::format("device {} died during {}", dead, kind->name));
      } catch (const DeviceDied&) {
        Fail("an operation failed while recovering from a crash (no crash was armed)");
      }
      done = true;
    }
    if (done) stats_.ops[kind->name]++;
    // A crash armed long ago that never fired is disarmed (it no longer
    // counts against the fault budget).
    if (armed_at_op_ != 0 && op_ - armed_at_op_ > 300) {
      for (auto& v : vdevs_) {
        if (!v.armed) continue;
        if (auto device = harness_.Device(v.name)) device->CrashAfterWrites(UINT64_MAX);
        v.armed = false;
      }
      armed_at_op_ = 0;
    }
  }
  // The end: everything survives a clean close and reopen.
  current_kind_ = "final";
  for (auto& v : vdevs_) {
    if (!v.armed) continue;
    if (auto device = harness_.Device(v.name)) device->CrashAfterWrites(UINT64_MAX);
    v.armed = false;
  }
  try {
    OpReopen();
  } catch (const DeviceDied&) {
    Fail("a device died during the final reopen with no crash armed");
  }
  DropHandles();
  if (auto closed = storage_->Close(); !closed) Fail("closing the pool at the end: " + closed.error().ToString());
  storage_.reset();
}

}  // namespace tessera::thrash
