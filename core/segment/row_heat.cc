#include "core/segment/row_heat.h"

#include <algorithm>
#include <cmath>

#include "core/util/io_stats.h"
#include "core/util/units.h"

namespace tessera {

RowHeat::RowHeat(uint64_t row_bytes, uint64_t half_life_ns, Clock clock)
    : row_bytes_(std::max<uint64_t>(row_bytes, kBlockSize)),
      half_life_ns_(std::max<uint64_t>(half_life_ns, 1)),
      clock_(clock ? std::move(clock) : Clock(MonotonicNs)),
      made_ns_(clock_()) {}

double RowHeat::Decayed(const Entry& e, uint64_t now) const {
  if (now <= e.stamp_ns) return e.heat;
  return e.heat * std::exp2(-static_cast<double>(now - e.stamp_ns) / static_cast<double>(half_life_ns_));
}

void RowHeat::Touch(uint64_t seg_offset, uint64_t bytes) {
  if (bytes == 0) return;
  const uint64_t now = clock_();
  std::lock_guard lock(mu_);
  const uint64_t end = seg_offset + bytes;
  for (uint64_t at = seg_offset; at < end;) {  // contract 2
    const uint64_t start = at / row_bytes_ * row_bytes_;
    const uint64_t upto = std::min(end, start + row_bytes_);
    Entry& e = rows_[start];
    e.heat = Decayed(e, now) + static_cast<double>(upto - at) / static_cast<double>(row_bytes_);
    e.stamp_ns = now;
    at = upto;
  }
}

RowHeat::Reading RowHeat::Read(uint64_t row_start) const {
  const uint64_t now = clock_();
  std::lock_guard lock(mu_);
  auto it = rows_.find(row_start);
  if (it == rows_.end()) return Reading{.heat = 0, .idle_ns = now > made_ns_ ? now - made_ns_ : 0};
  const uint64_t stamp = it->second.stamp_ns;
  return Reading{.heat = Decayed(it->second, now), .idle_ns = now > stamp ? now - stamp : 0};
}

void RowHeat::Retain(const std::set<uint64_t>& row_starts) {
  std::lock_guard lock(mu_);
  std::erase_if(rows_, [&](const auto& entry) { return !row_starts.contains(entry.first); });
}

}  // namespace tessera
