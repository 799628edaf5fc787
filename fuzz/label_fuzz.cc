// Fuzz target: the vdev label (core/pool/label.h). The input is the label
// block; it is decoded as it is and with its checksum recomputed. A label
// that decodes must encode back to a block that decodes to the same label.
#include <array>

#include "core/pool/label.h"
#include "core/pool/pool.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::array<std::byte, kBlockSize> block;
  fuzz::FillBlock({data, size}, block);
  (void)DecodeLabel(block);
  fuzz::SealBlock(block, kLabelChecksumOffset);
  auto label = DecodeLabel(block);
  if (!label) return 0;
  // A label that decodes describes a vdev the pool can lay out: its last
  // block lies past the reserved blocks at the start.
  FUZZ_CHECK(label->size_blocks >= kFirstUsableBlock + 2);
  std::array<std::byte, kBlockSize> again;
  EncodeLabel(*label, again);
  auto round = DecodeLabel(again);
  FUZZ_CHECK(round && *round == *label);
  return 0;
}
