// FileVdev design notes (open, probing, synchronous paths)
//
// Capability state, decided once:
//
//   Open() --stat: block device--------> open O_EXCL (EBUSY: Busy, nothing held)
//   Open() --fcntl(F_SETFL, O_DIRECT) ok--> direct_ = true
//          \--EINVAL (tmpfs, ...)-------> direct_ = false   [log info once]
//   Open() --direct_ and cache_reads-----> read_fd_ = a second, buffered fd
//          \--otherwise-----------------> read_fd_ = fd_
//   Open() --io_uring_queue_init ok------> use_uring_ = true (ring kept idle)
//          \--fails (ENOSYS, EPERM)-----> use_uring_ = false [log warn once]
//   first Discard: kUnprobed --punch/BLKDISCARD ok--> kPunchHole | kBlkDiscard
//                            \--EOPNOTSUPP/ENOTTY---> kWriteZeros [log info once]
//
// Invariants
//  1. fd_, read_fd_, direct_, use_uring_ never change after Open()
//     returns, so they are read without locks; the size only grows
//     (GrowTo), atomically.
//  2. A batch is validated whole (CheckBatch) before any I/O is issued.
//  3. Every request of a valid batch gets its own result; one failure never
//     stops the others.
//  4. pread/pwrite appear only in TransferSync: the no-io_uring fallback, a
//     lone request, and buffered writes (SyncIsFaster).
//  5. With O_DIRECT, the kernel only ever sees 4 KiB-aligned addresses on
//     fd_: an unaligned caller buffer is replaced by `bounce` in PrepareSlot,
//     and read data is copied back only once the whole request succeeded.
//     Reads on a buffered read_fd_ take the caller's buffer as it is.
//  6. Cached reads stay coherent with O_DIRECT writes: the kernel drops the
//     page cache of a range a direct write covers. A page that a concurrent
//     read caches with a block's older content can only belong to a block
//     the log no longer maps (blocks are never overwritten in place while
//     mapped), and every block read is checked against its mapping's
//     checksum, so such a page is never returned as data.
//  7. A block device's exclusive claim belongs to fd_ (O_EXCL): the second,
//     buffered read_fd_ is a plain open, which an exclusive claim allows.
#include "core/vdev/file_vdev.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/util/log.h"
#include "core/vdev/file_vdev_internal.h"

namespace tessera {
namespace {

constexpr unsigned kMaxRetries = 16;
constexpr uint64_t kZeroChunkBlocks = 256;  // 1 MiB of zeros per write.

std::unexpected<Error> ErrnoError(int err, const std::string& what) {
  Code code = err == ENOENT ? Code::kNotFound
              : err == EEXIST ? Code::kInvalidArgument
              : err == EROFS  ? Code::kReadOnly
              : err == EBUSY  ? Code::kBusy
                              : Code::kIOError;
  if (err == EBUSY) {
    return Err(code, "{}: {} (the device is mounted, or another pool or program holds it open exclusively)",
               what, std::strerror(err));
  }
  return Err(code, "{}: {}", what, std::strerror(err));
}

// Writes zeros over [0, bytes) of a fresh file (FileVdevOptions::preallocate)
// and makes them durable.
Status FillWithZeros(int fd, uint64_t bytes, bool direct) {
  constexpr size_t kChunk = 8 << 20;
  static const AlignedBuffer zeros(kChunk);
  Log(LogLevel::kInfo, "writing {} MiB of zeros ({})", bytes >> 20, direct ? "O_DIRECT" : "buffered");
  for (uint64_t at = 0; at < bytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, bytes - at));
    ssize_t done = ::pwrite(fd, zeros.data(), n, static_cast<off_t>(at));
    if (done < 0 && errno == EINTR) continue;
    if (done <= 0) return ErrnoError(done < 0 ? errno : EIO, fmt::format("preallocating at byte {}", at));
    at += static_cast<uint64_t>(done);
  }
  if (::fdatasync(fd) != 0) return ErrnoError(errno, "preallocating: fdatasync");
  return Ok();
}

}  // namespace

