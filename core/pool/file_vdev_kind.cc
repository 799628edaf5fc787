// The `file` vdev kind (file_vdev_kind.h).
//
// Design notes
//  1. The io and preallocate values are checked here as well as by the
//     config parser, because a PoolConfig may be built in code.
//  2. Only a file this create made is removed by its undo: a block device,
//     or a file that was already there, is never the kind's to remove.
//  3. A file this create made has its directory synced at once, so a
//     pool.conf written after it never names a file a crash could lose.
//  4. A block device is used whole, as it is (file_vdev_kind.h contract 3):
//     the size check and the look at what it holds come after FileVdev
//     opened it O_EXCL, so that no mount or other pool takes it between the
//     look and the labels the create then writes.
#include "core/pool/file_vdev_kind.h"

#include <fmt/ranges.h>

#include <filesystem>

#include "core/pool/device_contents.h"
#include "core/util/atomic_file.h"
#include "core/util/size.h"
#include "core/vdev/file_vdev.h"

namespace tessera {
namespace {

// A vdev's `io` attribute: `read-cache` (the default: O_DIRECT writes,
// reads through the kernel's page cache), `direct` (O_DIRECT both ways) or
// `buffered` (the page cache both ways; fdatasync on Flush).
struct IoMode {
  bool direct = true;
  bool cache_reads = true;
};

Result<IoMode> ParseIoMode(const VdevConfig& vc) {
  auto it = vc.attrs.find("io");
  if (it == vc.attrs.end() || it->second == "read-cache") return IoMode{};
  if (it->second == "direct") return IoMode{.cache_reads = false};
  if (it->second == "buffered") return IoMode{.direct = false, .cache_reads = false};
  return Err(Code::kInvalidArgument, "{}: io = '{}' is not read-cache, direct or buffered",
             VdevDescription(vc), it->second);
}

// A vdev's `preallocate` attribute: `sparse` (the default: the file grows
// as it is written) or `full` (zeros written over all of it at creation).
Result<bool> Preallocate(const VdevConfig& vc) {
  auto it = vc.attrs.find("preallocate");
  if (it == vc.attrs.end() || it->second == "sparse") return false;
  if (it->second == "full") return true;
  return Err(Code::kInvalidArgument, "{}: preallocate = '{}' is neither sparse nor full",
             VdevDescription(vc), it->second);
}

// Design note 4: what a create checks of a block device it is given.
Status CheckNewBlockDevice(const VdevConfig& vc, const VdevOpenOptions& options, Vdev& device) {
  const uint64_t bytes = device.Size().bytes();
  if (vc.size_bytes != 0 && vc.size_bytes / kBlockSize != device.Size().value) {
    return Err(Code::kInvalidArgument,
               "{}: size {} differs from the block device's {} ({} bytes); a block device is used whole: "
               "leave size= out",
               VdevDescription(vc), FormatSize(vc.size_bytes), FormatSize(bytes), bytes);
  }
  if (options.force) return Ok();
  std::vector<std::string> held = TRY(DeviceContents(device, vc.path));
  if (held.empty()) return Ok();
  return Err(Code::kInvalidArgument, "{} holds {}; refusing to overwrite it (--force uses it anyway)",
             VdevDescription(vc), fmt::join(held, " and "));
}

}  // namespace

Result<uint64_t> FileVdevSize(const VdevConfig& vc) {
  if (vc.size_bytes != 0) return vc.size_bytes;
  auto bytes = BlockDeviceBytes(vc.path);
  if (bytes) return *bytes;
  if (bytes.error().code() == Code::kInvalidArgument || bytes.error().code() == Code::kNotFound) {
    return Err(Code::kInvalidArgument, "{}: size= is required (only a block device's may be left out: it is the device's)",
               VdevDescription(vc));
  }
  return Err(bytes.error().WithContext(VdevDescription(vc)));
}

Result<OpenedVdev> OpenFileVdevKind(const VdevConfig& vc, const VdevOpenOptions& options) {
  std::error_code ec;
  bool exists = std::filesystem::exists(vc.path, ec);
  bool block_device = exists && std::filesystem::is_block_file(vc.path, ec);
  if (options.create && exists && !block_device) {
    return Err(Code::kInvalidArgument, "{} already exists; refusing to overwrite it", VdevDescription(vc));
  }
  if (!options.create && !exists) return Err(Code::kNotFound, "{} is missing", VdevDescription(vc));
  IoMode mode = TRY(ParseIoMode(vc));
  FileVdevOptions file{.create = options.create && !block_device,
                       .create_size = BlockCount{vc.size_bytes / kBlockSize},
                       .preallocate = TRY(Preallocate(vc)),
                       .use_direct = options.allow_direct && mode.direct,
                       .cache_reads = mode.cache_reads,
                       .use_io_uring = options.use_io_uring};
  auto device = FileVdev::Open(vc.path, file);
  if (!device) return Err(device.error().WithContext(VdevDescription(vc)));
  if (options.create && block_device) {
    if (Status usable = CheckNewBlockDevice(vc, options, **device); !usable) return Err(usable.error());
  }
  OpenedVdev opened{.device = std::move(*device)};
  if (file.create) {
    if (Status synced = SyncDirectoryOf(vc.path); !synced) {  // design note 3
      opened.device.reset();
      std::error_code ignored;
      std::filesystem::remove(vc.path, ignored);
      return Err(synced.error().WithContext(VdevDescription(vc)));
    }
    opened.undo_create = [path = vc.path] {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
    };
  }
  return opened;
}

}  // namespace tessera
