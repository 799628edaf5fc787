// The `file` vdev kind (file_vdev_kind.h).
//
// Design notes
//  1. The io and preallocate values are checked here as well as by the
//     config parser, because a PoolConfig may be built in code.
//  2. Only a file this create made is removed by its undo: a block device,
//     or a file that was already there, is never the kind's to remove.
//  3. A file this create made has its directory synced at once, so a
//     pool.conf written after it never names a file a crash could lose.
#include "core/pool/file_vdev_kind.h"

#include <filesystem>

#include "core/util/atomic_file.h"
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

}  // namespace

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
