// Storage: opening and creating pool directories, the exclusive lock,
// commits and the background commit thread.
//
// Design notes
//  1. The lock file is flock()ed LOCK_EX|LOCK_NB for the whole life of the
//     Storage; the kernel drops it if the process dies.
//  2. Every commit first records each open volume's log head (the database's
//     pre-commit hook), so the committed tree and the committed heads always
//     agree (LogSegment contract 2).
//  3. The background thread commits every interval, and sooner when the
//     metadata cache holds more than a quarter of its bound in dirty nodes;
//     after each commit it runs every open volume's cleaner once. Every
//     100 ms it closes the volumes whose last handle is gone, and every
//     TieringOptions::interval it runs a step of automatic tiering
//     (storage_tiering.cc; nothing unless pool.conf turns it on).
//  4. Open tolerates missing and offline vdevs outside the fastest tier
//     (Pool contract 1a); the pool then runs degraded. pool.conf is
//     rewritten (temp file, fsync, rename, fsync of the directory) when a
//     vdev's state or path changes.
//  5. Create writes pool.conf last, the same way: a crash before it leaves
//     vdev files and no pool.conf, and the next create names them to remove;
//     a crash after it leaves a whole pool.
//  6. The pool's lease (core/pool/pool_lease.h) is checked once the pool's
//     labels are read, and taken before anything is written: at open once
//     the database opened (which only reads), so that an open refused for
//     any reason changes nothing; at create before the bootstrap. Its
//     renewals start once the database is open (LeaseOptions::
//     start_at_open) or at StartBackground, and the Impl releases it after
//     its last commit. The flock of note 1 keeps out a second opener of
//     this directory; the lease, one of another directory or another host
//     naming the same vdevs.
#include "core/volume/storage.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/pool/device_contents.h"
#include "core/pool/file_vdev_kind.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/atomic_file.h"
#include "core/util/log.h"
#include "core/util/volume_ref.h"
#include "core/util/memory_budget.h"
#include "core/volume/storage_impl.h"

namespace tessera {
namespace fs = std::filesystem;

namespace {

Result<int> TakeLock(const std::string& dir) {
  std::string path = dir + "/lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Err(Code::kIOError, "cannot open {}: {}", path, std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return Err(Code::kBusy,
               "pool {} is in use by another process (a running server or another tessera command)", dir);
  }
  return fd;
}

// StorageOptions::memory_bytes resolved and split: the node cache gets at
// most a quarter, the volumes' page caches share the rest.
StorageOptions WithMemory(StorageOptions options, const PoolConfig& config) {
  uint64_t memory = options.memory_bytes ? options.memory_bytes
                    : config.memory_bytes ? config.memory_bytes
                                          : DefaultMemoryBudgetBytes();
  options.memory_bytes = memory;
  options.metadata_cache_bytes = std::min(options.metadata_cache_bytes, memory / 4);
  uint64_t data = memory - options.metadata_cache_bytes;
  options.data_cache_bytes = std::max<uint64_t>(std::min(options.data_cache_bytes, data), kBlockSize);
  options.dirty_bytes_max = std::min(options.dirty_bytes_max, options.data_cache_bytes);
  return options;
}

DatabaseOptions DbOptions(const StorageOptions& options) {
  DatabaseOptions db;
  db.cache_bytes = options.metadata_cache_bytes;
  return db;
}

std::string ConfigText(const PoolConfig& config, const std::string& dir) {
  PoolConfig relative = config;
  for (auto& v : relative.vdevs) {
    fs::path p(v.path);
    if (p.parent_path() == fs::path(dir)) v.path = p.filename().string();
  }
  return SerializePoolConfig(relative);
}

}  // namespace

Result<std::vector<std::shared_ptr<Vdev>>> OpenPoolDevices(const StorageOptions& options,
                                                       const PoolConfig& config, bool create) {
  if (options.open_devices) return options.open_devices(config, create);
  return OpenVdevs(config, {.create = create,
                            .use_io_uring = options.use_io_uring,
                            .allow_direct = options.use_direct,
                            .force = create && options.force_devices,
                            .allow_missing = !create});
}


