// MemoryVdev design notes
//
// Invariants
//  1. data_.size() == size_.bytes() for the object's whole life.
//  2. A batch is validated as a whole before any byte changes (CheckBatch),
//     so an invalid batch leaves data_ untouched.
//  3. A batch that only reads holds mu_ shared; any batch with a write or a
//     discard holds it exclusively, so each batch applies atomically.
#include "core/vdev/memory_vdev.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace tessera {

MemoryVdev::MemoryVdev(BlockCount size) : size_(size), data_(size.bytes()) {}

std::string MemoryVdev::Describe() const {
  return fmt::format("memory:{}blocks@{}", size_.value, static_cast<const void*>(this));
}

Status MemoryVdev::SubmitBatch(std::span<IoRequest> batch) {
  TRY_STATUS(CheckBatch(batch));
  bool mutates = std::any_of(batch.begin(), batch.end(),
                             [](const IoRequest& r) { return r.op != IoOp::kRead; });
  std::shared_lock<std::shared_mutex> shared(mu_, std::defer_lock);
  std::unique_lock<std::shared_mutex> exclusive(mu_, std::defer_lock);
  if (mutates) {
    exclusive.lock();
  } else {
    shared.lock();
  }
  for (IoRequest& request : batch) {
    std::byte* at = data_.data() + ToBytes(request.block).value;
    switch (request.op) {
      case IoOp::kRead:
        if (!request.buffer.empty()) std::memcpy(request.buffer.data(), at, request.buffer.size());
        break;
      case IoOp::kWrite:
        if (!request.buffer.empty()) std::memcpy(at, request.buffer.data(), request.buffer.size());
        break;
      case IoOp::kDiscard:
        std::memset(at, 0, request.discard_count.bytes());
        break;
    }
    request.result = Ok();
  }
  return Ok();
}

}  // namespace tessera
