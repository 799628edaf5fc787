// Storage: adding a vdev to the pool (vdev add), open or in use
// (PoolApi::AddVdev).
//
// Design notes
//  1. Everything that can refuse runs before anything is made: the spec
//     (name, path, size, tier, attributes, kind), the pool (name, path,
//     tier room: Pool::CheckNewVdev), the file system (the path is new or
//     an empty regular file; its directory exists) and pool.conf (its new
//     text reads back). A refusal changes nothing.
//  2. Order, for crash safety (pool_api.h, AddVdev):
//       a. the file is created (its directory synced by the file kind),
//          labelled as the next vdev of its tier and flushed
//          (Pool::PrepareVdev);
//       b. pool.conf is rewritten atomically with the new section last, so
//          the vdev's index in its tier is the one its label holds;
//       c. the database takes it (Database::AddVdev: pool, allocator,
//          metadata copies, one commit).
//     A crash before b leaves pool.conf without the vdev: the pool opens
//     as before and the file stays behind. A crash after b leaves pool.conf
//     naming a labelled vdev that no commit references, or one that the
//     commit of c made part of the pool: it opens with the vdev either
//     way. A failure in a or b removes the file again.
//  3. A leftover file of a crash before b is not taken silently: it is
//     refused, and the message says that it carries this pool's label but
//     is named by no pool.conf section, so the admin removes it and runs
//     the add again. An empty file is taken over: it may be one a crash
//     left between the create and the resize, or one the admin made.
//  4. The add holds work_mu_ (no long work sees the pool's shape change)
//     and mu_; volume I/O goes on throughout: Pool::AddVdev publishes the
//     vdev to concurrent readers only once it is whole (pool.h contract 5).
//  5. A block device (or a symbolic link to one) is taken as it is, whole:
//     the file kind opens it O_EXCL and refuses it, unless spec.force, when
//     it holds a filesystem, a partition table or a Tessera label, or when
//     spec.size is not its size (0 takes its size: FileVdevSize;
//     core/pool/file_vdev_kind.h contract 3). It
//     is never removed: a failure after its labels were written clears
//     them again (ClearLabels) and leaves the rest of it as it was.
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "core/pool/config.h"
#include "core/pool/device_contents.h"
#include "core/pool/file_vdev_kind.h"
#include "core/pool/label.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/aligned_buffer.h"
#include "core/util/log.h"
#include "core/util/size.h"
#include "core/vdev/file_vdev.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

Status CheckAttrs(const std::map<std::string, std::string>& attrs) {
  for (const auto& [key, value] : attrs) {
    if (key == "path" || key == "size" || key == "tier" || key == "name" || key == "state") {
      return Err(Code::kInvalidArgument, "vdev add: '{}' is not an attribute (give it as itself)",
                 key);
    }
    if (key.empty() || !std::all_of(key.begin(), key.end(), IsConfigNameChar)) {
      return Err(Code::kInvalidArgument,
                 "vdev add: bad attribute key '{}' (letters, digits, '.', '_', '-')", key);
    }
    if (!IsSafeConfigValue(value)) {
      return Err(Code::kInvalidArgument,
                 "vdev add: value of '{}' is empty or has a character out of place in pool.conf "
                 "(; # [ ] , or a control character)",
                 key);
    }
  }
  auto io = attrs.find("io");
  if (io != attrs.end() && io->second != "read-cache" && io->second != "direct" &&
      io->second != "buffered") {
    return Err(Code::kInvalidArgument, "vdev add: io = '{}': use read-cache, direct or buffered",
               io->second);
  }
  auto pre = attrs.find("preallocate");
  if (pre != attrs.end() && pre->second != "sparse" && pre->second != "full") {
    return Err(Code::kInvalidArgument, "vdev add: preallocate = '{}': use sparse or full",
               pre->second);
  }
  return Ok();
}