Result<uint64_t> BlockDeviceBytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return ErrnoError(errno, fmt::format("open {}", path));
  struct stat st {};
  uint64_t bytes = 0;
  Result<uint64_t> result = Err(Code::kInvalidArgument, "{} is not a block device", path);
  if (::fstat(fd, &st) != 0) {
    result = ErrnoError(errno, fmt::format("fstat {}", path));
  } else if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd, BLKGETSIZE64, &bytes) == 0) {
      result = bytes >> kBlockShift << kBlockShift;
    } else {
      result = ErrnoError(errno, fmt::format("BLKGETSIZE64 {}", path));
    }
  }
  ::close(fd);
  return result;
}

Result<std::unique_ptr<FileVdev>> FileVdev::Open(const std::string& path, FileVdevOptions options) {
  int flags = O_RDWR | O_CLOEXEC;
  if (options.create) flags |= O_CREAT | (options.create_exclusive ? O_EXCL : 0);
  // A block device is claimed exclusively (the contract); O_EXCL without
  // O_CREAT means that only for block devices.
  struct stat before {};
  if (!(options.create && options.create_exclusive) && ::stat(path.c_str(), &before) == 0 &&
      S_ISBLK(before.st_mode)) {
    flags = (flags & ~O_CREAT) | O_EXCL;
  }
  int fd = ::open(path.c_str(), flags, 0600);  // volume data: the owner only
  if (fd < 0) return ErrnoError(errno, fmt::format("open {}", path));
  auto fail = [&](std::unexpected<Error> e) {
    ::close(fd);
    return e;
  };

  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(ErrnoError(errno, fmt::format("fstat {}", path)));
  bool block_device = S_ISBLK(st.st_mode);
  uint64_t bytes = 0;
  if (block_device) {
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
      return fail(ErrnoError(errno, fmt::format("BLKGETSIZE64 {}", path)));
    }
    int sector = 0;
    if (::ioctl(fd, BLKSSZGET, &sector) == 0 && sector > static_cast<int>(kBlockSize)) {
      return fail(Err(Code::kInvalidArgument, "{}: its logical block size of {} bytes is larger than the {} a vdev writes",
                      path, sector, kBlockSize));
    }
  } else if (S_ISREG(st.st_mode)) {
    bytes = static_cast<uint64_t>(st.st_size);
    if (options.create) {
      if (::ftruncate(fd, 0) != 0 ||
          ::ftruncate(fd, static_cast<off_t>(options.create_size.bytes())) != 0) {
        return fail(ErrnoError(errno, fmt::format("truncate {}", path)));
      }
      bytes = options.create_size.bytes();
    }
  } else {
    return fail(Err(Code::kInvalidArgument, "{}: not a regular file or block device", path));
  }

  bool direct = false;
  if (options.use_direct) {
    int fl = ::fcntl(fd, F_GETFL);
    if (fl >= 0 && ::fcntl(fd, F_SETFL, fl | O_DIRECT) == 0) {
      direct = true;
    } else {
      Log(LogLevel::kInfo, "file:{}: O_DIRECT unsupported ({}); using buffered I/O", path,
          std::strerror(errno));
    }
  }

  int read_fd = fd;
  if (direct && options.cache_reads) {
    read_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (read_fd < 0) return fail(ErrnoError(errno, fmt::format("open {} for cached reads", path)));
  }
  if (options.create && options.preallocate && !block_device) {
    if (Status zeroed = FillWithZeros(fd, bytes, direct); !zeroed) {
      if (read_fd != fd) ::close(read_fd);
      ::close(fd);
      return Err(zeroed.error().WithContext(path));
    }
  }
  std::unique_ptr<FileVdev> vdev(new FileVdev(path, fd, read_fd, BlockCount{bytes >> kBlockShift},
                                              block_device, direct, options));
  if (options.use_io_uring) {
    auto ring = vdev->MakeRing(options.ring_depth);
    if (ring) {
      vdev->use_uring_ = true;
      vdev->ReleaseRing(std::move(*ring));
    } else {
      Log(LogLevel::kWarn, "{}: io_uring unavailable ({}); falling back to pread/pwrite",
          vdev->Describe(), ring.error().message());
    }
  }
  return vdev;
}

FileVdev::FileVdev(std::string path, int fd, int read_fd, BlockCount size, bool block_device,
                   bool direct, FileVdevOptions options)
    : path_(std::move(path)),
      fd_(fd),
      read_fd_(read_fd),
      size_blocks_(size.value),
      block_device_(block_device),
      direct_(direct),
      options_(options) {}

