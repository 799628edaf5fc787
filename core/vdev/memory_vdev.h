// MemoryVdev: a Vdev backed by a heap byte array. A test double and a
// trivially correct reference; it ships with the library (STYLE.md #10).
//
// Contract
//  - Construction allocates Size().bytes() zeroed bytes; it never fails
//    (allocation failure aborts, as for any std::vector).
//  - Thread-safety: every method may be called from any thread. Reads run
//    concurrently; writes, discards and reads are mutually atomic per batch
//    request (a request never observes a half-applied write).
//  - Discard zero-fills the range. Flush is a no-op returning Ok: the memory
//    is as durable as the process.
//  - An invalid batch (see Vdev::CheckBatch) fails with InvalidArgument and
//    changes nothing.
#pragma once

#include <cstddef>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "core/vdev/vdev.h"

namespace tessera {

class MemoryVdev final : public Vdev {
 public:
  explicit MemoryVdev(BlockCount size);

  BlockCount Size() const override { return size_; }
  std::string Describe() const override;
  Status SubmitBatch(std::span<IoRequest> batch) override;
  Status Flush() override { return Ok(); }

 private:
  const BlockCount size_;
  mutable std::shared_mutex mu_;
  std::vector<std::byte> data_;  // GUARDED_BY(mu_); size_.bytes() bytes.
};

}  // namespace tessera
