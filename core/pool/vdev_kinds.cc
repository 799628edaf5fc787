// The vdev kind registry and the loop that opens a config's vdevs
// (vdev_kinds.h).
//
// Design notes
//  1. The built-in kinds are listed in one table here, not registered by
//     static objects in their own files: a static library drops an object
//     file nothing refers to, and its registration with it. Adding a kind is
//     its opener's file and one line in the table.
//  2. The loop knows nothing of files: offline and removed are the
//     config's answer, missing is the opener's (NotFound), and undoing a
//     create is whatever the opener handed back.
#include "core/pool/vdev_kinds.h"

#include <fmt/ranges.h>

#include <charconv>
#include <map>
#include <mutex>

#include "core/pool/file_vdev_kind.h"
#include "core/pool/label.h"
#include "core/pool/nbd_vdev_kind.h"
#include "core/pool/rados_vdev_kind.h"
#include "core/util/aligned_buffer.h"
#include "core/util/uuid.h"

namespace tessera {
namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, VdevOpener> openers;  // GUARDED_BY(mu)
};

Registry& TheRegistry() {
  static Registry* registry = new Registry{.openers = {
                                               {"file", OpenFileVdevKind},
                                               {kNbdVdevKind, OpenNbdVdevKind},
                                               {kRadosVdevKind, OpenRadosVdevKind},
                                           }};
  return *registry;
}

Result<VdevOpener> FindOpener(const VdevConfig& vdev) {
  Registry& registry = TheRegistry();
  std::string kind = VdevKind(vdev);
  {
    std::lock_guard lock(registry.mu);
    auto it = registry.openers.find(kind);
    if (it != registry.openers.end()) return it->second;
  }
  return Err(Code::kInvalidArgument, "{}: unknown kind '{}' (known kinds: {})", VdevDescription(vdev), kind,
             fmt::join(KnownVdevKinds(), ", "));
}

Status RefuseLabelled(Vdev& device, const VdevConfig& vc) {
  AlignedBuffer block(kBlockSize);
  for (uint64_t where : {uint64_t{0}, device.Size().value - 1}) {
    Status read = device.Read(BlockNo{where}, block.span());
    if (!read) return Err(read.error().WithContext(VdevDescription(vc)));
    auto label = DecodeLabel(block.span());
    if (label) {
      return Err(Code::kInvalidArgument,
                 "{} already holds the label of vdev '{}' of pool {}; refusing to overwrite it (clear the "
                 "device's first and last 4 KiB to reuse it)",
                 VdevDescription(vc), label->name, UuidToString(label->pool_uuid));
    }
  }
  return Ok();
}

}  // namespace

std::string VdevKind(const VdevConfig& vdev) {
  auto it = vdev.attrs.find("kind");
  return it == vdev.attrs.end() ? kDefaultVdevKind : it->second;
}

std::vector<std::string> KnownVdevKinds() {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  std::vector<std::string> kinds;
  for (const auto& [kind, opener] : registry.openers) kinds.push_back(kind);
  return kinds;
}

Status RegisterVdevKind(const std::string& kind, VdevOpener opener) {
  Registry& registry = TheRegistry();
  std::lock_guard lock(registry.mu);
  if (kind.empty() || !opener) return Err(Code::kInvalidArgument, "a vdev kind needs a name and an opener");
  if (!registry.openers.emplace(kind, std::move(opener)).second) {
    return Err(Code::kInvalidArgument, "vdev kind '{}' is already registered", kind);
  }
  return Ok();
}

Result<std::vector<std::shared_ptr<Vdev>>> OpenVdevs(const PoolConfig& config, const VdevOpenOptions& options) {
  std::vector<VdevOpener> openers;
  for (const auto& vc : config.vdevs) openers.push_back(TRY(FindOpener(vc)));  // contract 2
  const bool missing_ok = options.allow_missing && !options.create;
  VdevOpenOptions per_vdev = options;
  per_vdev.allow_missing = false;
  std::vector<std::shared_ptr<Vdev>> devices;
  std::vector<std::function<void()>> undos;
  for (size_t i = 0; i < config.vdevs.size(); i++) {
    const VdevConfig& vc = config.vdevs[i];
    if (vc.removed || (missing_ok && vc.offline)) {
      devices.push_back(nullptr);
      continue;
    }
    auto opened = openers[i](vc, per_vdev);
    if (!opened && missing_ok && opened.error().code() == Code::kNotFound) {
      devices.push_back(nullptr);
      continue;
    }
    if (!opened) {
      devices.clear();  // contract 4: closed before their undos run
      for (auto undo = undos.rbegin(); undo != undos.rend(); ++undo) (*undo)();
      return Err(opened.error());
    }
    if (opened->undo_create) undos.push_back(std::move(opened->undo_create));
    devices.push_back(std::move(opened->device));
  }
  return devices;
}

Result<std::chrono::milliseconds> VdevTimeout(const VdevConfig& vc) {
  auto it = vc.attrs.find("timeout");
  if (it == vc.attrs.end()) return std::chrono::milliseconds{10000};
  std::string_view text = it->second;
  uint64_t scale = 1000;
  if (text.ends_with("ms")) {
    text.remove_suffix(2);
    scale = 1;
  } else if (text.ends_with("s")) {
    text.remove_suffix(1);
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 3600'000 / scale) {
    return Err(Code::kInvalidArgument, "{}: timeout = '{}' is not 1 to 3600 seconds (or N ms)",
               VdevDescription(vc), it->second);
  }
  return std::chrono::milliseconds{value * scale};
}

Result<OpenedVdev> RemoteVdevOpened(Result<std::unique_ptr<Vdev>> device, const VdevConfig& vc,
                                    const VdevOpenOptions& options) {
  if (!device) {
    const Error& e = device.error();
    if (e.code() == Code::kNotFound) {
      return Err(Code::kNotFound, "{} is unreachable: {}", VdevDescription(vc), e.message());
    }
    return Err(e.WithContext(VdevDescription(vc)));
  }
  if (options.create) TRY_STATUS(RefuseLabelled(**device, vc));
  return OpenedVdev{.device = std::move(*device)};
}

}  // namespace tessera
