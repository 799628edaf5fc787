// FileVdev: a Vdev over a regular file or a block device, driven by io_uring
// with O_DIRECT, falling back to pread/pwrite and buffered I/O when the kernel
// or the file system refuses them. This is the only place in the core that
// performs device I/O system calls.
//
// Contract
//  - Open() probes capabilities once (io_uring, O_DIRECT; discard method on
//    first use) and remembers the answers for the object's life. Each
//    fallback is logged once.
//  - Size() is the device size rounded down to whole 4 KiB blocks; it never
//    changes after Open().
//  - A block device is opened O_EXCL for the object's life: while it is
//    open, the kernel refuses to mount it and refuses other exclusive opens
//    (another pool, mkfs, a second FileVdev of it), and Open fails with Busy
//    when one of those holds it already. Nothing else is done to it: it is
//    never created, truncated or chmod-ed. A device whose logical block
//    size exceeds 4 KiB is refused (InvalidArgument).
//  - SubmitBatch/Flush/Read/Write/Discard: thread-safe; batches from
//    different threads run concurrently on different io_uring instances.
//    Buffers need not be aligned (unaligned ones bounce through an
//    AlignedBuffer when O_DIRECT is on) but aligned ones are zero-copy.
//  - Failure: an invalid batch fails whole with InvalidArgument and touches
//    nothing. A device error sets that request's result to IOError naming the
//    device, the block and strerror; the other requests still complete.
//  - Discard: on a regular file the range reads back as zeros (hole punch, or
//    written zeros where punching is unsupported). On a block device it is
//    BLKDISCARD and the contents afterwards are whatever the device returns.
//  - Flush: fdatasync; Ok means every write that completed before the call
//    is durable. It is skipped when no write or discard has completed since
//    the start of the last fdatasync that succeeded, and shared with an
//    fdatasync already running that began after those writes (group
//    commit). Once an fdatasync fails, every later Flush fails with it: the
//    kernel reports lost write-back once, and retrying would hide the loss.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/vdev/vdev.h"

namespace tessera {

struct FileVdevOptions {
  // Create the file if missing. A regular file is then truncated to
  // `create_size` (fresh, all zeros). Ignored for block devices.
  bool create = false;
  BlockCount create_size;
  // With `create`: fail with InvalidArgument if the path already exists.
  bool create_exclusive = false;
  // With `create` of a regular file: write zeros over all of it, so that no
  // later write allocates file system blocks (and an fdatasync after it
  // needs no journal commit). Costs the file's size in disk space at once.
  bool preallocate = false;
  bool use_direct = true;
  // With O_DIRECT: reads go through the kernel's page cache (a second,
  // buffered descriptor) while writes stay O_DIRECT, so hot data is served
  // from memory and write errors still surface at write time.
  bool cache_reads = false;
  bool use_io_uring = true;
  // Submission-queue entries per ring; larger batches are split.
  unsigned ring_depth = 128;
  // Idle rings kept for reuse; more may exist while many threads submit.
  unsigned max_idle_rings = 8;
};

// The size of the block device at `path` (a symbolic link to one counts),
// in bytes rounded down to whole blocks, read without claiming it.
// InvalidArgument when `path` is not a block device, NotFound when it does
// not exist.
Result<uint64_t> BlockDeviceBytes(const std::string& path);

namespace vdev_internal {
struct Ring;
struct IoSlot;
}  // namespace vdev_internal

class FileVdev final : public Vdev {
 public:
  class AsyncQueue;

  // Opens (and with options.create, creates) `path`. Fails with NotFound when
  // it does not exist and create is false, InvalidArgument when it is not a
  // regular file or block device (or exists and create_exclusive), Busy when
  // it is a block device that is mounted or held open exclusively, IOError
  // on other system errors.
  static Result<std::unique_ptr<FileVdev>> Open(const std::string& path, FileVdevOptions options);
  ~FileVdev() override;
  FileVdev(const FileVdev&) = delete;
  FileVdev& operator=(const FileVdev&) = delete;

  BlockCount Size() const override { return BlockCount{size_blocks_.load(std::memory_order_acquire)}; }
  std::string Describe() const override;
  Status SubmitBatch(std::span<IoRequest> batch) override;
  Status Flush() override;

  // Probe results, for logs and tests.
  bool UsingIoUring() const { return use_uring_; }
  bool UsingDirectIo() const { return direct_; }
  // Reads through the page cache while writes are O_DIRECT (cache_reads).
  bool CachingReads() const { return read_fd_ != fd_; }
  // fdatasync calls Flush has made (skipped flushes are not counted).
  uint64_t DeviceFlushes() const { return device_flushes_.load(std::memory_order_relaxed); }
  bool IsBlockDevice() const { return block_device_; }
  // A block device that grew under it (a resized loop device, a LUN grown
  // by the array): from now on the vdev spans `size` blocks of it. For vdev
  // grow, which cannot open the device again while this claims it.
  // InvalidArgument, changing nothing, when this is not a block device or
  // `size` is below the vdev's size or beyond the device's.
  Status GrowTo(BlockCount size);

