// RowHeat: how much each data row of a volume is used lately, for automatic
// tiering (core/volume/storage_tiering.cc).
//
// Contract
//  1. A row's heat counts how many times over its bytes were read from it
//     or written to it lately: reading or writing all of a row adds 1, a
//     quarter of it 0.25. Heat halves every half-life, so a row read whole
//     once (a backup, a scrub) stays below a heat of 1, and one read at a
//     steady r times a second settles near r * half_life / ln 2.
//  2. Rows are keyed by their start (a multiple of row_bytes in the data
//     segment's offsets); an access that spans rows counts in each for the
//     blocks that lie there.
//  3. A row never touched has heat 0 and has been idle since the RowHeat
//     was made (a volume just opened is not cold at once).
//  4. Thread-safe; Touch is one short critical section.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>

namespace tessera {

class RowHeat {
 public:
  // Nanoseconds on a monotonic clock.
  using Clock = std::function<uint64_t()>;

  // `clock` defaults to the monotonic clock (MonotonicNs).
  RowHeat(uint64_t row_bytes, uint64_t half_life_ns, Clock clock = nullptr);

  void Touch(uint64_t seg_offset, uint64_t bytes);

  struct Reading {
    double heat = 0;       // decayed to now (contract 1)
    uint64_t idle_ns = 0;  // since the last touch (contract 3)
  };
  Reading Read(uint64_t row_start) const;
  // Drops what is known of rows not in `row_starts` (freed rows).
  void Retain(const std::set<uint64_t>& row_starts);

  uint64_t row_bytes() const { return row_bytes_; }
  uint64_t half_life_ns() const { return half_life_ns_; }
  uint64_t Now() const { return clock_(); }

 private:
  struct Entry {
    double heat = 0;
    uint64_t stamp_ns = 0;  // when `heat` was last brought up to date
  };
  double Decayed(const Entry& e, uint64_t now) const;

  const uint64_t row_bytes_;
  const uint64_t half_life_ns_;
  const Clock clock_;
  const uint64_t made_ns_;
  mutable std::mutex mu_;
  std::map<uint64_t, Entry> rows_;  // GUARDED_BY(mu_)
};

}  // namespace tessera
