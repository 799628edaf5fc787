// Dataset management: create, open, list, delete, rename.
//
// Design notes
//  1. A dataset is a record in the root tree ('d' + name) holding its id and
//     the root pointer of its tree as of the last commit.
//  2. Open datasets stay in open_ until deleted; Commit syncs every open tree.
//  3. Delete removes the snapshots first (each through the dead-list
//     algorithm), so that when the live tree's nodes are freed no snapshot
//     pins any of them; then it commits once: power lost during a delete
//     leaves the whole dataset with its snapshots, or nothing of it.
//  4. Rename moves only the 'd' record: everything else of a dataset is keyed
//     by its id. The record moves and the commit follows under one hold of
//     mu_, so the disk has the old name or the new one, never both or none.
#include <algorithm>

#include "core/db/database.h"
#include "core/db/root_scan.h"

namespace tessera {
namespace {

Status ValidateName(std::string_view kind, std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return Err(Code::kInvalidArgument, "{} name must be 1 to 255 bytes", kind);
  }
  for (char c : name) {
    if (c == '@' || c == '/' || static_cast<unsigned char>(c) < 0x20) {
      return Err(Code::kInvalidArgument, "{} name '{}' may not contain '@', '/' or control characters",
                 kind, name);
    }
  }
  return Ok();
}

}  // namespace

std::unique_ptr<DatasetNodeStore> Database::MakeDatasetStore(const DatasetRecord& record) {
  return std::make_unique<DatasetNodeStore>(io_.get(), allocator_.get(), options_.metadata_tiers,
                                            &txg_, record.id, record.latest_snapshot_txg);
}

Result<Dataset*> Database::CreateDataset(std::string_view name) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  TRY_STATUS(ValidateName("dataset", name));
  auto existing = TRY(root_tree_->Get(DatasetKey(name)));
  if (existing) return Err(Code::kInvalidArgument, "dataset '{}' already exists", name);
  auto ds = std::make_unique<Dataset>();
  ds->name_ = std::string(name);
  ds->record_ = DatasetRecord{.id = next_dataset_id_++, .created_txg = txg_ + 1};
  ds->store_ = MakeDatasetStore(ds->record_);
  ds->tree_ = TRY(Tree::Create(ds->store_.get(), &cache_, &actions_, options_.tree));
  TRY_STATUS(root_tree_->Insert(DatasetKey(name), EncodeDatasetRecord(ds->record_)));
  open_.push_back(std::move(ds));
  return open_.back().get();
}

Result<Dataset*> Database::OpenDatasetLocked(std::string_view name) {
  for (auto& ds : open_) {
    if (ds->name_ == name) return ds.get();
  }
  auto value = TRY(root_tree_->Get(DatasetKey(name)));
  if (!value) return Err(Code::kNotFound, "no dataset '{}'", name);
  auto ds = std::make_unique<Dataset>();
  ds->name_ = std::string(name);
  ds->record_ = TRY(DecodeDatasetRecord(*value));
  ds->store_ = MakeDatasetStore(ds->record_);
  if (ds->record_.root.IsNull()) {
    ds->tree_ = TRY(Tree::Create(ds->store_.get(), &cache_, &actions_, options_.tree));
  } else {
    ds->tree_ = TRY(Tree::Open(ds->store_.get(), &cache_, &actions_, options_.tree, ds->record_.root));
  }
  open_.push_back(std::move(ds));
  return open_.back().get();
}

Result<Dataset*> Database::OpenDataset(std::string_view name) {
  std::lock_guard lock(mu_);
  TRY_STATUS(FailIfBroken());
  return OpenDatasetLocked(name);
}

Result<std::vector<DatasetInfo>> Database::ListDatasets() {
  std::lock_guard lock(mu_);
  std::vector<DatasetInfo> out;
  TRY_STATUS(ScanRecords(*root_tree_, "d", DecodeDatasetRecord, OnUndecodable::Stop(),
                         [&](std::string_view name, const DatasetRecord& record) {
                           out.push_back(DatasetInfo{.name = std::string(name),
                                                     .id = record.id,
                                                     .created_txg = record.created_txg});
                         }));
  for (auto& info : out) info.snapshots = TRY(SnapshotsOf(info.id)).size();
  return out;
}

Result<std::vector<std::pair<std::string, DatasetRecord>>> Database::DatasetRecordsIn(
    Tree& root, std::vector<std::string>* problems) {
  std::vector<std::pair<std::string, DatasetRecord>> out;
  auto report = [&](std::string_view, const Error& error) {
    problems->push_back(error.ToString());
  };
  TRY_STATUS(ScanRecords(root, "d", DecodeDatasetRecord, OnUndecodable::Report(report),
                         [&](std::string_view name, const DatasetRecord& record) {
                           out.emplace_back(std::string(name), record);
                         }));
  return out;
}

Status Database::DeleteDataset(std::string_view name) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  Dataset* ds = TRY(OpenDatasetLocked(name));
  std::vector<SnapshotRecord> snapshots = TRY(SnapshotsOf(ds->id()));
  // Every step below changes the in-memory state; a failure part way fails
  // the database (contract 4 of core/db/database.cc) so that no later commit makes
  // half a delete durable.
  auto deleted = [&]() -> Status {
    for (const auto& snapshot : snapshots) TRY_STATUS(DeleteSnapshotLocked(ds, snapshot));
    for (const Extent& extent : TRY(ExtentsOfLocked(ds->id()))) {
      TRY_STATUS(allocator_->Free(extent.address, BlockCount{extent.blocks}));
    }
    std::string extents = ExtentPrefix(ds->id());
    TRY_STATUS(root_tree_->RangeDelete(extents, PrefixEnd(extents)));
    TRY_STATUS(ds->tree_->FreeAll());
    if (auto error = ds->store_->TakeFreeError()) return Err(*error);
    TRY_STATUS(root_tree_->Delete(DatasetKey(name)));
    std::erase_if(open_, [ds](const std::unique_ptr<Dataset>& d) { return d.get() == ds; });
    return Ok();
  }();
  if (!deleted && !failed_) failed_ = deleted.error();
  TRY_STATUS(deleted);
  TRY(CommitLocked());
  return Ok();
}

Status Database::RenameDataset(std::string_view name, std::string_view new_name,
                               const std::function<Status(Tree&)>& edit) {
  auto scope = LockToCommit();
  TRY_STATUS(FailIfBroken());
  TRY_STATUS(ValidateName("dataset", new_name));
  Dataset* ds = TRY(OpenDatasetLocked(name));
  if (TRY(root_tree_->Get(DatasetKey(new_name)))) {
    return Err(Code::kInvalidArgument, "dataset '{}' already exists", new_name);
  }
  // As in DeleteDataset: a failure part way fails the database.
  auto renamed = [&]() -> Status {
    if (edit) TRY_STATUS(edit(*ds->tree_));
    TRY_STATUS(root_tree_->Delete(DatasetKey(name)));
    TRY_STATUS(root_tree_->Insert(DatasetKey(new_name), EncodeDatasetRecord(ds->record_)));
    ds->name_ = std::string(new_name);
    return Ok();
  }();
  if (!renamed && !failed_) failed_ = renamed.error();
  TRY_STATUS(renamed);
  TRY(CommitLocked());
  return Ok();
}

}  // namespace tessera
