// FaultVdev: a forwarding Vdev that injects the failures a real device and
// its volatile cache can produce: power loss (dropping unflushed writes, all
// or a random subset), a crash after N writes, failing the Nth operation,
// flipped bits on read, a torn write, and latency. A test double that ships
// with the library (STYLE.md #10).
//
// Contract
//  - The wrapped device is shared: it outlives a simulated crash, so a test
//    "reboots" by building new upper layers (or a new FaultVdev) over it.
//    After construction, all writes must go through this FaultVdev, or the
//    undo log (see fault_vdev.cc) no longer describes the device.
//  - Thread-safety: every method may be called from any thread. Batches are
//    serialized (one at a time); latency is added outside the lock, so
//    concurrent batches sleep concurrently. Not for performance.
//  - Writes and discards ("mutations") are durable only after Flush() returns
//    Ok. Power loss restores the content each unflushed mutation overwrote.
//  - Dead state: after any power loss every Read/Write/Discard/Flush fails
//    with IOError "device lost power" until Revive().
//  - Injected failures are IOError and the failed request is not forwarded,
//    so it changes nothing below. Other requests of the batch still run.
//  - Invalid batches fail with InvalidArgument before any fault logic runs
//    and do not advance fault counters.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/vdev/vdev.h"

namespace tessera {

enum class FaultOpKind { kRead, kWrite, kDiscard, kFlush };

// Requests (and flushes) that reached this FaultVdev, including failed ones.
struct FaultVdevCounters {
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t discards = 0;
  uint64_t flushes = 0;
  uint64_t power_losses = 0;
};

class FaultVdev final : public Vdev {
 public:
  // `base` must be non-null.
  explicit FaultVdev(std::shared_ptr<Vdev> base);

  BlockCount Size() const override { return base_->Size(); }
  std::string Describe() const override { return "fault:" + base_->Describe(); }
  Status SubmitBatch(std::span<IoRequest> batch) override;
  Status Flush() override;

  // Power loss: every unflushed mutation is undone (newest first), then the
  // device goes dead. Fails with IOError only if restoring old contents on
  // the wrapped device fails.
  Status SimulatePowerLoss();
  // Like SimulatePowerLoss(), but each unflushed mutation independently
  // survives with probability 1/2 (deterministic in `seed`); survivors keep
  // their order, so the device holds, per block, the newest surviving write.
  Status SimulatePowerLoss(uint64_t seed);
  // Leaves the dead state. Fault rules stay armed.
  void Revive();
  bool IsDead() const;
  // Mutations recorded since the last successful Flush().
  size_t UnflushedMutations() const;

  // After `n` more successful mutations, the next mutation is not applied and
  // triggers power loss (all unflushed dropped, or a random subset with
  // `subset_seed`); that batch fails with IOError. Replaces a previous arming.
  void CrashAfterWrites(uint64_t n, std::optional<uint64_t> subset_seed = std::nullopt);

  // Fails the `n`th (1-based, counted from this call) operation of `kind`
  // (any kind when nullopt), and with `persistent` every later one too.
  // Replaces any previous rule.
  void FailNth(uint64_t n, bool persistent, std::optional<FaultOpKind> kind = std::nullopt);
  void ClearFailures();

  // Every read covering `block` returns byte `byte_offset` XOR `mask`. The
  // device itself is unchanged. Persistent until ClearBitFlips().
  void FlipBitsOnRead(BlockNo block, uint32_t byte_offset, uint8_t mask);
  // Each block read has one random bit flipped with `per_block_probability`.
  void SetRandomBitFlips(double per_block_probability, uint64_t seed);
  void ClearBitFlips();

  // The next write request lands only its first `keep_bytes` bytes (the rest
  // keeps the content it had before the write), then the device loses power:
  // other unflushed mutations are dropped, the torn prefix stays.
  void TearNextWrite(uint32_t keep_bytes);

  // Sleep added to every SubmitBatch.
  void SetLatency(std::chrono::microseconds latency);

  FaultVdevCounters Counters() const;

 private:
  struct Mutation {
    IoOp op;
    BlockNo block;
    std::vector<std::byte> old_data;  // Content before the mutation.
    std::vector<std::byte> new_data;  // kWrite that succeeded: what landed.
    bool applied = false;             // The wrapped device reported success.
  };
  struct FailRule {
    uint64_t nth = 0;
    bool persistent = false;
    std::optional<FaultOpKind> kind;
    uint64_t seen = 0;
  };

  // All *Locked functions require mu_ held.
  bool ShouldFailLocked(FaultOpKind kind);
  Status ForwardLocked(std::span<IoRequest> batch, std::span<const uint8_t> skip);
  Status PowerLossLocked(std::optional<uint64_t> seed);
  Status TearLocked(const IoRequest& write);
  void FlipLocked(IoRequest& read);
  void FailAllLocked(std::span<IoRequest> batch, std::string_view why) const;

  const std::shared_ptr<Vdev> base_;
  std::atomic<int64_t> latency_us_{0};

  mutable std::mutex mu_;
  bool dead_ = false;                              // GUARDED_BY(mu_)
  std::vector<Mutation> unflushed_;                // GUARDED_BY(mu_)
  std::optional<uint64_t> crash_budget_;           // GUARDED_BY(mu_)
  std::optional<uint64_t> crash_seed_;             // GUARDED_BY(mu_)
  std::optional<FailRule> fail_rule_;              // GUARDED_BY(mu_)
  std::multimap<uint64_t, std::pair<uint32_t, uint8_t>> flips_;  // GUARDED_BY(mu_)
  double flip_probability_ = 0;                    // GUARDED_BY(mu_)
  std::mt19937_64 flip_rng_;                       // GUARDED_BY(mu_)
  std::optional<uint32_t> tear_keep_bytes_;        // GUARDED_BY(mu_)
  FaultVdevCounters counters_;                     // GUARDED_BY(mu_)
};

}  // namespace tessera
