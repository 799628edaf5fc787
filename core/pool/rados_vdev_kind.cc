// The `rados` vdev kind (rados_vdev_kind.h).
#include "core/pool/rados_vdev_kind.h"

#include "core/util/size.h"
#include "core/vdev/rados_vdev.h"

namespace tessera {
namespace {

constexpr std::string_view kScheme = "rados://";

std::string Attr(const VdevConfig& vc, const std::string& key, std::string fallback) {
  auto it = vc.attrs.find(key);
  return it == vc.attrs.end() ? std::move(fallback) : it->second;
}

Result<RadosVdevOptions> ParseOptions(const VdevConfig& vc) {
  auto uri = vc.attrs.find("uri");
  std::string_view rest =
      uri == vc.attrs.end() ? std::string_view() : std::string_view(uri->second);
  const size_t slash =
      rest.starts_with(kScheme) ? rest.find('/', kScheme.size()) : std::string_view::npos;
  if (slash == std::string_view::npos || slash == kScheme.size() || slash + 1 == rest.size()) {
    return Err(Code::kInvalidArgument, "{}: kind rados needs uri=rados://POOL/PREFIX",
               VdevDescription(vc));
  }
  if (vc.size_bytes == 0) {
    return Err(Code::kInvalidArgument,
               "{}: kind rados needs size=S (a RADOS pool has no size of its own)",
               VdevDescription(vc));
  }
  uint64_t object_size = 4ull << 20;
  if (auto it = vc.attrs.find("object_size"); it != vc.attrs.end()) {
    auto parsed = ParseSize(it->second);
    if (!parsed) return Err(parsed.error().WithContext(VdevDescription(vc) + ": object_size"));
    object_size = *parsed;
  }
  const auto timeout = TRY(VdevTimeout(vc));
  return RadosVdevOptions{.conf = Attr(vc, "conf", ""),
                          .client = Attr(vc, "client", "admin"),
                          .pool = std::string(rest.substr(kScheme.size(), slash - kScheme.size())),
                          .prefix = std::string(rest.substr(slash + 1)),
                          .size = BlockCount{vc.size_bytes / kBlockSize},
                          .object_size = object_size,
                          .timeout = timeout};
}

}  // namespace

Result<OpenedVdev> OpenRadosVdevKind(const VdevConfig& vc, const VdevOpenOptions& options) {
  const RadosVdevOptions rados = TRY(ParseOptions(vc));
  auto device = RadosVdev::Open(rados);
  if (!device) return RemoteVdevOpened(Err(device.error()), vc, options);
  return RemoteVdevOpened(std::unique_ptr<Vdev>(std::move(*device)), vc, options);
}

}  // namespace tessera
