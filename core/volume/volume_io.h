// What an open volume counts of its clients' I/O for `tessera pool iostat`
// (VolumeImpl records it; Storage keeps one per export name while the pool
// is open, so the counts outlive the volume's open objects).
#pragma once

#include <memory>

#include "core/segment/cache_segment.h"
#include "core/util/io_stats.h"

namespace tessera {

struct VolumeIoCounters {
  IoCounter reads, writes, flushes;
  IoCounter discards;  // trims and zeroes: operations and bytes, no data moved
  // The cleaner's work (volume_clean.cc): rows relocated (bytes: the live
  // data rewritten; latency: the time each took), and rows freed (bytes:
  // their size).
  IoCounter cleaner_moved, cleaner_freed;
  std::shared_ptr<CacheCounters> cache = std::make_shared<CacheCounters>();
};

}  // namespace tessera
