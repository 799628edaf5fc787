// SlotVdev: forwarding, fail-fast when empty, error counting.
//
// Design notes
//  1. The device pointer is read under the shared lock and the request runs
//     with that lock held, so Detach returns only after every request that
//     saw the old device has finished; nothing reaches a device after its
//     slot let go of it.
//  2. Only IOError counts as a device error: InvalidArgument (a caller's
//     bug, checked before anything is issued) says nothing about the device.
#include "core/vdev/slot_vdev.h"

#include <algorithm>
#include <mutex>


namespace tessera {

std::string_view VdevStateName(VdevState state) {
  switch (state) {
    case VdevState::kOnline:
      return "online";
    case VdevState::kOffline:
      return "offline";
    case VdevState::kFaulted:
      return "faulted";
    case VdevState::kMissing:
      return "missing";
    case VdevState::kRemoved:
      return "removed";
  }
  return "?";
}

SlotVdev::SlotVdev(std::string name, BlockCount size, std::shared_ptr<Vdev> device, VdevState state)
    : name_(std::move(name)),
      size_(size.value),
      device_(std::move(device)),
      state_(device_ ? VdevState::kOnline : (state == VdevState::kOnline ? VdevState::kMissing : state)) {}

std::string SlotVdev::Describe() const {
  auto device = this->device();
  return device ? device->Describe() : fmt::format("vdev '{}' ({})", name_, VdevStateName(state()));
}

std::shared_ptr<Vdev> SlotVdev::device() const {
  std::shared_lock lock(mu_);
  return device_;
}

Status SlotVdev::Unavailable() const {
  return Err(Code::kIOError, "vdev '{}' is {}", name_, VdevStateName(state()));
}

Status SlotVdev::SubmitBatch(std::span<IoRequest> batch) {
  TRY_STATUS(CheckBatch(batch));
  Status status = Ok();
  bool failed_read = false, failed_write = false;
  {
    std::shared_lock lock(mu_);
    if (!device_) {
      Status s = Unavailable();
      for (IoRequest& r : batch) r.result = s;
      return s;
    }
    bool writes = std::any_of(batch.begin(), batch.end(), [](const IoRequest& r) { return r.op != IoOp::kRead; });
    // Set before (a flush running meanwhile may not cover these writes) and
    // after (a flush that cleared it while they ran did not).
    if (writes) unflushed_ = true;
    uint64_t start = MonotonicNs();
    status = device_->SubmitBatch(batch);
    uint64_t ns = MonotonicNs() - start;
    if (writes) unflushed_ = true;
    uint64_t read_ops = 0, read_bytes = 0, write_ops = 0, write_bytes = 0;
    for (const IoRequest& r : batch) {
      bool io_error = !r.result && r.result.error().code() == Code::kIOError;
      failed_read |= io_error && r.op == IoOp::kRead;
      failed_write |= io_error && r.op != IoOp::kRead;
      if (r.op == IoOp::kRead) {
        read_ops++;
        read_bytes += r.buffer.size();
      } else if (r.op == IoOp::kWrite) {
        write_ops++;
        write_bytes += r.buffer.size();
      }
    }
    // Each request of a batch waited for the whole batch (contract 6).
    if (read_ops > 0) reads_.Record(read_ops, read_bytes, ns);
    if (write_ops > 0) writes_.Record(write_ops, write_bytes, ns);
  }
  if (failed_read) read_errors_++;
  if (failed_write) write_errors_++;
  return status;
}

Status SlotVdev::Flush() {
  Status status = Ok();
  {
    std::shared_lock lock(mu_);
    if (!device_) return unflushed_ ? Unavailable() : Ok();  // contract 2
    bool had = unflushed_.exchange(false);
    uint64_t start = MonotonicNs();
    status = device_->Flush();
    flushes_.Record(1, 0, MonotonicNs() - start);
    if (!status && had) unflushed_ = true;
  }
  if (!status && status.error().code() == Code::kIOError) flush_errors_++;
  return status;
}

Status SlotVdev::Attach(std::shared_ptr<Vdev> device) {
  if (!device) return Err(Code::kInvalidArgument, "vdev '{}': no device to attach", name_);
  if (device->Size().value < size_.load()) {
    return Err(Code::kInvalidArgument, "vdev '{}': {} has {} blocks, the slot needs {}", name_,
               device->Describe(), device->Size().value, size_.load());
  }
  std::unique_lock lock(mu_);
  device_ = std::move(device);
  state_.store(VdevState::kOnline);
  return Ok();
}

Status SlotVdev::Grow(BlockCount size, std::shared_ptr<Vdev> device) {
  if (!device || device->Size().value < size.value || size.value < size_.load()) {
    return Err(Code::kInvalidArgument, "vdev '{}': cannot grow to {} blocks with that device", name_, size.value);
  }
  std::unique_lock lock(mu_);
  device_ = std::move(device);
  size_.store(size.value);
  state_.store(VdevState::kOnline);
  return Ok();
}

void SlotVdev::Detach(VdevState state) {
  std::unique_lock lock(mu_);
  device_.reset();
  state_.store(state == VdevState::kOnline ? VdevState::kOffline : state);
}

VdevErrorCounts SlotVdev::errors() const {
  return VdevErrorCounts{.read_errors = read_errors_.load(),
                         .write_errors = write_errors_.load(),
                         .flush_errors = flush_errors_.load(),
                         .checksum_errors = checksum_errors_.load()};
}

}  // namespace tessera