  // A continuous queue of up to `depth` requests on one private ring (see
  // AsyncQueue). The FileVdev must outlive it.
  Result<std::unique_ptr<AsyncQueue>> NewAsyncQueue(unsigned depth);

 private:
  enum class DiscardMode : uint8_t { kUnprobed, kPunchHole, kBlkDiscard, kWriteZeros };
  using Ring = vdev_internal::Ring;
  using IoSlot = vdev_internal::IoSlot;
  friend class AsyncQueue;

  FileVdev(std::string path, int fd, int read_fd, BlockCount size, bool block_device, bool direct,
           FileVdevOptions options);

  // file_vdev.cc
  Status DiscardRange(BlockNo block, BlockCount count);
  Status WriteZeros(BlockNo block, BlockCount count);
  void PrepareSlot(IoRequest& request, IoSlot& slot) const;
  // Accounts for one transfer result (bytes, or -errno). Returns true when the
  // slot is finished (request->result set), false when the rest must be reissued.
  bool AdvanceSlot(IoSlot& slot, int64_t res) const;
  void TransferSync(IoSlot& slot) const;

  // file_vdev_uring.cc
  Result<std::unique_ptr<Ring>> MakeRing(unsigned depth) const;
  std::unique_ptr<Ring> AcquireRing();
  void ReleaseRing(std::unique_ptr<Ring> ring);
  // Runs `slots` on `ring`. Returns false (ring unusable, must be dropped)
  // when submission itself failed; unfinished slots then carry IOError.
  bool RunOnRing(Ring& ring, std::span<IoSlot> slots) const;

  const std::string path_;
  const int fd_;
  const int read_fd_;  // fd_, or a buffered descriptor for reads (cache_reads)
  std::atomic<uint64_t> size_blocks_;  // only grows (GrowTo)
  const bool block_device_;
  const bool direct_;
  const FileVdevOptions options_;
  bool use_uring_ = false;  // Set once in Open(), read-only afterwards.
  std::atomic<DiscardMode> discard_mode_{DiscardMode::kUnprobed};
  // Flush's bookkeeping: writes/discards completed (batches, counted after
  // they finish) and the count the last successful fdatasync covered.
  void NoteChangeDone();
  // A lone request gains nothing from a ring: pread/pwrite blocks the same
  // way with less work (no ring to take, no completion task work), which
  // measured about 1.5x the IOPS for 4K O_DIRECT reads from 16 threads.
  // Buffered writes only copy into the page cache: io_uring would hand them
  // to a kernel worker thread, so pwrite in the caller's thread is faster.
  bool SyncIsFaster(std::span<const IoRequest> batch) const;
  std::atomic<uint64_t> changes_done_{0};
  std::atomic<uint64_t> device_flushes_{0};
  // One fdatasync at a time: a Flush that finds one running waits for it
  // and starts another only if that one began before its changes were done.
  std::mutex sync_mu_;
  std::condition_variable sync_done_;
  bool syncing_ = false;          // GUARDED_BY(sync_mu_)
  uint64_t sync_round_ = 0;       // GUARDED_BY(sync_mu_): fdatasyncs finished
  uint64_t synced_through_ = 0;   // GUARDED_BY(sync_mu_): changes the last good one covered
  Status sync_failure_ = Ok();    // GUARDED_BY(sync_mu_): the first failed fdatasync

  std::mutex ring_mu_;
  std::vector<std::unique_ptr<Ring>> idle_rings_;  // GUARDED_BY(ring_mu_)
};

// A continuous-submission queue over one io_uring, for sustaining a fixed
// queue depth without batch barriers (benchmarks, streaming writers).
//
// Not thread-safe: one thread uses a queue at a time. Requests are kRead or
// kWrite only; each request and its buffer must stay valid until WaitOne()
// returns it. Without io_uring it degrades to synchronous I/O at Submit().
class FileVdev::AsyncQueue {
 public:
  ~AsyncQueue();  // Waits for every request still in flight.
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Queues `request`; it is sent to the kernel on the next WaitOne(). Fails
  // with InvalidArgument (nothing queued) if the request is invalid, is a
  // discard, or InFlight() == Depth().
  Status Submit(IoRequest* request);
  // Sends queued requests, waits for one to complete and returns it with its
  // `result` set. InvalidArgument when nothing is in flight; IOError if the
  // ring itself fails to submit, in which case every request stays in flight
  // (still owned by the queue) and a later WaitOne() retries.
  Result<IoRequest*> WaitOne();

  unsigned InFlight() const { return in_flight_; }
  unsigned Depth() const { return depth_; }

 private:
  friend class FileVdev;
  AsyncQueue(FileVdev* vdev, unsigned depth, std::unique_ptr<vdev_internal::Ring> ring);

  FileVdev* const vdev_;
  const unsigned depth_;
  std::unique_ptr<vdev_internal::Ring> ring_;  // Null: synchronous fallback.
  std::vector<vdev_internal::IoSlot> slots_;
  std::vector<uint32_t> free_slots_;
  std::deque<uint32_t> completed_;  // Synchronous fallback only.
  unsigned in_flight_ = 0;
  unsigned queued_ = 0;  // Prepared SQEs not yet submitted.
};

}  // namespace tessera
