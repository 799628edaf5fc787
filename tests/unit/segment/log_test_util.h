// Support shared by the log segment's tests.
#pragma once

#include <string>
#include <vector>

#include "core/segment/lun_segment.h"

namespace tessera::testing {

// Rows of a lun over the single vdev "v0" (fastest tier, index 0), handed out
// one after another from its first usable block.
class OneVdevRowSource final : public LunBlockSource {
 public:
  Result<std::vector<LunBlock>> AllocateRow(uint32_t n, uint64_t bytes, const std::string&) override {
    std::vector<LunBlock> row;
    for (uint32_t j = 0; j < n; j++) {
      row.push_back(LunBlock{.id = ++id_, .address = DiskAddress::Make(Tier::kFastest, 0, next_),
                             .size = bytes, .vdev = "v0"});
      next_ += bytes / kBlockSize;
    }
    return row;
  }

 private:
  uint64_t id_ = 0;
  uint64_t next_ = kFirstUsableBlock;
};

}  // namespace tessera::testing
