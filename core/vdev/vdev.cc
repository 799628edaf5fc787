#include "core/vdev/vdev.h"

#include "core/util/align.h"

namespace tessera {

const char* IoOpName(IoOp op) {
  switch (op) {
    case IoOp::kRead:
      return "read";
    case IoOp::kWrite:
      return "write";
    case IoOp::kDiscard:
      return "discard";
  }
  return "request";
}

Status Vdev::Read(BlockNo block, std::span<std::byte> buffer) {
  IoRequest request{.op = IoOp::kRead, .block = block, .buffer = buffer};
  return SubmitBatch({&request, 1});
}

Status Vdev::Write(BlockNo block, std::span<const std::byte> buffer) {
  IoRequest request{.op = IoOp::kWrite,
                    .block = block,
                    .buffer = {const_cast<std::byte*>(buffer.data()), buffer.size()}};
  return SubmitBatch({&request, 1});
}

Status Vdev::Discard(BlockNo block, BlockCount count) {
  IoRequest request{.op = IoOp::kDiscard, .block = block, .discard_count = count};
  return SubmitBatch({&request, 1});
}

Status Vdev::CheckRequest(const IoRequest& request) const {
  uint64_t blocks = request.op == IoOp::kDiscard ? request.discard_count.value
                                                 : request.buffer.size() / kBlockSize;
  if (request.op != IoOp::kDiscard && !IsAligned(request.buffer.size(), kBlockSize)) {
    return Err(Code::kInvalidArgument, "{}: buffer of {} bytes is not whole blocks", Describe(),
               request.buffer.size());
  }
  if (!RangeWithin(request.block.value, blocks, Size().value)) {
    return Err(Code::kInvalidArgument, "{}: blocks [{}, +{}) beyond device end {}", Describe(),
               request.block.value, blocks, Size().value);
  }
  return Ok();
}

Status Vdev::CheckBatch(std::span<IoRequest> batch) const {
  Status first = Ok();
  size_t first_index = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    Status s = CheckRequest(batch[i]);
    if (!s && first) {
      first = s;
      first_index = i;
    }
  }
  if (first) return Ok();
  for (size_t i = 0; i < batch.size(); ++i) {
    Status s = CheckRequest(batch[i]);
    batch[i].result = s ? Status(Err(Code::kInvalidArgument,
                                     "{}: not issued: request {} of the batch is invalid",
                                     Describe(), first_index))
                        : s;
  }
  return first;
}

}  // namespace tessera
