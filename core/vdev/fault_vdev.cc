// FaultVdev design notes
//
// The undo log. Before forwarding a mutation (write or discard), the content
// it will overwrite is read from the wrapped device and kept, with a copy of
// the new data, in unflushed_. A successful Flush() empties the log. Power
// loss walks the log newest-first writing the old content back, which yields
// exactly the state at the last successful flush; the random-subset variant
// then replays a random subset of the mutations oldest-first.
//
// States:
//
//   alive --SimulatePowerLoss / CrashAfterWrites fires / torn write--> dead
//   dead  --Revive-----------------------------------------------------> alive
//
// Invariants
//  1. Every batch and flush runs under mu_, so the log's order is the order
//     in which mutations reached the wrapped device, and old contents read
//     for the log are never raced by another FaultVdev write.
//  2. unflushed_ holds exactly the mutations forwarded since the last
//     successful Flush() (a failed one too: restoring its old content is
//     harmless, and it is never replayed).
//  3. While dead_, nothing is forwarded to the wrapped device.
//  4. An injected failure is decided before forwarding, and the failed
//     request is never forwarded.
//  5. Power loss disarms CrashAfterWrites and TearNextWrite (one-shot).
#include "core/vdev/fault_vdev.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/util/align.h"

namespace tessera {
namespace {

FaultOpKind KindOf(IoOp op) {
  switch (op) {
    case IoOp::kRead: return FaultOpKind::kRead;
    case IoOp::kWrite: return FaultOpKind::kWrite;
    case IoOp::kDiscard: return FaultOpKind::kDiscard;
  }
  return FaultOpKind::kRead;
}

bool Mutates(const IoRequest& r) { return r.op != IoOp::kRead; }

uint64_t RequestBytes(const IoRequest& r) {
  return r.op == IoOp::kDiscard ? r.discard_count.bytes() : r.buffer.size();
}

Status FirstError(std::span<IoRequest> batch) {
  for (IoRequest& r : batch) TRY_STATUS(r.result);
  return Ok();
}

}  // namespace

FaultVdev::FaultVdev(std::shared_ptr<Vdev> base) : base_(std::move(base)) {}

Status FaultVdev::SubmitBatch(std::span<IoRequest> batch) {
  if (int64_t us = latency_us_.load(std::memory_order_relaxed); us > 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(us));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const IoRequest& r : batch) {
    ++(r.op == IoOp::kRead ? counters_.reads
       : r.op == IoOp::kWrite ? counters_.writes : counters_.discards);
  }
  if (dead_) {
    FailAllLocked(batch, "device lost power");
    return FirstError(batch);
  }
  TRY_STATUS(CheckBatch(batch));
  std::vector<uint8_t> skip(batch.size(), 0);
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].result = Ok();
    if (ShouldFailLocked(KindOf(batch[i].op))) {
      skip[i] = 1;
      batch[i].result = Err(Code::kIOError, "{}: injected failure at block {}", Describe(),
                            batch[i].block.value);
    }
  }
  if (tear_keep_bytes_) {
    for (size_t i = 0; i < batch.size(); ++i) {
      if (skip[i] || batch[i].op != IoOp::kWrite) continue;
      Status s = TearLocked(batch[i]);
      FailAllLocked(batch, s ? "device lost power (torn write)" : s.error().ToString());
      return FirstError(batch);
    }
  }
  if (crash_budget_) {
    uint64_t budget = *crash_budget_;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (skip[i] || !Mutates(batch[i])) continue;
      if (budget == 0) {
        std::fill(skip.begin() + static_cast<ptrdiff_t>(i), skip.end(), 1);
        (void)ForwardLocked(batch, skip);
        Status s = PowerLossLocked(crash_seed_);
        FailAllLocked(batch, s ? "device lost power (injected crash)" : s.error().ToString());
        return FirstError(batch);
      }
      --budget;
    }
    crash_budget_ = budget;
  }
  (void)ForwardLocked(batch, skip);
  return FirstError(batch);
}

Status FaultVdev::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_.flushes;
  if (dead_) return Err(Code::kIOError, "{}: device lost power", Describe());
  if (ShouldFailLocked(FaultOpKind::kFlush)) {
    return Err(Code::kIOError, "{}: injected flush failure", Describe());
  }
  TRY_STATUS(base_->Flush());
  unflushed_.clear();
  return Ok();
}

Status FaultVdev::ForwardLocked(std::span<IoRequest> batch, std::span<const uint8_t> skip) {
  std::vector<size_t> picked;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!skip[i]) picked.push_back(i);
  }
  if (picked.empty()) return Ok();

  // Save what each mutation will overwrite (invariant 2).
  std::vector<Mutation> mutations;
  std::vector<IoRequest> save;
  for (size_t i : picked) {
    if (!Mutates(batch[i])) continue;
    Mutation& m = mutations.emplace_back();
    m.op = batch[i].op;
    m.block = batch[i].block;
    m.old_data.resize(RequestBytes(batch[i]));
  }
  for (Mutation& m : mutations) {
    if (!m.old_data.empty()) save.push_back({.op = IoOp::kRead, .block = m.block, .buffer = m.old_data});
  }
  if (Status s = base_->SubmitBatch(save); !s) {
    for (size_t i : picked) batch[i].result = Err(s.error().WithContext("saving undo data"));
    return FirstError(batch);
  }

  std::vector<IoRequest> forward;
  for (size_t i : picked) forward.push_back(batch[i]);
  (void)base_->SubmitBatch(forward);
  size_t next_mutation = 0;
  for (size_t k = 0; k < picked.size(); ++k) {
    IoRequest& r = batch[picked[k]];
    r.result = forward[k].result;
    if (r.op == IoOp::kRead) {
      if (r.result) FlipLocked(r);
      continue;
    }
    Mutation& m = mutations[next_mutation++];
    m.applied = r.result.has_value();
    if (m.applied && r.op == IoOp::kWrite) m.new_data.assign(r.buffer.begin(), r.buffer.end());
    unflushed_.push_back(std::move(m));
  }
  return FirstError(batch);
}

