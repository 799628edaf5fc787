// The `nbd` vdev kind (nbd_vdev_kind.h).
#include "core/pool/nbd_vdev_kind.h"

#include "core/vdev/nbd_vdev.h"

namespace tessera {

Result<OpenedVdev> OpenNbdVdevKind(const VdevConfig& vc, const VdevOpenOptions& options) {
  auto uri = vc.attrs.find("uri");
  if (uri == vc.attrs.end()) {
    return Err(Code::kInvalidArgument, "{}: kind nbd needs a uri attribute", VdevDescription(vc));
  }
  // Parsed first: a TRY that returns from inside the aggregate below would
  // leak the members built before it (g++ 12; seen under LeakSanitizer).
  const auto timeout = TRY(VdevTimeout(vc));
  NbdVdevOptions nbd{.uri = uri->second,
                     .timeout = timeout,
                     .size = BlockCount{vc.size_bytes / kBlockSize},
                     .min_bytes = kMinVdevBytes};
  auto device = NbdVdev::Open(nbd);
  if (!device) return RemoteVdevOpened(Err(device.error()), vc, options);
  return RemoteVdevOpened(std::unique_ptr<Vdev>(std::move(*device)), vc, options);
}

}  // namespace tessera
