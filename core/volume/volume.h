// A volume: a block device made of an exNode (its layout: cache -> log ->
// lun) and a dataset (its LBA mapping, log head and exNode text).
//
// Contract
//  1. Byte ranges must lie inside [0, size()); otherwise InvalidArgument and
//     nothing changes. Any alignment works; unaligned writes cost a read of
//     the partial blocks at the edges (head, aligned body, tail).
//  2. A completed write is seen by every later read, from any thread and any
//     connection sharing this Volume object.
//  3. Durability (docs/architecture.md, Guarantees): writes completed
//     before Flush() returns Ok, and writes with fua = true when they
//     return, survive a crash of the process or of the machine. Flush covers
//     every connection (one Volume per name).
//  4. Trim and Zero unmap: the range reads as zeros and Extents reports it as
//     a hole. No data is written.
//  5. A read-only volume (a snapshot export) refuses changes with ReadOnly.
//  6. Thread-safe; nbdkit's PARALLEL thread model calls it concurrently.
//  7. A volume cut off by `snapshot rollback --force` (Storage::
//     RollbackSnapshot) fails every later call with IOError; what it had not
//     flushed is dropped, and none of it reaches the rolled-back volume.
//     Opening the volume again gives the rolled-back one.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/segment/segment.h"
#include "core/util/status.h"

namespace tessera {

class Volume {
 public:
  virtual ~Volume() = default;

  virtual const std::string& name() const = 0;
  virtual uint64_t size() const = 0;
  virtual bool read_only() const = 0;

  virtual Status Read(uint64_t offset, std::span<std::byte> out) = 0;
  virtual Status Write(uint64_t offset, std::span<const std::byte> data, bool fua) = 0;
  virtual Status Flush() = 0;
  virtual Status Trim(uint64_t offset, uint64_t length, bool fua) = 0;
  // may_trim = false still unmaps (a log-structured volume allocates on
  // every write anyway); the range reads as zeros either way.
  virtual Status Zero(uint64_t offset, uint64_t length, bool may_trim, bool fua) = 0;
  // Extents covering [offset, offset + length), in order, without gaps.
  virtual Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) = 0;
  // Reads the range into the cache (NBD_CMD_CACHE).
  virtual Status Prefetch(uint64_t offset, uint64_t length) = 0;
};

}  // namespace tessera
