// Database::Check: the referenced blocks of every tree against the bitmaps.
//
// Design notes
//  1. Check commits first, then, in the same hold of the commit lock, pins
//     that commit (walk_pin.cc) and copies the allocated runs of the bitmaps
//     and the vdevs' reserved blocks. Everything else (every tree, every
//     record) is read from the pinned commit without the lock, so commits and
//     management calls go on meanwhile and Check compares one commit with
//     itself (walk_pin.cc, notes 3 and 7).
//  2. Referenced = every copy of every node reachable from the root tree,
//     from each dataset's live root and from each snapshot root, plus the reserved
//     blocks of every vdev (labels, superblock slots). A node reached twice
//     through the same pointer (a subtree shared by a snapshot) is one
//     reference; two different nodes over overlapping blocks are a double
//     reference.
//  3. Leaks = allocated minus referenced; unallocated references =
//     referenced minus allocated; both computed on sorted intervals, so the cost is linear in
//     the number of nodes and runs, not in the pool size.
//  4. Data extents of datasets ('e' keys) count as referenced, like nodes.
//  5. Every dead-list entry must be reachable from some snapshot; an entry
//     that is not is reported as a leak. An entry that does not decode is
//     reported with the checksum failures, as a dataset record that does not
//     decode is: the blocks it should name are unknown.
//  6. Given the names of a dataset's data blocks (Check's data_blocks: the
//     volume layer reads them from the exNodes), its extents must be exactly
//     the blocks named by its live tree and its snapshots' trees, all read
//     from the pinned commit. Volume changes that touch both are made under
//     one commit hold (contract 9), so any commit must agree.
#include <algorithm>
#include <map>
#include <set>

#include "core/db/database.h"
#include "core/db/root_scan.h"
#include "core/util/volume_ref.h"

namespace tessera {
namespace {

using Interval = std::pair<uint64_t, uint64_t>;  // [start, end) of raw addresses

// Parts of `a` not covered by `b`. Both sorted and non-overlapping.
std::vector<Interval> Subtract(const std::vector<Interval>& a, const std::vector<Interval>& b) {
  std::vector<Interval> out;
  size_t j = 0;
  for (auto [start, end] : a) {
    uint64_t cur = start;
    while (j < b.size() && b[j].second <= cur) j++;
    size_t k = j;
    while (cur < end && k < b.size() && b[k].first < end) {
      if (b[k].first > cur) out.emplace_back(cur, b[k].first);
      cur = std::max(cur, b[k].second);
      k++;
    }
    if (cur < end) out.emplace_back(cur, end);
  }
  return out;
}

std::vector<Interval> Merge(std::vector<Interval> v) {
  std::sort(v.begin(), v.end());
  std::vector<Interval> out;
  for (auto iv : v) {
    if (!out.empty() && iv.first <= out.back().second) {
      out.back().second = std::max(out.back().second, iv.second);
    } else {
      out.push_back(iv);
    }
  }
  return out;
}

std::string Describe(const Interval& iv) {
  return fmt::format("{} +{}", DiskAddress{iv.first}.ToString(), iv.second - iv.first);
}

// Design note 6: a dataset's extents against the data blocks its trees name.
class DatasetNames {
 public:
  DatasetNames(std::string dataset, const std::vector<Database::Extent>& extents, CheckReport* report)
      : dataset_(std::move(dataset)), report_(report) {
    for (const auto& e : extents) extents_[e.address.raw] = e.blocks;
  }

  void Add(const std::string& what, const Result<std::vector<Database::NamedBlock>>& blocks) {
    if (!blocks) {
      complete_ = false;
      report_->checksum_failures.push_back(fmt::format("{}: its data blocks: {}", what, blocks.error().ToString()));
      return;
    }
    for (const auto& b : *blocks) {
      named_.insert(b.address.raw);
      auto it = extents_.find(b.address.raw);
      if (it == extents_.end()) {
        report_->unallocated_references.push_back(fmt::format(
            "{} names data block {} +{}, which is not an extent of dataset {}", what, b.address.ToString(),
            b.blocks, dataset_));
      } else if (it->second != b.blocks) {
        report_->unallocated_references.push_back(fmt::format("{} names data block {} as {} blocks; its extent has {}",
                                                              what, b.address.ToString(), b.blocks, it->second));
      }
    }
  }

  // Extents no tree named; only when every tree's names were read.
  void ReportUnnamed() {
    if (!complete_) return;
    for (const auto& [address, blocks] : extents_) {
      if (named_.contains(address)) continue;
      report_->leaks.push_back(fmt::format("extent {} +{} of dataset {} is named by no exNode",
                                           DiskAddress{address}.ToString(), blocks, dataset_));
    }
  }

