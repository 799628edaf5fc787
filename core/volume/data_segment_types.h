// Data segment types: what a volume's log writes its batches to, chosen by
// the volume's layout when it is made and by the exNode when it is opened.
// The one place that knows which segment types exist below a log; volume
// creation, opening, listing, space and repair go through it.
//
// Contract
//  1. Every volume's rows are one lun's (LunSegment). A data segment type
//     is the lun itself or a segment over it whose exNode section names the
//     lun under `segment` (as the jerasure segment does).
//  2. Exactly one registered type makes each layout (Makes); a layout no
//     type makes is InvalidArgument.
//  3. Open rebuilds the segment from its exNode section over the lun
//     already opened; Make builds a new volume's over a new lun. Neither
//     allocates rows (the caller grows the result).
//  4. Describe names an existing volume's layout in ParseVolumeLayout's
//     words (simple, stripe:N, rs:K+M) and Parity gives its M, from the
//     exNode alone, without opening anything.
//
// Adding a type: its segment's files, one entry in kTypes
// (data_segment_types.cc), and its layout's words in layout.cc.
#pragma once

#include <memory>
#include <string>

#include "core/exnode/exnode.h"
#include "core/segment/lun_segment.h"
#include "core/volume/layout.h"

namespace tessera {

struct DataSegmentType {
  SegmentType type;
  bool (*makes)(const VolumeLayout& layout);
  Result<std::shared_ptr<DataSegment>> (*make)(const VolumeLayout& layout, std::shared_ptr<LunSegment> lun,
                                               Pool* pool);
  Result<std::shared_ptr<DataSegment>> (*open)(const ExnodeSegment& section, std::shared_ptr<LunSegment> lun,
                                               Pool* pool);
  Result<std::string> (*describe)(const ExnodeSegment& section, const ExnodeSegment& lun);
  Result<uint32_t> (*parity)(const ExnodeSegment& section);
};

// A volume's stack in its exNode: its log section, the log's `data`
// section, that one's type, and the lun section below it (the same section
// for a lun).
struct DataSections {
  const ExnodeSegment* log = nullptr;
  const ExnodeSegment* data = nullptr;
  const ExnodeSegment* lun = nullptr;
  const DataSegmentType* type = nullptr;
};

// Corruption naming `volume` when the log, its data segment or the lun is
// missing, or the data segment is of no registered type.
Result<DataSections> FindDataSections(const Exnode& exnode, const std::string& volume);

// Contract 3. `source` allocates the lun's rows (null: the lun cannot grow).
Result<std::shared_ptr<DataSegment>> OpenDataSegment(const Exnode& exnode, const DataSections& sections, Pool* pool,
                                                     LunBlockSource* source);
Result<std::shared_ptr<DataSegment>> MakeDataSegment(const VolumeLayout& layout, const LunOptions& lun_options,
                                                     Pool* pool, LunBlockSource* source);

}  // namespace tessera
