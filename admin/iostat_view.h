// What `tessera pool iostat` shows: rates over an interval, computed from
// two PoolIoReports of one server (or from the pool's opening to one).
//
// Contract
//  1. Pure functions. A rate is the counters' difference over the reports'
//     `sampled_ns` difference (or over `sampled_ns - opened_ns` without an
//     earlier report). Latencies are the interval's: average and p99 of the
//     operations in it (0 when there were none).
//  2. Rows: the pool (the sum of its vdevs: device I/O), then with verbose
//     each tier (the sum of its vdevs) followed by its vdevs, then each
//     export (client I/O) with its cache hit ratio.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/control/json_visit.h"
#include "core/volume/storage_types.h"

namespace tessera {

struct IostatRow {
  std::string kind;  // pool | tier | vdev | volume
  std::string name;
  double read_ops = 0, write_ops = 0;      // per second
  double read_bytes = 0, write_bytes = 0;  // per second
  double read_avg_us = 0, read_p99_us = 0, write_avg_us = 0, write_p99_us = 0;
  std::optional<double> cache_hit_ratio;  // volumes whose cache was read
  // Volumes: the cleaner's live data rewritten and rows freed, per second.
  std::optional<double> cleaner_moved_bytes, cleaner_freed_bytes;
};

struct IostatView {
  double seconds = 0;  // the interval
  std::vector<IostatRow> rows;
};

// `earlier` null: since the pool opened.
IostatView ComputeIostat(const PoolIoReport& now, const PoolIoReport* earlier, bool verbose);
std::string FormatIostat(const IostatView& view);
Json IostatJson(const IostatView& view);

}  // namespace tessera
