// StorageCore: what VolumeImpl needs from its Storage (commit, the pool),
// without depending on the whole Storage. Internal to core/volume.
#pragma once

#include "core/util/status.h"
#include "core/volume/row_placement.h"

namespace tessera {

class Pool;

class StorageCore {
 public:
  virtual ~StorageCore() = default;
  // A full commit (all open volumes' heads, then the database).
  virtual Status CommitAll() = 0;
  virtual Pool& pool() = 0;
  // Vdevs new data rows stay off (a replace is copying them).
  virtual RowPlacement& row_placement() = 0;
};

}  // namespace tessera
