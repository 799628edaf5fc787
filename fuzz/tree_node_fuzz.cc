// Fuzz target: tree node decoding (core/tree/codec.h).
//
// Input: a 32-byte node header followed by the node's uncompressed payload.
// The target fills in what a writer computes (payload sizes, the payload
// checksum, the zstd body when header byte 20 asks for compression, and the
// parent pointer's size and checksum), so mutations reach the structure
// checks. The raw input is decoded too, as stored bytes under a pointer
// that matches them. A node that decodes must encode to a node that decodes.
#include <string>
#include <vector>

#include <zstd.h>

#include "core/tree/codec.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {

BlockPtr PointerTo(std::span<const std::byte> stored, Compression compression) {
  BlockPtr ptr;
  ptr.address = 7;
  ptr.copy_address = 8;
  ptr.stored_bytes = static_cast<uint32_t>(stored.size());
  ptr.checksum = Checksum64(stored);
  ptr.compression = compression;
  return ptr;
}

void DecodeAndReencode(std::span<const std::byte> stored, Compression compression) {
  auto node = DecodeNode(PointerTo(stored, compression), stored, kAnyLevel);
  if (!node) return;
  Compression used;
  std::string again = EncodeNode(**node, compression == Compression::kZstd, &used);
  auto bytes = std::as_bytes(std::span(again));
  auto round = DecodeNode(PointerTo(bytes, used), bytes, (*node)->level);
  FUZZ_CHECK(round.has_value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  auto raw = std::as_bytes(std::span(data, size));
  auto raw_compression = size > 20 ? static_cast<Compression>(data[20]) : Compression::kNone;
  (void)DecodeNode(PointerTo(raw, raw_compression), raw, kAnyLevel);

  std::vector<std::byte> head(kNodeHeaderBytes);
  fuzz::FuzzInput in(data, size);
  fuzz::FillBlock(in.Take(kNodeHeaderBytes), head);
  std::span<const uint8_t> payload = in.Rest();
  bool zstd = (static_cast<uint8_t>(head[20]) & 1) != 0;
  std::string body(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (zstd && !payload.empty()) {
    std::string packed(ZSTD_compressBound(payload.size()), '\0');
    size_t n = ZSTD_compress(packed.data(), packed.size(), payload.data(), payload.size(), 1);
    if (ZSTD_isError(n)) return 0;
    packed.resize(n);
    body = std::move(packed);
  }
  Compression compression = zstd ? Compression::kZstd : Compression::kNone;
  head[20] = static_cast<std::byte>(compression);
  PutU32(head.data() + 12, static_cast<uint32_t>(payload.size()));
  PutU32(head.data() + 16, static_cast<uint32_t>(body.size()));
  PutU64(head.data() + 24, Checksum64(payload.data(), payload.size()));
  std::vector<std::byte> stored(head);
  auto b = std::as_bytes(std::span(body));
  stored.insert(stored.end(), b.begin(), b.end());
  DecodeAndReencode(stored, compression);
  return 0;
}
