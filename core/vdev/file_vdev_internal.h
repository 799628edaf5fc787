// Internal to core/vdev: the per-request transfer state and the io_uring
// wrapper shared by file_vdev.cc and file_vdev_uring.cc. Not for other layers.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "core/util/aligned_buffer.h"
#include "core/vdev/vdev.h"

namespace tessera::vdev_internal {

// One read or write in progress. `data` is the request's buffer, or `bounce`
// when O_DIRECT needs an aligned copy. A short transfer advances `done` and
// the remainder is reissued.
struct IoSlot {
  IoRequest* request = nullptr;
  std::byte* data = nullptr;
  uint64_t offset = 0;  // Device byte offset of the whole request.
  size_t length = 0;
  size_t done = 0;
  unsigned retries = 0;  // EINTR/EAGAIN reissues, bounded.
  AlignedBuffer bounce;
};

// An io_uring owned by one user at a time (a batch, or an AsyncQueue).
struct Ring {
  io_uring ring{};
  unsigned depth = 0;
  bool live = false;        // io_uring_queue_init succeeded.
  bool fixed_file = false;  // The device fds are registered: writes 0, reads read_index.
  unsigned read_index = 0;
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  // The kernel tears a ring down asynchronously, after io_uring_queue_exit
  // and even after the process exits; registered files would stay open
  // until then, and with them a block device's exclusive claim (a pool
  // create or mount right after this process ends would get EBUSY). So the
  // files are unregistered first, which drops them at once.
  ~Ring() {
    if (!live) return;
    if (fixed_file) io_uring_unregister_files(&ring);
    io_uring_queue_exit(&ring);
  }
};

// Fills `sqe` for the untransferred remainder of `slot`, tagged `tag`: a read
// on `read_fd`, a write on `write_fd` (their fixed indexes when registered).
void PrepSqe(io_uring_sqe* sqe, const Ring& ring, int write_fd, int read_fd, const IoSlot& slot,
             uint64_t tag);

}  // namespace tessera::vdev_internal
