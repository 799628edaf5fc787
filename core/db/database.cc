// Database lifetime: create, recover, commit.
//
// Design notes
//  1. Bitmaps persist through the root tree, which raises a cycle: writing
//     the root tree allocates blocks, which changes the bitmaps. It is broken
//     like this: the persisted bitmaps never show the blocks the root tree
//     owns (RootNodeStore::Owned is excluded when encoding), and Open marks
//     those blocks again by walking the root tree. So a commit encodes the
//     dirty bitmaps first and writes the root tree after.
//  2. Commit order (docs/architecture.md, Commit): datasets -> dead
//     lists/records -> bitmaps -> root tree -> flush -> superblock -> flush
//     -> release quarantine.
//     Frees made while committing txg N stay quarantined until the superblock
//     of N is durable, so superblock N-1 always describes intact blocks; and
//     longer while a walk runs (walk_pin.cc), so the commit it walks stays
//     intact too.
//  3. Superblock N goes to slot N % 2 on every SuperblockVdevs() vdev (at
//     least two when the pool has two healthy vdevs); recovery reads both
//     slots of every healthy vdev and takes the newest copy that verifies,
//     belongs to this pool and whose root tree opens, falling back to older
//     ones. A vdev that fails or is corrupt loses nothing: another holds the
//     same superblock.
//  4. States: Open/Create -> ready --(Commit fails)--> failed. A management
//     call of several steps (delete, rollback) that fails part way fails the
//     database too. A failed database refuses Commit and management calls
//     (FailIfBroken).
//  5. Every node of the root tree is owned twice over when it has two copies:
//     both copies are marked allocated and left out of the persisted bitmaps
//     (note 1 applies to each copy).
//  6. A degraded pool (some vdev not online) opens only at its newest
//     superblock, and only when every node is readable (degraded.cc).
#include "core/db/database.h"

#include <algorithm>
#include <ctime>

#include "core/util/aligned_buffer.h"
#include "core/util/log.h"
#include "core/util/uuid.h"

