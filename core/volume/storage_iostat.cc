// Storage::GetIoReport: the I/O counters of the vdev slots and of the
// exports, for `tessera pool iostat` and `tessera metrics`.
//
// Design notes
//  1. Counting costs the data path a clock read before and after each
//     request and a few relaxed atomic adds (core/util/io_stats.h); nothing
//     on the data path takes a lock for it.
//  2. An export's counters live here, by name, from its first open until
//     the pool closes (or the volume is deleted or renamed), so they outlive
//     the volume objects that come and go as clients connect; the volume's
//     cache adds its hits and misses to them (CacheOptions::counters).
#include "core/volume/storage_impl.h"

namespace tessera {

std::shared_ptr<VolumeIoCounters> Storage::Impl::IoCountersFor(const std::string& name) {
  std::lock_guard lock(io_mu_);
  auto& counters = io_counters_[name];
  if (!counters) counters = std::make_shared<VolumeIoCounters>();
  return counters;
}

void Storage::Impl::ForgetIoCounters(const std::string& name) {
  std::lock_guard lock(io_mu_);
  std::erase_if(io_counters_, [&](const auto& entry) {
    return entry.first == name || entry.first.starts_with(name + "@");
  });
}

Result<PoolIoReport> Storage::Impl::GetIoReport() {
  PoolIoReport report;
  {
    std::lock_guard lock(mu_);
    const Pool& pool = db_->pool();
    report.pool = pool.config().name;
    for (const PoolVdev& v : pool.vdevs()) {
      VdevIo io = v.device->io();
      report.vdevs.push_back(VdevIoReport{.name = v.config.name, .tier = std::string(TierName(v.config.tier)),
                                          .reads = ToTotals(io.reads), .writes = ToTotals(io.writes),
                                          .flushes = ToTotals(io.flushes)});
    }
  }
  {
    std::lock_guard lock(io_mu_);
    for (const auto& [name, c] : io_counters_) {
      report.volumes.push_back(VolumeIoReport{
          .name = name, .reads = ToTotals(c->reads.Snapshot()), .writes = ToTotals(c->writes.Snapshot()),
          .flushes = ToTotals(c->flushes.Snapshot()), .discards = ToTotals(c->discards.Snapshot()),
          .cache_hit_pages = c->cache->read_hit_pages.load(std::memory_order_relaxed),
          .cache_miss_pages = c->cache->read_miss_pages.load(std::memory_order_relaxed),
          .cleaner_moved = ToTotals(c->cleaner_moved.Snapshot()),
          .cleaner_freed = ToTotals(c->cleaner_freed.Snapshot())});
    }
  }
  report.opened_ns = opened_ns_;
  report.sampled_ns = MonotonicNs();
  return report;
}

}  // namespace tessera
