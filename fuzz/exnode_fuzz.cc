// Fuzz target: exNode text (core/exnode/exnode.h) and the lun and jerasure
// segments built from it (LunSegment::FromExnode, JerasureSegment::FromExnode)
// over a pool of memory vdevs (fuzz_pool.h), and the cache options
// (CacheSegment::OptionsFromExnode).
//
// Checks: contract 3 of exnode.h (parse, serialize and parse again give the
// same model and the canonical text is a fixed point); a segment that builds
// serializes back to an exNode section that builds again with the same
// geometry; reading its first block does not crash.
#include <memory>

#include "core/exnode/exnode.h"
#include "core/segment/cache_segment.h"
#include "core/segment/memory_segment.h"
#include "core/segment/jerasure_segment.h"
#include "core/segment/lun_segment.h"
#include "fuzz/fuzz_pool.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {

void ReadFirstBlock(Segment& seg) {
  uint64_t n = std::min<uint64_t>(seg.Size(), seg.BlockSize());
  if (n == 0 || seg.BlockSize() > (4u << 20)) return;
  std::vector<std::byte> buf(n);
  (void)seg.Read(0, buf);
}

void BuildSegments(const Exnode& exnode) {
  Pool* pool = fuzz::FuzzPool();
  fuzz::FuzzBlockSource source;
  for (const ExnodeSegment& section : exnode.segments) {
    if (section.type == SegmentType::kLun) {
      auto lun = LunSegment::FromExnode(exnode, section, pool, &source);
      if (!lun) continue;
      FUZZ_CHECK((*lun)->row_bytes() > 0);
      Exnode again;
      FUZZ_CHECK((*lun)->Serialize(again));
      FUZZ_CHECK(again.segments.size() == 1);
      auto rebuilt = LunSegment::FromExnode(again, again.segments[0], pool, &source);
      FUZZ_CHECK(rebuilt && (*rebuilt)->Size() == (*lun)->Size());
      ReadFirstBlock(**lun);
    } else if (section.type == SegmentType::kCache) {
      auto options = CacheSegment::OptionsFromExnode(section, CacheOptions{.capacity_bytes = 1u << 20,
                                                                           .dirty_max_bytes = 1u << 19});
      if (!options || options->page_size > (1u << 20)) continue;
      auto cache = CacheSegment::Create(section.id, std::make_shared<MemorySegment>(9, 1u << 20), *options);
      if (cache) ReadFirstBlock(**cache);
    } else if (section.type == SegmentType::kJerasure) {
      auto lun_id = section.GetU64("segment");
      const ExnodeSegment* lun_section = lun_id ? exnode.FindSegment(*lun_id) : nullptr;
      if (lun_section == nullptr || lun_section->type != SegmentType::kLun) continue;
      auto lun = LunSegment::FromExnode(exnode, *lun_section, pool, &source);
      if (!lun) continue;
      auto seg = JerasureSegment::FromExnode(section, std::shared_ptr<LunSegment>(std::move(*lun)), pool);
      if (!seg) continue;
      FUZZ_CHECK((*seg)->row_bytes() > 0 && (*seg)->BlockSize() > 0);
      ReadFirstBlock(**seg);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return 0;
  auto exnode = ParseExnode(fuzz::AsText({data, size}));
  if (!exnode) return 0;
  auto text = SerializeExnode(*exnode);
  FUZZ_CHECK(text.has_value());
  auto again = ParseExnode(*text);
  FUZZ_CHECK(again && *again == *exnode);
  auto text2 = SerializeExnode(*again);
  FUZZ_CHECK(text2 && *text2 == *text);
  BuildSegments(*exnode);
  return 0;
}