PoolConfig Storage::DefaultConfig(const std::string& dir, uint32_t count, uint64_t size) {
  PoolConfig config;
  for (uint32_t i = 0; i < count; i++) {
    config.vdevs.push_back(VdevConfig{.name = fmt::format("vdev{}", i),
                                      .path = (fs::absolute(dir) / fmt::format("vdev{}.img", i)).lexically_normal().string(),
                                      .size_bytes = size,
                                      .tier = Tier::kFastest,
                                      .index = i});
  }
  return config;
}

Result<std::unique_ptr<Storage>> Storage::Create(const std::string& dir_in, const PoolConfig& config,
                                                 StorageOptions options) {
  std::error_code ec;
  fs::create_directories(dir_in, ec);
  if (ec) return Err(Code::kIOError, "cannot create {}: {}", dir_in, ec.message());
  std::string dir = fs::canonical(dir_in).string();
  std::string conf = dir + "/pool.conf";
  if (fs::exists(conf)) return Err(Code::kInvalidArgument, "{} already holds a pool ({} exists)", dir, conf);
  // A file vdev without a size is a block device, used whole
  // (core/pool/file_vdev_kind.h contract 3): pool.conf records its size.
  PoolConfig sized = config;
  for (VdevConfig& vc : sized.vdevs) {
    if (VdevKind(vc) == kDefaultVdevKind && vc.size_bytes == 0) vc.size_bytes = TRY(FileVdevSize(vc));
  }
  // Validate the config text round trip before touching anything.
  auto parsed = ParsePoolConfig(ConfigText(sized, dir), dir);
  if (!parsed) return Err(parsed.error().WithContext("pool config"));
  options = WithMemory(options, *parsed);
  int fd = TRY(TakeLock(dir));
  auto devices = OpenPoolDevices(options, *parsed, true);
  if (!devices) {
    ::close(fd);
    // A vdev file already there may be a leftover of a create that stopped
    // (note 5); a refused block device is not.
    bool leftovers = std::any_of(parsed->vdevs.begin(), parsed->vdevs.end(), [&](const VdevConfig& vc) {
      return VdevKind(vc) == kDefaultVdevKind && fs::is_regular_file(vc.path, ec);
    });
    return Err(devices.error().WithContext(fmt::format(
        "no pool.conf in {}, so no pool was made here{}", dir,
        leftovers ? " (an earlier pool create may have stopped half-way: remove its vdev files and run it again)"
                  : "")));
  }
  // A vdev without a size (kind nbd) takes its device's, and pool.conf
  // records it: a pool opened without that device still knows its size.
  PoolConfig written = sized;
  for (size_t i = 0; i < parsed->vdevs.size(); i++) {
    if (parsed->vdevs[i].size_bytes != 0) continue;
    parsed->vdevs[i].size_bytes = (*devices)[i]->Size().bytes();
    written.vdevs[i].size_bytes = parsed->vdevs[i].size_bytes;
  }
  // Only files are the create's to remove; a device it did not make (a
  // block device, an nbd export) has the labels it may have got cleared, so
  // that the next create does not refuse it as another pool's, and is
  // otherwise left as it is (never unlinked).
  auto cleanup = [&] {
    for (size_t i = 0; i < parsed->vdevs.size(); i++) {
      const VdevConfig& vc = parsed->vdevs[i];
      if (VdevKind(vc) == kDefaultVdevKind && !fs::is_block_file(vc.path, ec)) {
        (*devices)[i].reset();
        fs::remove(vc.path, ec);
        continue;
      }
      ClearLabels(*(*devices)[i]);
    }
    ::close(fd);
  };
  auto pool = Pool::Create(*parsed, *devices);
  if (!pool) {
    cleanup();
    return Err(pool.error());
  }
  auto lease = PoolLease::Acquire(**pool, options.lease);  // note 6
  if (lease) {
    if (Status taken = (*lease)->Take(); !taken) lease = std::unexpected(taken.error());
  }
  if (!lease) {
    pool->reset();
    cleanup();
    return Err(lease.error());
  }
  auto db = Database::Create(std::move(*pool), DbOptions(options));
  if (!db) {
    cleanup();
    return Err(db.error());
  }
  // Last: until pool.conf exists there is no pool, and a create that stopped
  // before this point leaves only vdev files (note 5).
  // The pool's files are the owner's alone (vdev files and pool.conf 0600).
  Status saved = ::chmod(dir.c_str(), 0700) == 0
                     ? WriteFileAtomically(conf, ConfigText(written, dir), 0600)
                     : Err(Code::kIOError, "cannot make {} private (chmod 0700): {}", dir, std::strerror(errno));
  if (!saved) {
    db->reset();
    cleanup();
    return Err(saved.error());
  }
  return std::unique_ptr<Storage>(std::make_unique<Impl>(dir, fd, options, std::move(*db), std::move(*lease)));
}

