// FileVdev design notes (io_uring paths)
//
// Ring pool: a batch takes an idle ring from idle_rings_ (or makes one),
// runs, and returns it; up to options_.max_idle_rings stay idle. So N threads
// submitting at once use N rings and never wait for each other.
//
// RunOnRing state per slot:
//
//   pending --PrepSqe--> queued (in SQ) --submit--> in kernel --CQE--+
//      ^                                                              |
//      +----- short transfer / EINTR (AdvanceSlot returns false) <----+
//                                          AdvanceSlot returns true --> finished
//
// Invariants
//  1. queued + in_kernel <= ring.depth, so io_uring_get_sqe never fails and
//     the CQ (2 x depth) never overflows.
//  2. RunOnRing returns only when in_kernel == 0: the kernel holds no
//     pointer into a caller's buffer or a bounce buffer after return.
//  3. A ring whose submission failed is never reused (it is destroyed after
//     being drained, invariant 2).
//  4. AsyncQueue: in_flight_ <= depth_ == ring depth; a slot index is either
//     in free_slots_ or owned by exactly one in-flight request.
#include <cerrno>
#include <cstring>

#include "core/util/log.h"
#include "core/vdev/file_vdev.h"
#include "core/vdev/file_vdev_internal.h"

namespace tessera {
namespace vdev_internal {

void PrepSqe(io_uring_sqe* sqe, const Ring& ring, int write_fd, int read_fd, const IoSlot& slot,
             uint64_t tag) {
  constexpr size_t kMaxPerSqe = size_t{1} << 30;
  const bool read = slot.request->op == IoOp::kRead;
  int target = ring.fixed_file ? static_cast<int>(read ? ring.read_index : 0) : (read ? read_fd : write_fd);
  std::byte* data = slot.data + slot.done;
  unsigned len = static_cast<unsigned>(std::min(slot.length - slot.done, kMaxPerSqe));
  uint64_t off = slot.offset + slot.done;
  if (slot.request->op == IoOp::kRead) {
    io_uring_prep_read(sqe, target, data, len, off);
  } else {
    io_uring_prep_write(sqe, target, data, len, off);
  }
  if (ring.fixed_file) io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
  io_uring_sqe_set_data64(sqe, tag);
}

}  // namespace vdev_internal

namespace {
bool Transient(int neg_errno) {
  return neg_errno == -EINTR || neg_errno == -EAGAIN || neg_errno == -EBUSY;
}
}  // namespace

Result<std::unique_ptr<FileVdev::Ring>> FileVdev::MakeRing(unsigned depth) const {
  auto ring = std::make_unique<Ring>();
  int rc = io_uring_queue_init(depth, &ring->ring, 0);
  if (rc < 0) return Err(Code::kIOError, "io_uring_queue_init: {}", std::strerror(-rc));
  ring->live = true;
  ring->depth = depth;
  const int fds[2] = {fd_, read_fd_};
  const unsigned count = read_fd_ == fd_ ? 1 : 2;
  ring->fixed_file = io_uring_register_files(&ring->ring, fds, count) == 0;
  ring->read_index = count - 1;
  return ring;
}

std::unique_ptr<FileVdev::Ring> FileVdev::AcquireRing() {
  {
    std::lock_guard<std::mutex> lock(ring_mu_);
    if (!idle_rings_.empty()) {
      std::unique_ptr<Ring> ring = std::move(idle_rings_.back());
      idle_rings_.pop_back();
      return ring;
    }
  }
  auto ring = MakeRing(options_.ring_depth);
  if (!ring) {
    Log(LogLevel::kDebug, "{}: extra ring unavailable ({}); batch runs synchronously", Describe(),
        ring.error().message());
    return nullptr;
  }
  return std::move(*ring);
}

void FileVdev::ReleaseRing(std::unique_ptr<Ring> ring) {
  std::lock_guard<std::mutex> lock(ring_mu_);
  if (idle_rings_.size() < options_.max_idle_rings) idle_rings_.push_back(std::move(ring));
}

bool FileVdev::RunOnRing(Ring& ring, std::span<IoSlot> slots) const {
  const size_t n = slots.size();
  std::vector<uint8_t> finished(n, 0);
  std::vector<uint32_t> again;
  size_t next = 0, finished_count = 0;
  unsigned queued = 0, in_kernel = 0;
  int submit_error = 0;
  while (finished_count < n) {
    if (submit_error == 0) {
      while (queued + in_kernel < ring.depth && (!again.empty() || next < n)) {
        uint32_t idx;
        if (!again.empty()) {
          idx = again.back();
          again.pop_back();
        } else {
          idx = static_cast<uint32_t>(next++);
        }
        vdev_internal::PrepSqe(io_uring_get_sqe(&ring.ring), ring, fd_, read_fd_, slots[idx], idx);
        ++queued;
      }
      int ret = io_uring_submit_and_wait(&ring.ring, 1);
      if (ret >= 0) {
        unsigned sent = std::min(queued, static_cast<unsigned>(ret));
        queued -= sent;
        in_kernel += sent;
      } else if (!Transient(ret)) {
        submit_error = -ret;
        Log(LogLevel::kError, "{}: io_uring submit failed: {}", Describe(), std::strerror(-ret));
      }
    } else {
      if (in_kernel == 0) break;
      io_uring_cqe* cqe = nullptr;
      int ret = io_uring_wait_cqe(&ring.ring, &cqe);
      if (ret < 0 && !Transient(ret)) {
        // Buffers are still owned by the kernel; returning would be unsafe.
        Log(LogLevel::kError, "{}: io_uring wait failed with I/O in flight: {}", Describe(),
            std::strerror(-ret));
        std::abort();
      }
    }
    unsigned head, seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring.ring, head, cqe) {
      ++seen;
      --in_kernel;
      auto idx = static_cast<uint32_t>(io_uring_cqe_get_data64(cqe));
      if (AdvanceSlot(slots[idx], cqe->res)) {
        finished[idx] = 1;
        ++finished_count;
      } else {
        again.push_back(idx);
      }
    }
    io_uring_cq_advance(&ring.ring, seen);
  }
  if (submit_error == 0) return true;
  for (size_t i = 0; i < n; ++i) {
    if (finished[i]) continue;
    slots[i].request->result =
        Err(Code::kIOError, "{}: block {} not transferred: io_uring submit failed: {}",
            Describe(), slots[i].request->block.value, std::strerror(submit_error));
  }
  return false;
}