Status FaultVdev::PowerLossLocked(std::optional<uint64_t> seed) {
  Status first = Ok();
  auto note = [&first](Status s) {
    if (!s && first) first = s;
  };
  for (auto it = unflushed_.rbegin(); it != unflushed_.rend(); ++it) {
    note(base_->Write(it->block, it->old_data));
  }
  if (seed) {
    std::mt19937_64 rng(*seed);
    for (const Mutation& m : unflushed_) {
      bool survives = (rng() & 1) != 0;
      if (!survives || !m.applied) continue;
      note(m.op == IoOp::kWrite
               ? base_->Write(m.block, m.new_data)
               : base_->Discard(m.block, BlockCount{m.old_data.size() / kBlockSize}));
    }
  }
  unflushed_.clear();
  dead_ = true;
  crash_budget_.reset();
  crash_seed_.reset();
  tear_keep_bytes_.reset();
  ++counters_.power_losses;
  if (!first) return Err(first.error().WithContext(Describe() + ": power loss restore"));
  return Ok();
}

Status FaultVdev::TearLocked(const IoRequest& write) {
  size_t keep = std::min<size_t>(*tear_keep_bytes_, write.buffer.size());
  Status lost = PowerLossLocked(std::nullopt);
  if (keep == 0) return lost;
  std::vector<std::byte> blocks(BlocksForBytes(keep).bytes());
  TRY_STATUS(base_->Read(write.block, blocks));
  std::memcpy(blocks.data(), write.buffer.data(), keep);
  TRY_STATUS(base_->Write(write.block, blocks));
  return lost;
}

void FaultVdev::FlipLocked(IoRequest& read) {
  uint64_t first = read.block.value;
  uint64_t count = read.buffer.size() / kBlockSize;
  for (auto it = flips_.lower_bound(first); it != flips_.end() && it->first < first + count; ++it) {
    read.buffer[(it->first - first) * kBlockSize + it->second.first] ^= std::byte{it->second.second};
  }
  if (flip_probability_ <= 0) return;
  std::bernoulli_distribution flip(flip_probability_);
  for (uint64_t b = 0; b < count; ++b) {
    if (!flip(flip_rng_)) continue;
    uint64_t bit = flip_rng_() % (kBlockSize * 8);
    read.buffer[b * kBlockSize + bit / 8] ^= std::byte(1u << (bit % 8));
  }
}

bool FaultVdev::ShouldFailLocked(FaultOpKind kind) {
  if (!fail_rule_ || (fail_rule_->kind && *fail_rule_->kind != kind)) return false;
  uint64_t seen = ++fail_rule_->seen;
  return seen == fail_rule_->nth || (fail_rule_->persistent && seen > fail_rule_->nth);
}

void FaultVdev::FailAllLocked(std::span<IoRequest> batch, std::string_view why) const {
  for (IoRequest& r : batch) r.result = Err(Code::kIOError, "{}: {}", Describe(), why);
}

Status FaultVdev::SimulatePowerLoss() {
  std::lock_guard<std::mutex> lock(mu_);
  return PowerLossLocked(std::nullopt);
}

Status FaultVdev::SimulatePowerLoss(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  return PowerLossLocked(seed);
}

void FaultVdev::Revive() {
  std::lock_guard<std::mutex> lock(mu_);
  dead_ = false;
}

bool FaultVdev::IsDead() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_;
}

size_t FaultVdev::UnflushedMutations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unflushed_.size();
}

void FaultVdev::CrashAfterWrites(uint64_t n, std::optional<uint64_t> subset_seed) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_budget_ = n;
  crash_seed_ = subset_seed;
}

void FaultVdev::FailNth(uint64_t n, bool persistent, std::optional<FaultOpKind> kind) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_rule_ = FailRule{.nth = n, .persistent = persistent, .kind = kind};
}

void FaultVdev::ClearFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_rule_.reset();
}

void FaultVdev::FlipBitsOnRead(BlockNo block, uint32_t byte_offset, uint8_t mask) {
  std::lock_guard<std::mutex> lock(mu_);
  flips_.emplace(block.value, std::make_pair(byte_offset % kBlockSize, mask));
}

void FaultVdev::SetRandomBitFlips(double per_block_probability, uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  flip_probability_ = std::clamp(per_block_probability, 0.0, 1.0);
  flip_rng_.seed(seed);
}

void FaultVdev::ClearBitFlips() {
  std::lock_guard<std::mutex> lock(mu_);
  flips_.clear();
  flip_probability_ = 0;
}

void FaultVdev::TearNextWrite(uint32_t keep_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  tear_keep_bytes_ = keep_bytes;
}

void FaultVdev::SetLatency(std::chrono::microseconds latency) {
  latency_us_.store(latency.count(), std::memory_order_relaxed);
}

FaultVdevCounters FaultVdev::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

}  // namespace tessera
