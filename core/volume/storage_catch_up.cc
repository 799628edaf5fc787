// Storage: a vdev that is back catches up on the writes it missed.
//
// Design notes
//  1. While a vdev is away (faulted, missing or offline), the stripes of an
//     rs volume are written degraded: the chunk meant for it fails, and
//     reads rebuild it from the others. The jerasure segment notes each such
//     row (jerasure_segment.h, contract 9), and so does a flush that the
//     vdev failed after writes landed there; the database keeps the notes
//     per vdev in the root tree (core/db/missed_writes.cc), so they outlive
//     a restart.
//  2. vdev online then repairs exactly the noted rows, not every row on the
//     vdev (which is what a scrub or a replace reads): each volume with
//     notes is opened, and its noted rows that still have a block on the
//     vdev are inspected (kScan: chunk headers) with repair, which rewrites
//     every chunk there that is missing or of an older write. The volume is
//     held kShared meanwhile, as a replace's rebuild holds it, and mu_ is
//     dropped, so clients go on reading and writing.
//  3. Notes are forgotten only for volumes whose pass ended with nothing
//     unrecoverable, and only those not noted again during it
//     (Database::ForgetMissedWrites); a commit makes that durable. A
//     rewrite that fails notes its row again (jerasure segment contract 9),
//     so a chunk that did not land keeps its note. The notes left are the
//     report's rows_left (and its problems say why), for the next catch-up;
//     a scrub repairs the same rows too.
//  4. Notes of a deleted volume, and rows the cleaner removed since (the
//     pass skips rows that are gone), are forgotten without work.
//  5. The catch-up never fails the online: the vdev is online by then, and
//     what could not be repaired is in the report (rows_left, problems).
//     A vdev that another vdev's absence keeps from being repaired whole
//     still gets its own chunks back: a stripe with at most M chunks bad
//     is rebuilt, and only the rewrites to the absent vdev fail, which is
//     that vdev's own catch-up, later.
//  6. A vdev can come back without vdev online: an nbd depot reconnects
//     by itself when its slot was not faulted, and a vdev reachable again
//     when the pool opens is online at once. So vdev online catches up a
//     vdev that is online already too, and the server's background loop
//     catches up every online vdev with notes every catch_up_interval
//     (CatchUpStep), unless other long work runs (it tries work_mu_).
#include <algorithm>
#include <map>
#include <set>

#include "core/util/log.h"
#include "core/volume/storage_impl.h"

namespace tessera {

namespace {

void AddProblem(VdevOnlineReport& report, const std::string& volume, const std::string& problem) {
  if (report.problems.size() < 100) report.problems.push_back(fmt::format("volume '{}': {}", volume, problem));
}

}  // namespace

VdevOnlineReport Storage::Impl::CatchUpLocked(std::unique_lock<std::mutex>& lock, const PoolVdev& vdev) {
  VdevOnlineReport report{.vdev = vdev.config.name};
  const Tier tier = vdev.config.tier;
  const uint32_t index = vdev.config.index;
  const uint64_t slot = Database::MissedVdev(tier, index);
  auto listed = db_->MissedWritesOn(slot);
  auto datasets = db_->ListDatasets();
  if (!listed || !datasets) {  // design note 5
    report.problems.push_back("the notes of what it missed cannot be read: " +
                              (listed ? datasets.error() : listed.error()).ToString());
    return report;
  }
  std::map<uint64_t, std::vector<Database::MissedWrite>> by_dataset;
  for (const Database::MissedWrite& w : *listed) by_dataset[w.dataset_id].push_back(w);
  std::map<uint64_t, std::string> names;
  for (const DatasetInfo& d : *datasets) names[d.id] = d.name;

  for (const auto& [id, notes] : by_dataset) {
    auto name = names.find(id);
    if (name == names.end()) {  // design note 4
      (void)db_->ForgetMissedWrites(slot, notes);
      continue;
    }
    const std::string& volume_name = name->second;
    std::set<uint64_t> rows;
    for (const Database::MissedWrite& w : notes) rows.insert(w.row);
    auto volume = OpenVolumeLocked(volume_name);
    if (!volume) {  // its notes stay, counted in rows_left below
      AddProblem(report, volume_name, volume.error().ToString());
      continue;
    }
    DataSegment& data = *(*volume)->parts().data;
    RowInspectOptions options{.repair = true, .live_end = (*volume)->log().HeadOffset()};
    uint64_t matched = 0;
    options.rows = [&](const LunRowDesc& row) {
      if (!rows.contains(row.seg_offset)) return false;
      bool here = std::any_of(row.blocks.begin(), row.blocks.end(), [&](const LunBlock& b) {
        return b.address.tier() == tier && b.address.vdev() == index;
      });
      matched += here ? 1 : 0;
      return here;
    };
    auto repaired = WithHold(lock, {volume_name}, Hold::kShared, [&]() -> Result<InspectReport> {
      InspectReport r = TRY(data.InspectRows(InspectMode::kScan, options));
      TRY_STATUS(data.Flush());
      return r;
    });
    if (!repaired || repaired->unrecoverable > 0) {  // design note 3
      if (!repaired) {
        AddProblem(report, volume_name, repaired.error().ToString());
        continue;
      }
      report.unrecoverable_chunks += repaired->unrecoverable;
      for (const std::string& p : repaired->problems) AddProblem(report, volume_name, p);
      continue;
    }
    report.rows += matched;
    report.rebuilt_chunks += repaired->repaired;
    if (matched > 0) report.volumes.push_back(volume_name);
    if (Status forgot = db_->ForgetMissedWrites(slot, notes); !forgot) {
      AddProblem(report, volume_name, "repaired, but its notes stay: " + forgot.error().ToString());
    }
  }
  if (Status committed = CommitAll(); !committed) {
    report.problems.push_back("the commit after the catch-up failed: " + committed.error().ToString());
  }
  auto left = db_->MissedWritesOn(slot);  // design note 3: what is still noted
  report.rows_left = left ? left->size() : listed->size();
  if (report.rebuilt_chunks > 0 || report.rows_left > 0) {
    Log(report.rows_left > 0 ? LogLevel::kWarn : LogLevel::kInfo,
        "vdev '{}' caught up: {} rows of {} volumes, {} chunks rewritten{}", report.vdev, report.rows,
        report.volumes.size(), report.rebuilt_chunks,
        report.rows_left > 0 ? fmt::format("; {} rows left to repair", report.rows_left) : "");
  }
  return report;
}

void Storage::Impl::CatchUpStep() {
  std::unique_lock work(work_mu_, std::try_to_lock);  // design note 6
  if (!work.owns_lock()) return;
  std::unique_lock lock(mu_);
  std::vector<std::string> noted;
  for (const PoolVdev& v : db_->pool().vdevs()) {
    if (!v.device->online() || v.removed()) continue;
    auto notes = db_->MissedWritesOn(Database::MissedVdev(v.config.tier, v.config.index));
    if (notes && !notes->empty()) noted.push_back(v.config.name);
  }
  for (const std::string& name : noted) {
    const PoolVdev* v = db_->pool().FindByName(name);
    if (v != nullptr && v->device->online()) (void)CatchUpLocked(lock, *v);
  }
}

}  // namespace tessera
