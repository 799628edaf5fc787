// Storage: pool scrub.
//
// Design notes
//  0. Scrub is long work (storage_impl.h, locking notes): each volume is
//     held kShared while it is read, without mu_; the metadata pass runs
//     without mu_ too, and holds the database's lock only for short steps
//     (core/db/walk_pin.cc), so commits go on meanwhile.
//  1. Data: every volume in turn, through the same pass as `volume inspect
//     --full --repair` except that blocks on vdevs that are not online are
//     not moved (that is `volume inspect --repair` or `vdev replace`, which
//     the admin chooses): rs volumes have every stripe decoded and checked
//     (parity included) and bad chunks rewritten in place; other volumes have
//     every mapped block read and checked against its checksum.
//  2. Counts: `repaired` are chunks rewritten, `unrecoverable` units whose
//     content is lost, `degraded` bad units that stayed bad because their
//     vdev is not online (the data is still correct, from parity).
//  3. Metadata: Database::ScrubMetadata reads every copy of every tree node
//     and the superblocks, and rewrites bad copies from good ones (its
//     repairs and unrecoverable nodes join the counts); then Database::Check
//     compares the space accounting.
#include "core/util/log.h"
#include "core/volume/storage_impl.h"

namespace tessera {

namespace {

// Design note 3.
Result<CheckReport> ScrubMetadata(Database& db, const ProgressFn& progress, ScrubReport& report) {
  auto scrubbed = TRY(db.ScrubMetadata([&](const MetadataScrubReport& so_far, std::string_view tree) {
    if (progress) progress(Progress{.what = fmt::format("metadata ({})", tree), .done = so_far.checked, .total = 0});
  }));
  report.checked += scrubbed.copies_checked + scrubbed.superblocks_checked;
  report.repaired += scrubbed.repaired + scrubbed.superblocks_repaired;
  report.unrecoverable += scrubbed.unrecoverable;
  report.degraded += scrubbed.unavailable;
  for (const auto& e : scrubbed.errors) {
    if (report.problems.size() < 100) report.problems.push_back("metadata: " + e);
  }
  Log(LogLevel::kInfo, "scrub: metadata: {}", scrubbed.Summary());
  return db.Check();
}

}  // namespace

Result<ScrubReport> Storage::Impl::Scrub(const ProgressFn& progress) {
  std::lock_guard work(work_mu_);
  std::unique_lock lock(mu_);
  ScrubReport report;
  std::vector<DatasetInfo> datasets = TRY(db_->ListDatasets());
  for (const DatasetInfo& d : datasets) {
    if (!db_->OpenDataset(d.name)) continue;  // deleted since the listing
    auto inspected = InspectHeld(lock, d.name, InspectDepth::kFull, /*repair=*/true,
                                 /*replace_lost=*/false, progress);
    if (!inspected) {
      report.problems.push_back(fmt::format("volume '{}': {}", d.name, inspected.error().message()));
      report.unrecoverable++;
      continue;
    }
    report.volumes++;
    report.checked += inspected->checked;
    report.repaired += inspected->repaired;
    report.unrecoverable += inspected->unrecoverable;
    uint64_t left = inspected->bad - std::min(inspected->bad, inspected->repaired + inspected->unrecoverable);
    report.degraded += left;
    for (const auto& p : inspected->problems) {
      if (report.problems.size() < 100) report.problems.push_back(fmt::format("volume '{}': {}", d.name, p));
    }
  }
  lock.unlock();  // the rest locks the database, not the storage
  for (auto& v : OpenVolumes()) TRY_STATUS(v->Flush());
  report.metadata = TRY(ScrubMetadata(*db_, progress, report));
  Log(LogLevel::kInfo, "scrub: {} volumes, {} checked, {} repaired, {} unrecoverable, {} degraded; metadata: {}",
      report.volumes, report.checked, report.repaired, report.unrecoverable, report.degraded,
      report.metadata.Summary());
  return report;
}

}  // namespace tessera