Result<std::unique_ptr<Storage>> Storage::Open(const std::string& dir_in, StorageOptions options) {
  if (!fs::exists(dir_in + "/pool.conf")) {
    return Err(Code::kNotFound, "no pool at {} (no pool.conf); create one with 'tessera pool create'", dir_in);
  }
  std::string dir = fs::canonical(dir_in).string();
  auto config = LoadPoolConfig(dir + "/pool.conf");
  if (!config) return Err(config.error());
  options = WithMemory(options, *config);
  int fd = TRY(TakeLock(dir));
  std::unique_ptr<PoolLease> lease;
  auto opened = [&]() -> Result<std::unique_ptr<Database>> {
    auto devices = TRY(OpenPoolDevices(options, *config, false));
    auto pool = TRY(Pool::Open(*config, std::move(devices)));
    lease = TRY(PoolLease::Acquire(*pool, options.lease));  // note 6
    auto db = TRY(Database::Open(std::move(pool), DbOptions(options)));
    TRY_STATUS(lease->Take());
    return db;
  }();
  if (!opened) {
    ::close(fd);
    return Err(opened.error());
  }
  auto impl = std::make_unique<Impl>(dir, fd, options, std::move(*opened), std::move(lease));
  TRY_STATUS(impl->EnsureMetadataCopies());  // the Impl closes the lock on failure
  return std::unique_ptr<Storage>(std::move(impl));
}

Storage::Impl::Impl(std::string dir, int lock_fd, StorageOptions options, std::unique_ptr<Database> db,
                    std::unique_ptr<PoolLease> lease)
    : dir_(std::move(dir)),
      lock_fd_(lock_fd),
      options_(options),
      budget_(std::make_shared<MemoryBudget>(options.memory_bytes - options.metadata_cache_bytes)),
      db_(std::move(db)),
      lease_(std::move(lease)) {
  if (options_.lease.start_at_open) lease_->Start();  // note 6
  db_->SetPreCommitHook([this]() -> Status {
    for (auto& v : OpenVolumes()) {
      TRY_STATUS(v->RecordHeadIfOwner());
    }
    return Ok();
  });
}

