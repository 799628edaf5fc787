// Shared fixtures for database tests: pools over memory vdevs, each behind a
// FaultVdev so tests can crash, fail and corrupt the devices.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/db/database.h"
#include "core/vdev/fault_vdev.h"
#include "core/vdev/memory_vdev.h"

namespace tessera {

// Reaches a database's root tree, so a test can write records no API writes.
class DatabaseTestPeer {
 public:
  static Tree& RootTree(Database& db) { return *db.root_tree_; }
};

}  // namespace tessera

namespace tessera::testing {

using Model = std::map<std::string, std::string>;

struct TestPool {
  PoolConfig config;
  std::vector<std::shared_ptr<MemoryVdev>> media;  // survive "reboots"
  std::vector<std::shared_ptr<FaultVdev>> faults;  // recreated on reboot

  explicit TestPool(size_t vdevs = 1, uint64_t blocks_each = 16384) {
    for (size_t i = 0; i < vdevs; i++) {
      config.vdevs.push_back(VdevConfig{.name = "v" + std::to_string(i),
                                        .path = "/mem/v" + std::to_string(i),
                                        .size_bytes = blocks_each * kBlockSize,
                                        .tier = Tier::kFastest,
                                        .index = static_cast<uint32_t>(i)});
      media.push_back(std::make_shared<MemoryVdev>(BlockCount{blocks_each}));
    }
    Reboot();
  }

  // New fault wrappers over the same media, as after a power cycle.
  void Reboot() {
    faults.clear();
    for (auto& m : media) faults.push_back(std::make_shared<FaultVdev>(m));
  }

  std::vector<std::shared_ptr<Vdev>> Devices() const {
    return {faults.begin(), faults.end()};
  }

  void PowerLossAll() {
    for (auto& f : faults) (void)f->SimulatePowerLoss();
  }

  Result<std::unique_ptr<Database>> Create(DatabaseOptions options = SmallOptions()) {
    auto pool = Pool::Create(config, Devices());
    if (!pool) return Err(pool.error());
    return Database::Create(std::move(*pool), options);
  }

  Result<std::unique_ptr<Database>> Open(DatabaseOptions options = SmallOptions()) {
    auto pool = Pool::Open(config, Devices());
    if (!pool) return Err(pool.error());
    return Database::Open(std::move(*pool), options);
  }

  static DatabaseOptions SmallOptions() {
    DatabaseOptions options;
    options.cache_bytes = 8 << 20;
    options.tree.node_size = 16 * 1024;
    options.tree.max_fanout = 8;
    return options;
  }
};

inline Model ReadAll(Tree& tree) {
  Model out;
  auto status = tree.Scan("", "", [&](std::string_view k, std::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(status) << status.error().ToString();
  return out;
}

inline void ExpectClean(Database& db) {
  auto report = db.Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->clean()) << report->Summary()
                               << (report->leaks.empty() ? "" : "\n" + report->leaks[0])
                               << (report->unallocated_references.empty() ? "" : "\n" + report->unallocated_references[0])
                               << (report->double_references.empty() ? "" : "\n" + report->double_references[0])
                               << (report->checksum_failures.empty() ? "" : "\n" + report->checksum_failures[0]);
}

}  // namespace tessera::testing