Result<std::unique_ptr<FileVdev::AsyncQueue>> FileVdev::NewAsyncQueue(unsigned depth) {
  if (depth == 0) return Err(Code::kInvalidArgument, "{}: async queue depth 0", Describe());
  std::unique_ptr<Ring> ring;
  if (use_uring_) ring = TRY(MakeRing(depth));
  return std::unique_ptr<AsyncQueue>(new AsyncQueue(this, depth, std::move(ring)));
}

FileVdev::AsyncQueue::AsyncQueue(FileVdev* vdev, unsigned depth, std::unique_ptr<Ring> ring)
    : vdev_(vdev), depth_(depth), ring_(std::move(ring)), slots_(depth) {
  for (unsigned i = depth; i > 0; --i) free_slots_.push_back(i - 1);
}

FileVdev::AsyncQueue::~AsyncQueue() {
  while (in_flight_ > 0) {
    if (!WaitOne()) break;
  }
}

Status FileVdev::AsyncQueue::Submit(IoRequest* request) {
  if (request->op == IoOp::kDiscard) {
    return Err(Code::kInvalidArgument, "{}: async queue does not take discards", vdev_->Describe());
  }
  TRY_STATUS(vdev_->CheckRequest(*request));
  if (in_flight_ >= depth_) {
    return Err(Code::kInvalidArgument, "{}: async queue full ({} in flight)", vdev_->Describe(),
               in_flight_);
  }
  uint32_t idx = free_slots_.back();
  free_slots_.pop_back();
  ++in_flight_;
  IoSlot& slot = slots_[idx];
  slot = IoSlot{};
  vdev_->PrepareSlot(*request, slot);
  if (ring_ == nullptr || request->buffer.empty()) {
    if (request->buffer.empty()) {
      request->result = Ok();
    } else {
      vdev_->TransferSync(slot);
    }
    completed_.push_back(idx);
    return Ok();
  }
  vdev_internal::PrepSqe(io_uring_get_sqe(&ring_->ring), *ring_, vdev_->fd_, vdev_->read_fd_, slot, idx);
  ++queued_;
  return Ok();
}

Result<IoRequest*> FileVdev::AsyncQueue::WaitOne() {
  if (in_flight_ == 0) {
    return Err(Code::kInvalidArgument, "{}: WaitOne with nothing in flight", vdev_->Describe());
  }
  auto finish = [this](uint32_t idx) {
    --in_flight_;
    free_slots_.push_back(idx);
    slots_[idx].bounce = AlignedBuffer();
    if (slots_[idx].request->op == IoOp::kWrite) vdev_->NoteChangeDone();
    return slots_[idx].request;
  };
  if (!completed_.empty()) {
    uint32_t idx = completed_.front();
    completed_.pop_front();
    return finish(idx);
  }
  for (;;) {
    if (queued_ > 0 || io_uring_cq_ready(&ring_->ring) == 0) {
      int ret = io_uring_submit_and_wait(&ring_->ring, 1);
      if (ret < 0) {
        if (Transient(ret)) continue;
        return Err(Code::kIOError, "{}: io_uring submit failed: {}", vdev_->Describe(),
                   std::strerror(-ret));
      }
      queued_ -= std::min(queued_, static_cast<unsigned>(ret));
    }
    io_uring_cqe* cqe = nullptr;
    if (io_uring_peek_cqe(&ring_->ring, &cqe) != 0) continue;
    auto idx = static_cast<uint32_t>(io_uring_cqe_get_data64(cqe));
    int res = cqe->res;
    io_uring_cqe_seen(&ring_->ring, cqe);
    if (vdev_->AdvanceSlot(slots_[idx], res)) return finish(idx);
    vdev_internal::PrepSqe(io_uring_get_sqe(&ring_->ring), *ring_, vdev_->fd_, vdev_->read_fd_, slots_[idx],
                           idx);
    ++queued_;
  }
}

}  // namespace tessera
