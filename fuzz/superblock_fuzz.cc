// Fuzz target: the superblock (core/db/superblock.h). The input is the
// superblock block; it is decoded as it is and with its checksum recomputed.
#include <array>

#include "core/db/superblock.h"
#include "core/util/units.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {
constexpr size_t kSuperblockSumOffset = kBlockSize - 8;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::array<std::byte, kBlockSize> block;
  fuzz::FillBlock({data, size}, block);
  (void)DecodeSuperblock(block);
  (void)SuperblockPoolUuid(block);
  fuzz::SealBlock(block, kSuperblockSumOffset);
  (void)SuperblockPoolUuid(block);
  auto sb = DecodeSuperblock(block);
  if (!sb) return 0;
  std::array<std::byte, kBlockSize> again;
  EncodeSuperblock(*sb, again);
  auto round = DecodeSuperblock(again);
  FUZZ_CHECK(round && round->txg == sb->txg && round->root.address == sb->root.address &&
             round->pool_uuid == sb->pool_uuid);
  return 0;
}
