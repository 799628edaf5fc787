// MemorySegment: a segment held in a flat in-memory byte array.
//
// It is the segments' test double (the lower segment under the cache in
// tests) and their reference model: every operation is the
// obvious one on a byte array, plus a map of which blocks hold data.
//
// Contract (beyond segment.h)
//  1. Starts all zeros and all holes. Write maps every block it touches.
//     Trim zero-fills its range and unmaps the blocks it covers whole;
//     Extents reports unmapped blocks as holes, at BlockSize() granularity
//     (clipped to the asked range). A partly trimmed block stays data.
//  2. WriteBlocks checks every write (range, whole blocks at BlockSize())
//     before applying any, then applies them all under one lock: an invalid
//     batch is InvalidArgument and changes nothing.
//  3. Flush does nothing (memory is as durable as it gets) but is counted.
//  4. Truncate shrinks (discarding) or grows (new bytes zeros and holes).
//  5. type() is SegmentType::kFile (the closest exNode type, used only in
//     messages); Serialize always fails with InvalidArgument "memory segments
//     have no exNode form": a memory segment cannot be reopened.
//  6. Thread-safe: a shared_mutex, held shared by Read/Extents and exclusive
//     by everything that changes the bytes or the map.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <vector>

#include "core/segment/segment.h"

namespace tessera {

class MemorySegment final : public Segment {
 public:
  // `block_size` must be non-zero (else it is taken as 4096).
  MemorySegment(uint64_t id, uint64_t size, uint32_t block_size = 4096);

  uint64_t id() const override { return id_; }
  SegmentType type() const override { return SegmentType::kFile; }
  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  uint32_t BlockSize() const override { return block_size_; }

  Status Read(uint64_t offset, std::span<std::byte> out) override;
  Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) override;
  Status WriteBlocks(std::span<const BlockWrite> writes) override;
  Status Flush() override;
  Status Trim(uint64_t offset, uint64_t length) override;
  Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) override;
  Status Truncate(uint64_t new_size) override;
  Result<InspectReport> Inspect(InspectMode mode) override;
  // "memory(size=N,block=B)"
  std::string Signature() const override;
  Status Serialize(Exnode& exnode) const override;

  // Number of Flush() calls so far.
  uint64_t flush_count() const;

 private:
  // Writes `data` at `offset` and maps the blocks it touches. Caller holds mu_
  // exclusive and has checked the range.
  void ApplyWriteLocked(uint64_t offset, std::span<const std::byte> data);

  const uint64_t id_;
  const uint32_t block_size_;

  mutable std::shared_mutex mu_;
  // Written only with mu_ exclusive, so a reader holding mu_ sees a stable
  // value; atomic so that Size() needs no lock.
  std::atomic<uint64_t> size_;
  std::vector<std::byte> bytes_;  // GUARDED_BY(mu_); size() == size_
  std::vector<bool> mapped_;      // GUARDED_BY(mu_); one per block, last one may be partial
  uint64_t flushes_ = 0;          // GUARDED_BY(mu_)
};

}  // namespace tessera