Storage::Impl::~Impl() {
  (void)Close();
  lease_.reset();  // note 6: released after the last commit, while the pool is there
  db_->SetPreCommitHook(nullptr);
  db_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Storage::Impl::CommitAll() {
  auto txg = db_->Commit();
  if (!txg) return Err(txg.error());
  return Ok();
}

void Storage::Impl::BackgroundLoop(std::chrono::milliseconds interval) {
  auto last = std::chrono::steady_clock::now();
  std::unique_lock lock(bg_mu_);
  while (!bg_stop_) {
    bg_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (bg_stop_) break;
    lock.unlock();
    if (auto closed = CloseIdleVolumes(); !closed) {
      Log(LogLevel::kError, "closing idle volumes: {}", closed.error().ToString());
    }
    if (auto now = std::chrono::steady_clock::now(); now - last_catch_up_ >= options_.catch_up_interval) {
      last_catch_up_ = now;
      CatchUpStep();  // storage_catch_up.cc
    }
    if (auto now = std::chrono::steady_clock::now(); now - last_tier_step_ >= options_.tiering.interval) {
      last_tier_step_ = now;
      if (auto step = TierStep(); !step) Log(LogLevel::kWarn, "tiering: {}", step.error().ToString());
    }
    lock.lock();
    bool due = std::chrono::steady_clock::now() - last >= interval;
    bool dirty = db_->cache().dirty_bytes() > options_.metadata_cache_bytes / 4;
    if (!due && !dirty) continue;
    lock.unlock();
    auto status = CommitAll();
    if (!status) Log(LogLevel::kError, "background commit failed: {}", status.error().ToString());
    for (auto& volume : OpenVolumes()) {
      if (volume->read_only()) continue;
      auto cleaned = volume->Clean(VolumeImpl::CleanMode::kNormal);
      if (!cleaned) Log(LogLevel::kWarn, "cleaning volume '{}': {}", volume->name(), cleaned.error().ToString());
    }
    last = std::chrono::steady_clock::now();
    lock.lock();
  }
}

void Storage::Impl::StartBackground(std::chrono::milliseconds interval) {
  lease_->Start();  // note 6: once (a server that forked starts it here)
  std::lock_guard lock(bg_mu_);
  if (bg_.joinable()) return;
  bg_stop_ = false;
  bg_ = std::thread([this, interval] { BackgroundLoop(interval); });
}

void Storage::Impl::StopBackground() {
  {
    std::lock_guard lock(bg_mu_);
    bg_stop_ = true;
  }
  bg_cv_.notify_all();
  if (bg_.joinable()) bg_.join();
}

Status Storage::Impl::Close() {
  StopBackground();
  Status first = CloseIdleVolumes();
  for (auto& v : OpenVolumes()) {
    auto s = v->Flush();
    if (!s && first) first = s;
  }
  auto s = CommitAll();
  if (!s && first) first = s;
  return first;
}

Result<PoolStatus> Storage::Impl::GetPoolStatus() {
  std::lock_guard lock(mu_);
  PoolStatus st;
  Pool& p = db_->pool();
  st.name = p.config().name;
  st.uuid = UuidToString(p.uuid());
  st.txg = db_->txg();
  st.vdevs = VdevStatuses();
  for (const VdevStatus& v : st.vdevs) {
    st.size_bytes += v.size_bytes;
    st.used_bytes += v.used_bytes;
  }
  st.free_bytes = st.size_bytes - st.used_bytes;
  auto datasets = TRY(db_->ListDatasets());
  st.volumes = datasets.size();
  st.dead_pinned_bytes = TRY(db_->DeadListBytes());
  for (const DatasetInfo& d : datasets) {
    if (d.snapshots > 0) st.dead_pinned_bytes += TRY(PinnedDeadRowBytesLocked(d.name));
  }
  st.metadata_copies = db_->metadata_copies_setting();
  st.metadata_copies_written = db_->metadata_copies();
  st.memory = MemoryUse{.limit_bytes = options_.memory_bytes,
                        .data_bytes = budget_->used(),
                        .dirty_bytes = budget_->dirty(),
                        .metadata_bytes = db_->cache().clean_bytes() + db_->cache().dirty_bytes()};
  st.placement = TRY(PlacementLocked());
  st.tiering = TieringStatusNow();
  st.health = p.Healthy() ? "online" : "degraded";
  if (!p.Healthy()) st.degraded_volumes = TRY(DegradedVolumes());
  return st;
}

Status Storage::Impl::CheckConfigReadsBack(const PoolConfig& config) const {
  auto parsed = ParsePoolConfig(ConfigText(config, dir_), dir_);
  if (!parsed) return Err(parsed.error().WithContext("pool.conf would not read back"));
  return Ok();
}

Status Storage::Impl::SavePoolConfig(const PoolConfig& config) {
  TRY_STATUS(CheckConfigReadsBack(config));
  return WriteFileAtomically(dir_ + "/pool.conf", ConfigText(config, dir_), 0600);
}

std::unique_lock<std::mutex> Storage::Impl::LockIdle(const std::string& volume, bool opening) {
  std::string name(VolumeOf(volume));
  std::unique_lock lock(mu_);
  holds_cv_.wait(lock, [&] {
    auto [first, last] = holds_.equal_range(name);
    return std::none_of(first, last,
                        [&](const auto& h) { return !opening || h.second == Hold::kExclusive; });
  });
  return lock;
}

Result<CheckReport> Storage::Impl::Check() {
  std::lock_guard work(work_mu_);
  // Cached writes go down without mu_ (locking note 2), and so does the
  // database's check: it takes its own lock only to commit and pin that
  // commit, and walks it without (core/db/walk_pin.cc), so short calls and
  // commits go on meanwhile.
  TRY_STATUS(CloseIdleVolumes());
  for (auto& v : OpenVolumes()) TRY_STATUS(v->Flush());
  return db_->Check(ExnodeDataBlocks);
}

}  // namespace tessera