Status FileVdev::GrowTo(BlockCount size) {
  if (!block_device_) return Err(Code::kInvalidArgument, "{} is not a block device; it grows by reopening", path_);
  uint64_t bytes = 0;
  if (::ioctl(fd_, BLKGETSIZE64, &bytes) != 0) return ErrnoError(errno, fmt::format("BLKGETSIZE64 {}", path_));
  const uint64_t device_blocks = bytes >> kBlockShift;
  if (size.value < Size().value || size.value > device_blocks) {
    return Err(Code::kInvalidArgument, "{}: cannot span {} blocks: the vdev has {}, the device {}", path_,
               size.value, Size().value, device_blocks);
  }
  size_blocks_.store(size.value, std::memory_order_release);
  return Ok();
}

FileVdev::~FileVdev() {
  idle_rings_.clear();
  if (read_fd_ != fd_) ::close(read_fd_);
  ::close(fd_);
}

std::string FileVdev::Describe() const { return "file:" + path_; }

Status FileVdev::SubmitBatch(std::span<IoRequest> batch) {
  TRY_STATUS(CheckBatch(batch));
  std::vector<IoSlot> slots;
  slots.reserve(batch.size());
  for (IoRequest& request : batch) {
    if (request.op == IoOp::kDiscard) {
      request.result = DiscardRange(request.block, request.discard_count);
    } else if (request.buffer.empty()) {
      request.result = Ok();
    } else {
      PrepareSlot(request, slots.emplace_back());
    }
  }
  if (!slots.empty()) {
    std::unique_ptr<Ring> ring = use_uring_ && !SyncIsFaster(batch) ? AcquireRing() : nullptr;
    if (ring == nullptr) {
      for (IoSlot& slot : slots) TransferSync(slot);
    } else if (RunOnRing(*ring, slots)) {
      ReleaseRing(std::move(ring));
    }  // else: the ring failed and is dropped; RunOnRing set the results.
  }
  if (std::any_of(batch.begin(), batch.end(), [](const IoRequest& r) { return r.op != IoOp::kRead; })) {
    NoteChangeDone();
  }
  for (IoRequest& request : batch) TRY_STATUS(request.result);
  return Ok();
}

bool FileVdev::SyncIsFaster(std::span<const IoRequest> batch) const {
  if (batch.size() == 1) return true;
  return !direct_ && std::all_of(batch.begin(), batch.end(),
                                 [](const IoRequest& r) { return r.op == IoOp::kWrite; });
}

Status FileVdev::Flush() {
  // Every change counted up to `seen` completed before this point. When an
  // fdatasync that began after them all has already succeeded, there is
  // nothing left to make durable (and an idle vdev costs no device flush);
  // when one is running, this Flush waits for it and, if it covers `seen`,
  // needs no other.
  const uint64_t seen = changes_done_.load(std::memory_order_acquire);
  std::unique_lock lock(sync_mu_);
  for (;;) {
    // The kernel reports a lost write-back once per open file; a later
    // fdatasync would succeed without the lost data. So a failure sticks.
    if (!sync_failure_) return sync_failure_;
    if (synced_through_ >= seen) return Ok();
    if (!syncing_) break;
    const uint64_t round = sync_round_;
    sync_done_.wait(lock, [&] { return sync_round_ != round; });
  }
  syncing_ = true;
  const uint64_t covers = changes_done_.load(std::memory_order_acquire);
  lock.unlock();
  device_flushes_.fetch_add(1, std::memory_order_relaxed);
  Status status = ::fdatasync(fd_) == 0 ? Ok() : ErrnoError(errno, Describe() + ": fdatasync");
  lock.lock();
  syncing_ = false;
  sync_round_++;
  if (status) synced_through_ = std::max(synced_through_, covers);
  else sync_failure_ = status;
  sync_done_.notify_all();
  return status;
}

void FileVdev::NoteChangeDone() { changes_done_.fetch_add(1, std::memory_order_acq_rel); }