// Why an existing, non-empty file at `path` is not taken (design note 3).
Error ExistingFileError(const std::string& path, const Pool& pool) {
  std::string why = "it is not empty";
  auto device =
      FileVdev::Open(path, {.use_direct = false, .cache_reads = false, .use_io_uring = false});
  if (device && (*device)->Size().value > 0) {
    AlignedBuffer block(kBlockSize);
    if ((*device)->Read(BlockNo{0}, block.span())) {
      if (auto label = DecodeLabel(block.span())) {
        if (label->pool_uuid == pool.uuid()) {
          for (const PoolVdev& v : pool.vdevs()) {
            if (v.label.vdev_guid == label->vdev_guid) {
              return Error(
                  Code::kInvalidArgument,
                  fmt::format("vdev add: {} holds the label of this pool's vdev '{}' (a copy "
                              "of its file?); refusing to overwrite it (give a new path)",
                              path, v.config.name));
            }
          }
          return Error(
              Code::kInvalidArgument,
              fmt::format(
                  "vdev add: {} holds this pool's label for a vdev '{}' (tier {}, index {}) that "
                  "pool.conf does not name: an earlier vdev add stopped before it wrote pool.conf. "
                  "The pool does not use that file: remove it and run vdev add again",
                  path, label->name, TierName(label->tier), label->index));
        }
        why = fmt::format("it is vdev '{}' of another pool ({})", label->name,
                          UuidToString(label->pool_uuid));
      }
    }
  }
  return Error(
      Code::kInvalidArgument,
      fmt::format("vdev add: {} already exists and {}; refusing to overwrite it (give a new path)",
                  path, why));
}

}  // namespace

