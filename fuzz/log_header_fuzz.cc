// Fuzz target: the log batch header (core/segment/log_format.h) and the
// small tree values of the log (mapping, head). The input is the header
// block; it is decoded as it is and with its checksum recomputed.
#include <array>

#include "core/segment/log_format.h"
#include "core/util/units.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::array<std::byte, kBlockSize> block;
  fuzz::FillBlock({data, size}, block);
  (void)DecodeLogHeader(block);
  fuzz::SealBlock(block, 4088);
  if (auto h = DecodeLogHeader(block)) {
    FUZZ_CHECK(h->entries.size() <= kLogMaxEntries);
    std::array<std::byte, kBlockSize> again;
    EncodeLogHeader(*h, again);
    auto round = DecodeLogHeader(again);
    FUZZ_CHECK(round && round->seq == h->seq && round->entries.size() == h->entries.size());
  }
  std::string_view text = fuzz::AsText({data, std::min<size_t>(size, 32)});
  (void)DecodeMapping(text);
  (void)DecodeLogHead(text);
  (void)MappingKeyLba(text);
  return 0;
}
