// The Prometheus text exposition of a pool's I/O counters, for `tessera
// metrics` and the file `tessera serve --metrics-file` keeps (node
// exporter's textfile collector reads it).
//
// Contract
//  1. Counters are totals since the pool opened (`_total`); latencies are
//     histograms in seconds whose buckets are the powers of two of the
//     counters' microsecond buckets (core/util/io_stats.h), cumulative, with
//     `+Inf`, `_sum` and `_count`.
//  2. Every series has a `pool` label; vdev series add `vdev` and `tier`,
//     volume series `volume`. Label values are escaped as the format says.
//  3. Pure function; the text ends in '\n'.
#pragma once

#include <string>

#include "core/volume/storage_types.h"

namespace tessera {

std::string FormatPrometheus(const PoolIoReport& report);

}  // namespace tessera