Result<VdevConfig> Storage::Impl::NewVdevConfigLocked(const VdevSpec& spec) {
  const Pool& pool = db_->pool();
  VdevConfig vc{
      .name = spec.name, .size_bytes = spec.size / kBlockSize * kBlockSize, .attrs = spec.attrs};
  if (vc.name.empty()) {  // vdevK, K from the vdev count up
    for (size_t k = pool.vdevs().size();; k++) {
      vc.name = fmt::format("vdev{}", k);
      if (pool.FindByName(vc.name) == nullptr) break;
    }
  }
  if (vc.name.size() >= kLabelNameBytes ||
      !std::all_of(vc.name.begin(), vc.name.end(), IsConfigNameChar)) {
    return Err(
        Code::kInvalidArgument,
        "vdev add: name '{}' may use only letters, digits, '.', '_' and '-', at most {} of them",
        vc.name, kLabelNameBytes - 1);
  }
  auto tier = ParseTier(spec.tier);
  if (!tier) {
    return Err(Code::kInvalidArgument,
               "vdev add: unknown tier '{}'; expected fastest, fast, slow or slowest", spec.tier);
  }
  vc.tier = *tier;
  if (spec.path.empty() || !IsSafeConfigValue(spec.path)) {
    return Err(Code::kInvalidArgument,
               "vdev add: the path is empty or has a character pool.conf cannot hold");
  }
  fs::path p(spec.path);
  vc.path = (p.is_relative() ? fs::path(dir_) / p : p).lexically_normal().string();
  TRY_STATUS(CheckAttrs(vc.attrs));
  if (spec.size == 0 && VdevKind(vc) == kDefaultVdevKind) {  // a block device's own size (design note 5)
    auto size = FileVdevSize(vc);
    if (!size) return Err(size.error().WithContext("vdev add"));
    vc.size_bytes = *size;
  }
  if (vc.size_bytes < kMinVdevBytes) {
    return Err(Code::kInvalidArgument, "vdev add: size {} is below the minimum {}", vc.size_bytes,
               FormatSize(kMinVdevBytes));
  }
  auto kinds = KnownVdevKinds();
  if (std::find(kinds.begin(), kinds.end(), VdevKind(vc)) == kinds.end()) {
    return Err(Code::kInvalidArgument, "vdev add: unknown kind '{}' (known kinds: {})",
               VdevKind(vc), fmt::join(kinds, ", "));
  }
  if (VdevKind(vc) != kDefaultVdevKind) {
    return Err(Code::kInvalidArgument, "vdev add: only file vdevs are added so far, not kind '{}'", VdevKind(vc));
  }
  vc.index = static_cast<uint32_t>(
      std::count_if(pool.vdevs().begin(), pool.vdevs().end(),
                    [&](const PoolVdev& v) { return v.config.tier == vc.tier; }));
  if (Status fits = pool.CheckNewVdev(vc); !fits) return Err(fits.error().WithContext("vdev add"));
  // The file system (design note 1); a block device is the file kind's to
  // judge when it opens it (design note 5).
  struct stat st {};
  if (::stat(vc.path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
    // Used whole: what it holds and its size are checked by the opener.
  } else if (::lstat(vc.path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return Err(Code::kInvalidArgument,
                 "vdev add: {} exists and is neither a regular file nor a block device; give a path "
                 "for a new file",
                 vc.path);
    }
    if (st.st_size != 0) return Err(ExistingFileError(vc.path, pool));
  } else {
    std::error_code ec;
    fs::path parent = fs::path(vc.path).parent_path();
    if (!fs::is_directory(parent, ec)) {
      return Err(Code::kInvalidArgument, "vdev add: the directory {} does not exist",
                 parent.string());
    }
  }
  PoolConfig after = pool.config();
  after.vdevs.push_back(vc);
  if (Status reads = CheckConfigReadsBack(after); !reads) {
    return Err(Code::kInvalidArgument, "vdev add: {}", reads.error().message());
  }
  return vc;
}

Result<VdevStatus> Storage::Impl::AddVdev(const VdevSpec& spec) {
  std::lock_guard work(work_mu_);  // design note 4
  std::lock_guard lock(mu_);
  Pool& pool = db_->pool();
  const VdevConfig vc = TRY(NewVdevConfigLocked(spec));
  std::error_code ec;
  const bool block_device = fs::is_block_file(vc.path, ec);
  if (!block_device && fs::exists(vc.path, ec)) fs::remove(vc.path, ec);  // an empty file (design note 3)
  // Design note 2a.
  PoolConfig one{.name = pool.config().name, .vdevs = {vc}};
  StorageOptions options = options_;
  options.force_devices = spec.force;
  auto created = OpenPoolDevices(options, one, true);
  if (!created) return Err(created.error().WithContext("vdev add"));
  std::shared_ptr<Vdev> device = created->at(0);
  auto undo = [&](const Error& error) -> Error {
    if (block_device) {  // design note 5
      ClearLabels(*device);
      device.reset();
      created->clear();
      return error.WithContext(fmt::format("vdev add: the labels written to {} were cleared again", vc.path));
    }
    device.reset();
    created->clear();
    fs::remove(vc.path, ec);
    return error.WithContext(fmt::format("vdev add: {} was removed again", vc.path));
  };
  if (Status labelled = pool.PrepareVdev(vc, *device); !labelled)
    return Err(undo(labelled.error()));
  // Design note 2b.
  PoolConfig after = pool.config();
  after.vdevs.push_back(vc);
  if (Status saved = SavePoolConfig(after); !saved) return Err(undo(saved.error()));
  // Design note 2c.
  if (Status added = db_->AddVdev(vc, device); !added) {
    return Err(added.error().WithContext(fmt::format(
        "vdev add: pool.conf names vdev '{}', and the pool uses it once it is opened again",
        vc.name)));
  }
  Log(LogLevel::kInfo, "vdev '{}' added: {} in tier {}, {}", vc.name, vc.path, TierName(vc.tier),
      FormatSize(vc.size_bytes));
  for (VdevStatus& status : VdevStatuses()) {
    if (status.name == vc.name) return std::move(status);
  }
  return Err(Code::kNotFound, "vdev add: vdev '{}' was added but is not listed", vc.name);
}

}  // namespace tessera