 private:
  std::string dataset_;
  CheckReport* report_;
  std::map<uint64_t, uint64_t> extents_;  // address -> blocks
  std::set<uint64_t> named_;
  bool complete_ = true;
};

}  // namespace

std::string CheckReport::Summary() const {
  return fmt::format(
      "{} nodes, {} referenced blocks, {} allocated blocks; {} leaks, {} double references, {} "
      "unallocated references, {} checksum failures",
      nodes, referenced_blocks, allocated_blocks, leaks.size(), double_references.size(),
      unallocated_references.size(), checksum_failures.size());
}

Result<CheckReport> Database::Check(const DataBlocksFn& data_blocks) {
  std::vector<Interval> reserved, allocated;
  auto pinned = [&]() -> Result<PinnedCommit> {
    auto scope = LockToCommit();
    TRY(CommitLocked());
    PinnedCommit commit = TRY(PinLastCommitLocked());
    for (const auto& v : pool_->vdevs()) {
      uint64_t base = DiskAddress::Make(v.config.tier, v.config.index, 0).raw;
      reserved.emplace_back(base, base + v.first);
      reserved.emplace_back(base + v.end, base + v.label.size_blocks);
    }
    allocator_->ForEachAllocatedRun(
        [&](DiskAddress a, uint64_t n) { allocated.emplace_back(a.raw, a.raw + n); });
    return commit;
  }();
  if (!pinned) return Err(pinned.error());
  Tree& root_tree = *pinned->root;

  CheckReport report;
  std::map<uint64_t, BlockPtr> nodes;  // address -> pointer
  auto visit = [&](const BlockPtr& ptr, uint32_t) -> Status {
    auto [it, inserted] = nodes.emplace(ptr.address, ptr);
    if (!inserted && it->second != ptr) {
      report.double_references.push_back(
          fmt::format("node {} referenced with two different pointers", DiskAddress{ptr.address}.ToString()));
    }
    return Ok();
  };
  auto walk = [&](Tree& tree, const std::string& what) {
    auto status = tree.ForEachNode(visit);
    if (!status) report.checksum_failures.push_back(fmt::format("{}: {}", what, status.error().ToString()));
  };
  walk(root_tree, "root tree");

  auto datasets = TRY(DatasetRecordsIn(root_tree, &report.checksum_failures));
  TreeOptions read_only = options_.tree;
  read_only.read_only = true;
  // Walks the tree at `root`, and hands it to `names` (note 6) when given.
  auto walk_root = [&](const BlockPtr& root, const std::string& what, const std::function<void(Tree&)>& names) {
    if (root.IsNull()) return;
    auto tree = Tree::Open(read_store_.get(), &cache_, &actions_, read_only, root);
    if (!tree) {
      report.checksum_failures.push_back(fmt::format("{}: {}", what, tree.error().ToString()));
      return;
    }
    walk(**tree, what);
    if (names) names(**tree);
  };
  std::vector<Interval> dead;
  for (const auto& [name, record] : datasets) {
    DatasetNames named(name, TRY(ExtentsIn(root_tree, record.id)), &report);
    auto names_of = [&](const std::string& what) -> std::function<void(Tree&)> {
      if (!data_blocks) return {};
      return [&, what](Tree& tree) { named.Add(what, data_blocks(tree)); };
    };
    walk_root(record.root, "dataset " + name, names_of("volume " + name));
    for (const auto& s : TRY(SnapshotsIn(root_tree, record.id))) {
      std::string ref = VolumeRef{name, s.name}.ToString();
      walk_root(s.root, ref, names_of(ref));
    }
    if (data_blocks) named.ReportUnnamed();
    auto undecodable = [&](std::string_view owner_address, const Error& error) {
      report.checksum_failures.push_back(fmt::format(
          "dataset {}: dead list entry {}: {}", name,
          DiskAddress{ReadBigEndian(owner_address.substr(8))}.ToString(), error.ToString()));
    };
    TRY_STATUS(ScanRecords(root_tree, DeadListsPrefix(record.id), DecodeDeadEntry,
                           OnUndecodable::Report(undecodable),
                           [&](std::string_view owner_address, const DeadEntry& entry) {
                             uint64_t address = ReadBigEndian(owner_address.substr(8));
                             for (uint64_t copy : entry.CopyAddresses(address)) {
                               dead.emplace_back(copy, copy + entry.blocks);
                             }
                           }));
  }
  report.nodes = nodes.size();

  std::vector<Interval> referenced;
  for (const auto& [address, ptr] : nodes) {
    for (uint64_t copy : ptr.CopyAddresses()) referenced.emplace_back(copy, copy + ptr.Blocks());
  }
  for (const auto& [name, record] : datasets) {
    for (const Extent& e : TRY(ExtentsIn(root_tree, record.id))) {
      referenced.emplace_back(e.address.raw, e.address.raw + e.blocks);
    }
  }
  std::sort(referenced.begin(), referenced.end());
  for (size_t i = 1; i < referenced.size(); i++) {
    if (referenced[i].first < referenced[i - 1].second) {
      report.double_references.push_back(fmt::format("nodes {} and {} overlap", Describe(referenced[i - 1]),
                                                     Describe(referenced[i])));
    }
  }
  referenced = Merge(std::move(referenced));
  for (const auto& iv : referenced) report.referenced_blocks += iv.second - iv.first;
  for (const auto& iv : Subtract(Merge(dead), referenced)) {
    report.leaks.push_back("dead list entry not held by any snapshot: " + Describe(iv));
  }

  allocated = Subtract(Merge(std::move(allocated)), Merge(std::move(reserved)));
  for (const auto& iv : allocated) report.allocated_blocks += iv.second - iv.first;
  for (const auto& iv : Subtract(allocated, referenced)) report.leaks.push_back("leaked blocks " + Describe(iv));
  for (const auto& iv : Subtract(referenced, allocated)) {
    report.unallocated_references.push_back("referenced but free: " + Describe(iv));
  }
  return report;
}

}  // namespace tessera
