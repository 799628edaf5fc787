// The Segment interface: one layer of a volume's data layout (exNode).
//
// A volume stacks segments: cache -> log -> lun (-> blocks on vdevs). Each
// segment exposes a byte-addressed space [0, Size()).
//
// Contract
//  1. Read/Write/Trim accept any byte range inside [0, Size()); a range
//     outside it (or overflowing) is InvalidArgument and changes nothing.
//  2. A completed Write is visible to every later Read from any thread. It
//     is durable once a later Flush() returns Ok, or at once with kFua.
//  3. Trim unmaps a range: it reads as zeros afterwards. Segments that cannot
//     unmap write zeros instead.
//  4. WriteBlocks hands down a batch of whole, block-aligned writes at once;
//     the default loops over Write. Segments that can do better (the log
//     writes one self-describing batch) override it.
//  5. Segments are thread-safe unless their header says otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/exnode/exnode.h"
#include "core/util/status.h"

namespace tessera {

enum WriteFlags : uint32_t { kWriteNone = 0, kWriteFua = 1 };

struct SegmentExtent {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool hole = false;  // unmapped: reads as zeros
  bool operator==(const SegmentExtent&) const = default;
};

struct BlockWrite {
  uint64_t offset = 0;  // multiple of the lower segment's BlockSize()
  std::span<const std::byte> data;  // whole blocks
};

enum class InspectMode { kQuick, kScan, kFull };

struct InspectReport {
  uint64_t checked = 0;
  uint64_t bad = 0;
  uint64_t repaired = 0;       // bad units rewritten with their correct content
  uint64_t unrecoverable = 0;  // units whose content is lost (more bad than redundancy)
  std::vector<std::string> problems;
};

class Segment {
 public:
  virtual ~Segment() = default;

  virtual uint64_t id() const = 0;
  virtual SegmentType type() const = 0;
  virtual uint64_t Size() const = 0;
  // The unit the segment prefers; unaligned I/O works but may cost a read.
  virtual uint32_t BlockSize() const = 0;

  virtual Status Read(uint64_t offset, std::span<std::byte> out) = 0;
  virtual Status Write(uint64_t offset, std::span<const std::byte> data, uint32_t flags) = 0;
  virtual Status WriteBlocks(std::span<const BlockWrite> writes);
  virtual Status Flush() = 0;
  virtual Status Trim(uint64_t offset, uint64_t length) = 0;
  virtual Result<std::vector<SegmentExtent>> Extents(uint64_t offset, uint64_t length) = 0;
  // Changes Size(). Shrinking discards what lies past the new end.
  virtual Status Truncate(uint64_t new_size) = 0;
  virtual Result<InspectReport> Inspect(InspectMode mode) = 0;
  // Type and parameters, e.g. "cache(page=4096,dirty_max=67108864)/log/lun(n=1)".
  virtual std::string Signature() const = 0;
  // Adds this segment's [segment-ID] section (and those of the segments and
  // blocks below it) to `exnode`.
  virtual Status Serialize(Exnode& exnode) const = 0;

 protected:
  // Contract 1 for implementations.
  Status CheckRange(uint64_t offset, uint64_t length) const;
};

}  // namespace tessera
