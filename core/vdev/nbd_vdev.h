// NbdVdev: a Vdev on an export of a remote NBD server (nbdkit, qemu-nbd,
// nbd-server), reached through libnbd's asynchronous API. Every request of
// every batch is in flight at once on one connection, driven by one I/O
// thread (nbd_link.h).
//
// Contract
//  1. Open() connects to options.uri (any URI libnbd takes: nbd://,
//     nbds://, nbd+unix://, with parameters such as tls-psk-file) within
//     options.timeout. An export that cannot be reached is NotFound; a bad
//     URI, a read-only export, or one smaller than options.min_bytes or
//     options.size is InvalidArgument. Errors name the URI.
//  2. Size() is options.size when set, else the export's size, in whole
//     4 KiB blocks; it never changes after Open().
//  3. SubmitBatch/Flush/Read/Write/Discard: thread-safe; batches from
//     different threads share the connection. Buffers need no alignment.
//     An invalid batch fails whole with InvalidArgument and sends nothing
//     (vdev.h contract 5). A request longer than the server takes at once
//     is split; its result is the first failure of its parts.
//  4. Failure: a request the server fails, or one that the connection's
//     loss or the per-request timeout ends, gets IOError naming the vdev,
//     the operation, the block and the reason; the others of its batch
//     still complete. No request waits much longer than options.timeout:
//     a dead or silent server gives errors, never a hang. While the server
//     is away, requests fail at once; the connection is retried with
//     backoff and requests succeed again once it is back (nbd_link.h
//     contracts 3 and 4).
//  5. Discard makes the range read back as zeros: NBD write-zeroes (the
//     server may punch holes), or written zeros when the export has no
//     write-zeroes.
//  6. Flush is NBD flush: Ok means every write that completed before the
//     call is on the server's stable storage. It is skipped when no write
//     completed since the last good one began, but never while the
//     connection is down: a flush of an absent device fails (IOError), so
//     the pool faults it (pool.h). When the export offers no flush (no
//     write-back cache to flush), Flush only checks the connection and
//     what follows. Once the connection was lost with completed writes that
//     no good flush covered, every later Flush fails: the server may have lost them, and a later
//     Ok would call them durable (as FileVdev does after a failed
//     fdatasync). Reopening the vdev clears this.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "core/vdev/vdev.h"

namespace tessera {

namespace vdev_internal {
class NbdLink;
}

struct NbdVdevOptions {
  std::string uri;
  // Per request and per connection attempt.
  std::chrono::milliseconds timeout{10000};
  // Reconnection backoff: the first retry after backoff_min, doubling up to
  // backoff_max.
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  // The vdev's size; zero: the export's size.
  BlockCount size;
  // The least export size Open() accepts.
  uint64_t min_bytes = 0;
};

class NbdVdev final : public Vdev {
 public:
  static Result<std::unique_ptr<NbdVdev>> Open(const NbdVdevOptions& options);
  ~NbdVdev() override;
  NbdVdev(const NbdVdev&) = delete;
  NbdVdev& operator=(const NbdVdev&) = delete;

  BlockCount Size() const override { return size_; }
  std::string Describe() const override { return "nbd:" + options_.uri; }
  Status SubmitBatch(std::span<IoRequest> batch) override;
  Status Flush() override;

  // For status and tests.
  bool Connected() const;
  uint64_t Reconnects() const;
  uint64_t ExportBytes() const;

 private:
  NbdVdev(NbdVdevOptions options, std::unique_ptr<vdev_internal::NbdLink> link, BlockCount size);

  const NbdVdevOptions options_;
  const std::unique_ptr<vdev_internal::NbdLink> link_;
  const BlockCount size_;
  // One NBD flush at a time; flushed_ counts the link's completed writes
  // the last good flush covered.
  std::mutex flush_mu_;
  uint64_t flushed_ = 0;  // GUARDED_BY(flush_mu_)
};

}  // namespace tessera
