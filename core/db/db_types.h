// The database's value types: what it reports about datasets, snapshots
// and a check. Apart from database.h so that the layers above (core/volume's
// storage_types.h, core/control) name them without the database itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tree/node_store.h"

namespace tessera {

struct DatasetInfo {
  std::string name;
  uint64_t id = 0;
  uint64_t created_txg = 0;
  size_t snapshots = 0;
};

struct SnapshotInfo {
  std::string name;
  uint64_t txg = 0;
  uint64_t created_unix = 0;
  BlockPtr root;
  uint64_t guid = 0;  // identity of its contents (SnapshotRecord::guid)
  // Filled by Storage::ListSnapshots (core/volume/storage_space.cc):
  uint64_t referenced_bytes = 0;  // data it maps + its tree nodes
  uint64_t unique_bytes = 0;      // what deleting it would free: the two below
  uint64_t unique_data_bytes = 0;      // of that, volume data rows
  uint64_t unique_metadata_bytes = 0;  // of that, tree nodes
};

// What Database::Check found (tree nodes and block accounting).
struct CheckReport {
  uint64_t nodes = 0;               // distinct tree nodes visited
  uint64_t referenced_blocks = 0;
  uint64_t allocated_blocks = 0;    // excluding reserved blocks
  std::vector<std::string> leaks;            // allocated, referenced by nothing
  std::vector<std::string> double_references;
  // Referenced but free, or named as a volume's data but not its extent.
  std::vector<std::string> unallocated_references;
  std::vector<std::string> checksum_failures;
  bool clean() const {
    return leaks.empty() && double_references.empty() && unallocated_references.empty() &&
           checksum_failures.empty();
  }
  std::string Summary() const;
};

}  // namespace tessera
