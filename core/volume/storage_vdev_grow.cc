// Storage: growing a vdev (vdev grow), open or in use (PoolApi::GrowVdev).
//
// Design notes
//  1. Checks first: the vdev exists, is online, is a file vdev on a regular
//     file or a block device; the new size (--size, else the file's or the
//     device's own size, for one the admin grew) is larger than the vdev,
//     and a device has it; pool.conf's new text reads back. A refusal
//     changes nothing.
//  2. Order, for crash safety:
//       a. the file is extended (ftruncate, fsync) and reopened at its new
//          size; a block device, which the open vdev claims exclusively and
//          so cannot be opened again, is told its new size in place
//          (FileVdev::GrowTo);
//       b. the label with the new size is written at its new last block and
//          flushed (Pool::PrepareGrow);
//       c. pool.conf takes the new size (atomically);
//       d. the database switches the label at block 0, grows the allocator
//          and commits (Database::GrowVdev).
//     Before d's label write the vdev opens at its old size (a longer file
//     is allowed); after it at the new size, the allocator settling bitmaps
//     stored before the grow (allocator.h contract 9). A failure in a to c
//     leaves the file longer and the pool as it was; the grow can be run
//     again.
//  3. Like vdev add, it holds work_mu_ and mu_ while volume I/O goes on:
//     the slot takes the reopened device (SlotVdev::Grow) and addresses
//     past the old end become valid only after it.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/pool/vdev_kinds.h"
#include "core/util/log.h"
#include "core/util/size.h"
#include "core/vdev/file_vdev.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace {

// Extends the regular file at `path` to `bytes` and makes that durable.
Status ExtendFile(const std::string& path, uint64_t bytes) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return Err(Code::kIOError, "vdev grow: cannot open {}: {}", path, std::strerror(errno));
  Status done = Ok();
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0 || ::fsync(fd) != 0) {
    done = Err(Code::kIOError, "vdev grow: cannot extend {} to {} bytes: {}", path, bytes,
               std::strerror(errno));
  }
  ::close(fd);
  return done;
}

}  // namespace

Result<VdevStatus> Storage::Impl::GrowVdev(const std::string& name, uint64_t new_size) {
  std::lock_guard work(work_mu_);
  std::lock_guard lock(mu_);
  Pool& pool = db_->pool();
  const PoolVdev* v = TRY(pool.FindNamed(name));
  // Design note 1.
  if (v->removed()) return Err(Code::kInvalidArgument, "vdev grow: vdev '{}' was removed from the pool", name);
  if (!v->device->online()) {
    return Err(Code::kInvalidArgument, "vdev grow: vdev '{}' is {}; bring it online first", name,
               VdevStateName(v->device->state()));
  }
  if (VdevKind(v->config) != kDefaultVdevKind) {
    return Err(Code::kInvalidArgument, "vdev grow: vdev '{}' is of kind '{}'; only file vdevs grow",
               name, VdevKind(v->config));
  }
  struct stat st {};
  const bool exists = ::stat(v->config.path.c_str(), &st) == 0;
  const bool block_device = exists && S_ISBLK(st.st_mode);
  if (!block_device && (!exists || !S_ISREG(st.st_mode))) {
    return Err(Code::kInvalidArgument,
               "vdev grow: {} is neither a regular file nor a block device; only those grow", v->config.path);
  }
  const uint64_t current = v->label.size_blocks * kBlockSize;
  // What the file or the device has now.
  const uint64_t file = block_device ? TRY(BlockDeviceBytes(v->config.path))
                                     : static_cast<uint64_t>(st.st_size) / kBlockSize * kBlockSize;
  const uint64_t target = (new_size != 0 ? new_size : file) / kBlockSize * kBlockSize;
  if (target <= current) {
    return Err(Code::kInvalidArgument, "vdev grow: vdev '{}' has {}; give a larger size{}", name,
               FormatSize(current),
               new_size != 0 ? "" : block_device ? " (or grow the device first)" : " (or extend its file first)");
  }
  if (block_device && target > file) {
    return Err(Code::kInvalidArgument, "vdev grow: the block device {} has {} bytes, less than the {} asked for",
               v->config.path, file, target);
  }
  if (!block_device && file > target) {
    return Err(Code::kInvalidArgument,
               "vdev grow: {} already has {} bytes, more than the {} asked for", v->config.path,
               file, target);
  }
  PoolConfig after = pool.config();
  for (VdevConfig& vc : after.vdevs) {
    if (vc.name == name) vc.size_bytes = target;
  }
  if (Status reads = CheckConfigReadsBack(after); !reads) {
    return Err(Code::kInvalidArgument, "vdev grow: {}", reads.error().message());
  }
  // Design note 2a.
  std::shared_ptr<Vdev> device;
  if (block_device) {
    device = v->device->device();
    auto* claimed = dynamic_cast<FileVdev*>(device.get());
    if (claimed == nullptr) {
      return Err(Code::kInvalidArgument, "vdev grow: the block device {} is not open as a plain device here",
                 v->config.path);
    }
    TRY_STATUS(claimed->GrowTo(BlockCount{target / kBlockSize}));
  } else {
    if (file < target) TRY_STATUS(ExtendFile(v->config.path, target));
    PoolConfig one{.name = pool.config().name, .vdevs = {v->config}};
    one.vdevs[0].size_bytes = target;
    auto opened = OpenPoolDevices(options_, one, false);
    if (!opened) return Err(opened.error().WithContext("vdev grow"));
    device = opened->empty() ? nullptr : opened->at(0);
    if (!device || device->Size().value * kBlockSize != target) {
      return Err(Code::kIOError, "vdev grow: {} did not reopen at {} bytes", v->config.path, target);
    }
  }
  // Design notes 2b to 2d.
  TRY_STATUS(pool.PrepareGrow(name, *device));
  TRY_STATUS(SavePoolConfig(after));
  if (Status grown = db_->GrowVdev(name, device); !grown) {
    return Err(grown.error().WithContext(
        fmt::format("vdev grow: pool.conf gives vdev '{}' {} bytes", name, target)));
  }
  Log(LogLevel::kInfo, "vdev '{}' grown from {} to {}", name, FormatSize(current),
      FormatSize(target));
  for (VdevStatus& status : VdevStatuses()) {
    if (status.name == name) return std::move(status);
  }
  return Err(Code::kNotFound, "vdev grow: vdev '{}' is not listed", name);
}

}  // namespace tessera
