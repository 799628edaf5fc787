// Data segment types (data_segment_types.h): the lun alone (simple and
// stripe:N) and the jerasure segment over a lun (rs:K+M, mirror:N).
#include "core/volume/data_segment_types.h"

#include <fmt/format.h>

#include "core/segment/jerasure_segment.h"

namespace tessera {
namespace {

Result<std::shared_ptr<DataSegment>> LunItself(std::shared_ptr<LunSegment> lun) { return lun; }

const DataSegmentType kLun{
    .type = SegmentType::kLun,
    .makes = [](const VolumeLayout& layout) { return layout.parity == 0; },
    .make = [](const VolumeLayout&, std::shared_ptr<LunSegment> lun, Pool*) { return LunItself(lun); },
    .open = [](const ExnodeSegment&, std::shared_ptr<LunSegment> lun, Pool*) { return LunItself(lun); },
    .describe = [](const ExnodeSegment&, const ExnodeSegment& lun) -> Result<std::string> {
      uint64_t devices = TRY(lun.GetU64("n_devices"));
      return devices == 1 ? std::string("simple") : fmt::format("stripe:{}", devices);
    },
    .parity = [](const ExnodeSegment&) -> Result<uint32_t> { return 0u; },
};

const DataSegmentType kJerasure{
    .type = SegmentType::kJerasure,
    .makes = [](const VolumeLayout& layout) { return layout.parity > 0; },
    .make = [](const VolumeLayout& layout, std::shared_ptr<LunSegment> lun,
               Pool* pool) -> Result<std::shared_ptr<DataSegment>> {
      JerasureOptions ec{.n_data_devs = layout.data, .n_parity_devs = layout.parity, .w = 8,
                         .method = ErasureMethod::kCauchyGood};
      return std::shared_ptr<DataSegment>(TRY(JerasureSegment::Create(RandomId63(), ec, std::move(lun), pool)));
    },
    .open = [](const ExnodeSegment& section, std::shared_ptr<LunSegment> lun,
               Pool* pool) -> Result<std::shared_ptr<DataSegment>> {
      return std::shared_ptr<DataSegment>(TRY(JerasureSegment::FromExnode(section, std::move(lun), pool)));
    },
    .describe = [](const ExnodeSegment& section, const ExnodeSegment&) -> Result<std::string> {
      uint64_t k = TRY(section.GetU64("n_data_devs"));
      uint64_t m = TRY(section.GetU64("n_parity_devs"));
      return k == 1 ? fmt::format("mirror:{}", m + 1) : fmt::format("rs:{}+{}", k, m);
    },
    .parity = [](const ExnodeSegment& section) -> Result<uint32_t> {
      return static_cast<uint32_t>(TRY(section.GetU64("n_parity_devs")));
    },
};

constexpr const DataSegmentType* kTypes[] = {&kLun, &kJerasure};

}  // namespace

Result<DataSections> FindDataSections(const Exnode& exnode, const std::string& volume) {
  DataSections found;
  for (const ExnodeSegment& s : exnode.segments) {
    if (s.type == SegmentType::kLog) found.log = &s;
  }
  if (found.log == nullptr) return Err(Code::kCorruption, "exNode of volume '{}' has no log segment", volume);
  uint64_t data_id = TRY(found.log->GetU64("data"));
  found.data = exnode.FindSegment(data_id);
  if (found.data == nullptr) {
    return Err(Code::kCorruption, "exNode of volume '{}': the log's data segment {} is missing", volume, data_id);
  }
  for (const DataSegmentType* type : kTypes) {
    if (type->type == found.data->type) found.type = type;
  }
  if (found.type == nullptr) {
    return Err(Code::kCorruption, "exNode of volume '{}': the log's data segment {} is a {}, not a data segment",
               volume, data_id, SegmentTypeName(found.data->type));
  }
  found.lun = found.type == &kLun ? found.data : exnode.FindSegment(TRY(found.data->GetU64("segment")));
  if (found.lun == nullptr || found.lun->type != SegmentType::kLun) {
    return Err(Code::kCorruption, "exNode of volume '{}': data segment {} is not over a lun", volume, data_id);
  }
  return found;
}

Result<std::shared_ptr<DataSegment>> OpenDataSegment(const Exnode& exnode, const DataSections& sections, Pool* pool,
                                                     LunBlockSource* source) {
  auto lun = std::shared_ptr<LunSegment>(TRY(LunSegment::FromExnode(exnode, *sections.lun, pool, source)));
  return sections.type->open(*sections.data, std::move(lun), pool);
}

Result<std::shared_ptr<DataSegment>> MakeDataSegment(const VolumeLayout& layout, const LunOptions& lun_options,
                                                     Pool* pool, LunBlockSource* source) {
  for (const DataSegmentType* type : kTypes) {
    if (!type->makes(layout)) continue;
    return type->make(layout, std::make_shared<LunSegment>(RandomId63(), lun_options, pool, source), pool);
  }
  return Err(Code::kInvalidArgument, "no data segment type makes a layout of {} devices with {} parity",
             layout.devices, layout.parity);
}

}  // namespace tessera
