// The Vdev interface: every byte the core stores goes through one of these.
//
// Contract
//  1. Addresses and lengths are in 4 KiB blocks; buffers are whole blocks and
//     should be 4 KiB-aligned (AlignedBuffer) so that O_DIRECT can be used.
//  2. SubmitBatch issues every request of the batch, waits for all of them,
//     and fills in each request's `result`. It returns Ok when every request
//     succeeded, else the first failure. Requests of one batch may complete in
//     any order; callers must not put overlapping writes in one batch.
//  3. A write is durable only after a later Flush() returns Ok. A crash may
//     drop or tear any write not yet flushed (FaultVdev simulates exactly that).
//  4. All methods are thread-safe; batches from different threads proceed
//     concurrently.
//  5. Out-of-range requests fail with InvalidArgument and touch nothing.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "core/util/status.h"
#include "core/util/units.h"

namespace tessera {

enum class IoOp { kRead, kWrite, kDiscard };

// "read", "write" or "discard", for messages.
const char* IoOpName(IoOp op);

struct IoRequest {
  IoOp op = IoOp::kRead;
  BlockNo block;
  // kRead: filled; kWrite: written (not modified). Size is a multiple of kBlockSize.
  std::span<std::byte> buffer;
  // kDiscard only: number of blocks to discard.
  BlockCount discard_count;
  // Set by SubmitBatch.
  Status result;
};

class Vdev {
 public:
  virtual ~Vdev() = default;

  // Capacity in blocks.
  virtual BlockCount Size() const = 0;
  // Human-readable identity for error messages, e.g. "file:/var/pool/vdev0".
  virtual std::string Describe() const = 0;

  virtual Status SubmitBatch(std::span<IoRequest> batch) = 0;
  // Makes every completed write durable.
  virtual Status Flush() = 0;

  // Single-request conveniences built on SubmitBatch.
  Status Read(BlockNo block, std::span<std::byte> buffer);
  Status Write(BlockNo block, std::span<const std::byte> buffer);
  Status Discard(BlockNo block, BlockCount count);

 protected:
  // Shared validation for implementations: whole blocks and in range.
  Status CheckRequest(const IoRequest& request) const;
  // Validates a whole batch before anything is issued (contract 5). When some
  // request is invalid, sets every request's `result` (the invalid ones to
  // their InvalidArgument, the others to InvalidArgument "not issued") and
  // returns the first error; the caller must then issue nothing. On Ok the
  // results are untouched.
  Status CheckBatch(std::span<IoRequest> batch) const;
};

}  // namespace tessera
