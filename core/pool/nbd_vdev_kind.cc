// The `nbd` vdev kind (nbd_vdev_kind.h).
//
// Design notes
//  1. The label check of create reads both ends of the vdev as it will be
//     labelled (Pool::Create writes block 0 and the last block): a label
//     that verifies at either means the export is or was a vdev of a pool.
//     A damaged label (magic present, checksum bad) is not refused: it
//     cannot be told from data.
#include "core/pool/nbd_vdev_kind.h"

#include <charconv>

#include "core/pool/label.h"
#include "core/util/aligned_buffer.h"
#include "core/util/uuid.h"
#include "core/vdev/nbd_vdev.h"

namespace tessera {
namespace {

Result<std::chrono::milliseconds> ParseTimeout(const VdevConfig& vc) {
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

Status RefuseLabelled(NbdVdev& device, const VdevConfig& vc) {
  AlignedBuffer block(kBlockSize);
  for (uint64_t where : {uint64_t{0}, device.Size().value - 1}) {
    Status read = device.Read(BlockNo{where}, block.span());
    if (!read) return Err(read.error().WithContext(VdevDescription(vc)));
    auto label = DecodeLabel(block.span());
    if (label) {
      return Err(Code::kInvalidArgument,
                 "{} already holds the label of vdev '{}' of pool {}; refusing to overwrite it (clear the "
                 "export's first and last 4 KiB to reuse it)",
                 VdevDescription(vc), label->name, UuidToString(label->pool_uuid));
    }
  }
  return Ok();
}

}  // namespace

Result<OpenedVdev> OpenNbdVdevKind(const VdevConfig& vc, const VdevOpenOptions& options) {
  auto uri = vc.attrs.find("uri");
  if (uri == vc.attrs.end()) {
    return Err(Code::kInvalidArgument, "{}: kind nbd needs a uri attribute", VdevDescription(vc));
  }
  // Parsed first: a TRY that returns from inside the aggregate below would
  // leak the members built before it (g++ 12; seen under LeakSanitizer).
  const auto timeout = TRY(ParseTimeout(vc));
  NbdVdevOptions nbd{.uri = uri->second,
                     .timeout = timeout,
                     .size = BlockCount{vc.size_bytes / kBlockSize},
                     .min_bytes = kMinVdevBytes};
  auto device = NbdVdev::Open(nbd);
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