void FileVdev::PrepareSlot(IoRequest& request, IoSlot& slot) const {
  slot.request = &request;
  slot.offset = ToBytes(request.block).value;
  slot.length = request.buffer.size();
  slot.data = request.buffer.data();
  const bool direct = direct_ && !(request.op == IoOp::kRead && CachingReads());
  if (direct && reinterpret_cast<uintptr_t>(slot.data) % kBlockSize != 0) {
    slot.bounce = AlignedBuffer(slot.length);
    if (request.op == IoOp::kWrite) std::memcpy(slot.bounce.data(), slot.data, slot.length);
    slot.data = slot.bounce.data();
  }
}

bool FileVdev::AdvanceSlot(IoSlot& slot, int64_t res) const {
  IoRequest& request = *slot.request;
  const char* verb = request.op == IoOp::kRead ? "read" : "write";
  uint64_t at_block = (slot.offset + slot.done) >> kBlockShift;
  if (res < 0) {
    if ((res == -EINTR || res == -EAGAIN) && ++slot.retries <= kMaxRetries) return false;
    request.result = Err(Code::kIOError, "{}: {} at block {} ({} blocks from block {}) failed: {}",
                         Describe(), verb, at_block, slot.length >> kBlockShift,
                         request.block.value, std::strerror(static_cast<int>(-res)));
    return true;
  }
  if (res == 0) {
    request.result = Err(Code::kIOError, "{}: short {} at block {}: device returned 0 of {} bytes",
                         Describe(), verb, at_block, slot.length - slot.done);
    return true;
  }
  slot.done += static_cast<size_t>(res);
  if (slot.done < slot.length) return false;
  if (request.op == IoOp::kRead && slot.data != request.buffer.data()) {
    std::memcpy(request.buffer.data(), slot.data, slot.length);
  }
  request.result = Ok();
  return true;
}

void FileVdev::TransferSync(IoSlot& slot) const {
  bool finished = false;
  while (!finished) {
    std::byte* data = slot.data + slot.done;
    size_t len = slot.length - slot.done;
    off_t off = static_cast<off_t>(slot.offset + slot.done);
    ssize_t n = slot.request->op == IoOp::kRead ? ::pread(read_fd_, data, len, off)
                                                : ::pwrite(fd_, data, len, off);
    finished = AdvanceSlot(slot, n < 0 ? -static_cast<int64_t>(errno) : n);
  }
}

Status FileVdev::DiscardRange(BlockNo block, BlockCount count) {
  if (count.value == 0) return Ok();
  DiscardMode mode = discard_mode_.load(std::memory_order_acquire);
  if (mode == DiscardMode::kWriteZeros) return WriteZeros(block, count);
  uint64_t range[2] = {ToBytes(block).value, count.bytes()};
  int rc = block_device_ ? ::ioctl(fd_, BLKDISCARD, range)
                         : ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                       static_cast<off_t>(range[0]), static_cast<off_t>(range[1]));
  if (rc == 0) {
    discard_mode_.store(block_device_ ? DiscardMode::kBlkDiscard : DiscardMode::kPunchHole,
                        std::memory_order_release);
    return Ok();
  }
  int err = errno;
  if (mode == DiscardMode::kUnprobed && (err == EOPNOTSUPP || err == ENOTTY || err == ENOSYS)) {
    DiscardMode expected = DiscardMode::kUnprobed;
    if (discard_mode_.compare_exchange_strong(expected, DiscardMode::kWriteZeros)) {
      Log(LogLevel::kInfo, "{}: {} unsupported ({}); discard writes zeros", Describe(),
          block_device_ ? "BLKDISCARD" : "hole punching", std::strerror(err));
    }
    return WriteZeros(block, count);
  }
  return Err(Code::kIOError, "{}: discard of blocks [{}, +{}) failed: {}", Describe(), block.value,
             count.value, std::strerror(err));
}

Status FileVdev::WriteZeros(BlockNo block, BlockCount count) {
  static const AlignedBuffer zeros(kZeroChunkBlocks * kBlockSize);
  std::vector<IoRequest> writes;
  for (uint64_t done = 0; done < count.value;) {
    uint64_t n = std::min(kZeroChunkBlocks, count.value - done);
    writes.push_back({.op = IoOp::kWrite,
                      .block = block + done,
                      .buffer = {const_cast<std::byte*>(zeros.data()), n * kBlockSize}});
    done += n;
  }
  return SubmitBatch(writes);
}

}  // namespace tessera