namespace tessera {
TreeOptions Database::RootTreeOptions() {
  TreeOptions options;
  options.node_size = 256 * 1024;
  options.max_fanout = 32;
  return options;
}

Database::Database(std::unique_ptr<Pool> pool, DatabaseOptions options)
    : pool_(std::move(pool)),
      options_(std::move(options)),
      cache_(options_.cache_bytes),
      io_(std::make_unique<MetadataIo>(
          pool_.get(), MetadataIo::CopiesFor(*pool_, options_.metadata_tiers, options_.metadata_copies))),
      copies_setting_(std::clamp<uint32_t>(options_.metadata_copies, 1, kMaxNodeCopies)),
      missed_next_note_(RandomU64()) {}

Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::Create(std::unique_ptr<Pool> pool,
                                                   DatabaseOptions options) {
  std::unique_ptr<Database> db(new Database(std::move(pool), std::move(options)));
  TRY_STATUS(db->Bootstrap());
  return db;
}

Result<std::unique_ptr<Database>> Database::Open(std::unique_ptr<Pool> pool,
                                                 DatabaseOptions options) {
  std::unique_ptr<Database> db(new Database(std::move(pool), std::move(options)));
  TRY_STATUS(db->Recover());
  return db;
}

Status Database::Bootstrap() {
  std::lock_guard lock(mu_);
  allocator_ = std::make_unique<Allocator>(*pool_);
  root_store_ = std::make_unique<RootNodeStore>(io_.get(), allocator_.get(),
                                                options_.metadata_tiers, &txg_);
  read_store_ = std::make_unique<ReadOnlyNodeStore>(io_.get(), allocator_.get(),
                                                    options_.metadata_tiers, &txg_);
  root_tree_ = TRY(Tree::Create(root_store_.get(), &cache_, &actions_, RootTreeOptions()));
  TRY(CommitLocked());
  return Ok();
}

Status Database::LoadRoot(const Superblock& sb) {
  auto allocator = std::make_unique<Allocator>(*pool_);
  auto store = std::make_unique<RootNodeStore>(io_.get(), allocator.get(),
                                               options_.metadata_tiers, &txg_);
  auto tree = TRY(Tree::Open(store.get(), &cache_, &actions_, RootTreeOptions(), sb.root));
  std::optional<Error> load_error;
  TRY_STATUS(tree->Scan(BitmapKey(0), PrefixEnd("b"), [&](std::string_view key, std::string_view value) {
    auto status = allocator->LoadSegment(SegmentKey{ReadBigEndian(key.substr(1))}, value);
    if (!status) load_error = status.error();
    return status.has_value();
  }));
  if (load_error) return Err(*load_error);
  allocator->SettleGrownVdevs();  // allocator.h contract 9
  TRY_STATUS(tree->ForEachNode([&](const BlockPtr& ptr, uint32_t) -> Status {
    for (uint64_t copy : ptr.CopyAddresses()) {
      TRY_STATUS(allocator->MarkAllocated(DiskAddress{copy}, BlockCount{ptr.Blocks()}));
    }
    store->Adopt(ptr);
    return Ok();
  }));
  read_store_ = std::make_unique<ReadOnlyNodeStore>(io_.get(), allocator.get(),
                                                    options_.metadata_tiers, &txg_);
  allocator_ = std::move(allocator);
  root_store_ = std::move(store);
  root_tree_ = std::move(tree);
  txg_ = sb.txg;
  next_dataset_id_ = sb.next_dataset_id;
  copies_setting_ = sb.metadata_copies;
  io_->set_copies(MetadataIo::CopiesFor(*pool_, options_.metadata_tiers, sb.metadata_copies));
  return Ok();
}

Status Database::Recover() {
  std::lock_guard lock(mu_);
  std::vector<Superblock> candidates;
  std::optional<Error> version_error;
  AlignedBuffer block(kBlockSize);
  for (const PoolVdev& v : pool_->vdevs()) {
    if (v.faulted()) continue;
    for (uint64_t slot = 0; slot < 2; slot++) {
      if (!v.device->Read(BlockNo{kSuperblockSlot0 + slot}, block.span())) continue;
      if (SuperblockPoolUuid(block.span()) != pool_->uuid()) continue;
      auto sb = DecodeSuperblock(block.span());
      if (sb) candidates.push_back(*sb);
      else if (sb.error().code() == Code::kInvalidArgument) version_error = sb.error();
    }
  }
  if (version_error) {
    return Err(version_error->WithContext(
        fmt::format("pool {} was written by another format version", UuidToString(pool_->uuid()))));
  }
  if (candidates.empty()) return Err(Code::kCorruption, "no valid superblock on any vdev");
  std::sort(candidates.begin(), candidates.end(),
            [](const Superblock& a, const Superblock& b) { return a.txg > b.txg; });
  std::optional<Error> last_error;
  std::optional<uint64_t> tried;
  for (const Superblock& sb : candidates) {
    if (tried == sb.txg) continue;  // the same txg from another vdev
    tried = sb.txg;
    auto status = LoadRoot(sb);
    if (pool_->FaultedVdevCount() > 0) {
      // Contract 6: a degraded pool opens at its newest superblock with all
      // of its metadata, or not at all (degraded.cc, design note 2).
      if (status) status = VerifyMetadataReadableLocked();
      else status = Err(Error(status.error().code(),
                              fmt::format("the pool's metadata is not complete without vdev(s) {}: {}",
                                          NotOnlineVdevsLocked(), status.error().message())));
      if (!status) return Err(status.error());
    }
    if (status) {
      superblock_ = sb;
      if (last_error) Log(LogLevel::kWarn, "recovered from older superblock txg {}", sb.txg);
      return Ok();
    }
    Log(LogLevel::kWarn, "superblock txg {} unusable: {}", sb.txg, status.error().ToString());
    last_error = status.error();
  }
  return Err(last_error->WithContext("no usable superblock"));
}

Status Database::FailIfBroken() const {
  if (failed_) return Err(failed_->WithContext("database failed earlier; reopen it"));
  return Ok();
}

Result<uint64_t> Database::Commit() {
  auto scope = LockToCommit();
  return CommitLocked();
}

bool Database::NothingToCommitLocked() {
  if (root_tree_->DirtyBytes() > 0 || !allocator_->DirtySegments().empty()) return false;
  for (auto& ds : open_) {
    if (ds->tree_->DirtyBytes() > 0) return false;
  }
  return true;
}

Result<uint64_t> Database::CommitLocked(bool force) {
  TRY_STATUS(FailIfBroken());
  if (pre_commit_hook_) {
    auto hooked = pre_commit_hook_();
    if (!hooked) {
      failed_ = hooked.error();
      return Err(hooked.error());
    }
  }
  if (auto stored = StoreMissedWritesLocked(); !stored) {
    failed_ = stored.error();
    return Err(stored.error());
  }
  if (!force && NothingToCommitLocked()) return txg_;
  auto commit = [&]() -> Result<uint64_t> {
    for (auto& ds : open_) {
      BlockPtr root = TRY(ds->tree_->Sync());
      if (auto error = ds->store_->TakeFreeError()) return Err(*error);
      for (auto& [address, entry] : ds->store_->TakeDead()) {
        TRY_STATUS(root_tree_->Insert(DeadKey(ds->id(), kLiveOwner, address), EncodeDeadEntry(entry)));
      }
      if (root != ds->record_.root) {
        ds->record_.root = root;
        TRY_STATUS(root_tree_->Insert(DatasetKey(ds->name_), EncodeDatasetRecord(ds->record_)));
      }
    }
    auto owned = root_store_->Owned();
    for (SegmentKey segment : allocator_->DirtySegments()) {
      std::string bits = TRY(allocator_->EncodeSegment(segment, owned));
      TRY_STATUS(root_tree_->Insert(BitmapKey(segment.raw), bits));
    }
    BlockPtr root = TRY(root_tree_->Sync());
    if (auto error = root_store_->TakeFreeError()) return Err(*error);
    TRY_STATUS(pool_->FlushAll());
    TRY_STATUS(WriteSuperblock(txg_ + 1, root));
    TRY_STATUS(pool_->FlushAll());
    return txg_ + 1;
  };
  auto result = commit();
  if (!result) {
    failed_ = result.error();
    Log(LogLevel::kError, "commit of txg {} failed: {}", txg_ + 1, result.error().ToString());
    return result;
  }
  txg_ = *result;
  // A running walk keeps every freed block quarantined (walk_pin.cc); the
  // first commit after the last one ends releases them.
  EndClosedReadersHoldsLocked();
  if (walks_.load(std::memory_order_acquire) == 0) allocator_->ReleaseQuarantine();
  return txg_;
}

void Database::SetPreCommitHook(std::function<Status()> hook) {
  std::lock_guard lock(mu_);
  pre_commit_hook_ = std::move(hook);
}

Status Database::WriteSuperblock(uint64_t txg, const BlockPtr& root) {
  Superblock sb{.pool_uuid = pool_->uuid(),
                .txg = txg,
                .next_dataset_id = next_dataset_id_,
                .commit_time = static_cast<uint64_t>(std::time(nullptr)),
                .root = root,
                .metadata_copies = copies_setting_.load()};
  AlignedBuffer block(kBlockSize);
  EncodeSuperblock(sb, block.span());
  std::vector<const PoolVdev*> targets = SuperblockVdevs();
  if (targets.empty()) return Err(Code::kIOError, "no healthy vdev to hold the superblock");
  for (const PoolVdev* v : targets) {
    TRY_STATUS(v->device->Write(BlockNo{kSuperblockSlot0 + txg % 2}, block.span()));
  }
  superblock_ = sb;
  return Ok();
}

std::vector<const PoolVdev*> Database::SuperblockVdevs() const {
  std::vector<const PoolVdev*> out;
  for (uint8_t t = 0; t < kTierCount; t++) {
    size_t before = out.size();
    for (const auto& v : pool_->vdevs()) {
      if (static_cast<uint8_t>(v.config.tier) != t || v.faulted()) continue;
      // The fastest tier with a healthy vdev contributes all of them; later
      // tiers only top the count up to two.
      if (before == 0 || out.size() < 2) out.push_back(&v);
    }
    if (out.size() >= 2) break;
  }
  return out;
}

}  // namespace tessera
