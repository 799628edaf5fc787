// NbdVdev (nbd_vdev.h): requests become NBD commands on one NbdLink.
//
// Design notes
//  1. A batch is cut into commands (reads and writes at most the server's
//     largest request, zeroes at most 1 GiB, written-zero discards at most
//     1 MiB from a shared buffer of zeros), all submitted at once and waited
//     for together; each request takes the first failure of its commands.
//  2. Flush compares the link's count of completed writes with the count
//     the last good flush began after (contract 6): equal means nothing to
//     flush, unless the connection is down: then the flush is sent anyway
//     and fails, so that the pool learns the device is gone. Flushes run one at a time, so a later one never finishes before
//     an earlier one.
#include "core/vdev/nbd_vdev.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/vdev/nbd_link.h"

namespace tessera {
namespace {

using vdev_internal::NbdCommand;
using vdev_internal::NbdLink;
using vdev_internal::NbdWaiter;

constexpr uint64_t kMaxZeroBytes = 1ull << 30;
constexpr uint64_t kZeroBufferBytes = 1ull << 20;

const std::byte* Zeros() {
  static const std::vector<std::byte>* zeros = new std::vector<std::byte>(kZeroBufferBytes);
  return zeros->data();
}

}  // namespace

Result<std::unique_ptr<NbdVdev>> NbdVdev::Open(const NbdVdevOptions& options) {
  auto link = TRY(NbdLink::Connect({.uri = options.uri,
                                    .timeout = options.timeout,
                                    .backoff_min = options.backoff_min,
                                    .backoff_max = options.backoff_max,
                                    .min_bytes = std::max(options.min_bytes, options.size.bytes())}));
  BlockCount size = options.size.value != 0 ? options.size : BlockCount{link->info().size_bytes / kBlockSize};
  return std::unique_ptr<NbdVdev>(new NbdVdev(options, std::move(link), size));
}

NbdVdev::NbdVdev(NbdVdevOptions options, std::unique_ptr<NbdLink> link, BlockCount size)
    : options_(std::move(options)), link_(std::move(link)), size_(size) {}

NbdVdev::~NbdVdev() = default;

bool NbdVdev::Connected() const { return link_->connected(); }
uint64_t NbdVdev::Reconnects() const { return link_->reconnects(); }
uint64_t NbdVdev::ExportBytes() const { return link_->info().size_bytes; }

Status NbdVdev::SubmitBatch(std::span<IoRequest> batch) {
  TRY_STATUS(CheckBatch(batch));
  const auto& info = link_->info();
  std::vector<NbdCommand> commands;
  std::vector<size_t> owner;  // the request of each command
  // `data` advances with each piece, except the shared zeros (note 1).
  auto cut = [&](size_t index, NbdCommand::Kind kind, std::byte* data, uint64_t offset, uint64_t length,
                 uint64_t piece, bool advance) {
    for (uint64_t done = 0; done < length; done += piece) {
      commands.push_back({.kind = kind,
                          .buffer = data != nullptr && advance ? data + done : data,
                          .length = std::min(piece, length - done),
                          .offset = offset + done});
      owner.push_back(index);
    }
  };
  for (size_t i = 0; i < batch.size(); i++) {
    IoRequest& r = batch[i];
    const uint64_t offset = r.block.value * kBlockSize;
    switch (r.op) {
      case IoOp::kRead:
        cut(i, NbdCommand::Kind::kRead, r.buffer.data(), offset, r.buffer.size(), info.max_request_bytes, true);
        break;
      case IoOp::kWrite:
        cut(i, NbdCommand::Kind::kWrite, r.buffer.data(), offset, r.buffer.size(), info.max_request_bytes, true);
        break;
      case IoOp::kDiscard:
        if (info.can_zero) {
          cut(i, NbdCommand::Kind::kZero, nullptr, offset, r.discard_count.bytes(), kMaxZeroBytes, false);
        } else {
          cut(i, NbdCommand::Kind::kWrite, const_cast<std::byte*>(Zeros()), offset, r.discard_count.bytes(),
              std::min(kZeroBufferBytes, info.max_request_bytes), false);
        }
        break;
    }
    r.result = Ok();
  }
  NbdWaiter waiter(commands.size());
  for (NbdCommand& command : commands) command.waiter = &waiter;
  if (!commands.empty()) {
    link_->Submit(commands);
    waiter.Wait();
  }
  Status first = Ok();
  for (size_t c = 0; c < commands.size(); c++) {
    IoRequest& r = batch[owner[c]];
    if (commands[c].error == 0 || !r.result) continue;
    r.result = Err(Code::kIOError, "{}: {} at block {} (+{} bytes at byte {}): {}", Describe(), IoOpName(r.op),
                   r.block.value, commands[c].length, commands[c].offset, commands[c].message);
    if (first) first = r.result;
  }
  return first;
}

Status NbdVdev::Flush() {
  std::lock_guard lock(flush_mu_);
  const uint64_t covers = link_->WritesCompleted();
  auto lost = [&]() -> Status {
    return Err(Code::kIOError,
               "{}: the connection was lost with writes not yet flushed; the server may have lost them "
               "(reopen the vdev)",
               Describe());
  };
  if (link_->LostUnflushedWrites()) return lost();
  if (!link_->info().can_flush) {
    if (!link_->connected()) return Err(Code::kIOError, "{}: flush: not connected", Describe());
    link_->NoteFlushed(covers);
    return Ok();
  }
  if (covers == flushed_ && link_->connected()) return Ok();
  NbdWaiter waiter(1);
  NbdCommand flush{.kind = NbdCommand::Kind::kFlush, .waiter = &waiter};
  link_->Submit(std::span(&flush, 1));
  waiter.Wait();
  if (flush.error != 0) return Err(Code::kIOError, "{}: flush: {}", Describe(), flush.message);
  // A loss between `covers` and this flush is caught here, not by the next.
  if (link_->LostUnflushedWrites()) return lost();
  flushed_ = covers;
  link_->NoteFlushed(covers);
  return Ok();
}

}  // namespace tessera
