// The pool's lease (pool_lease.h).
#include "core/pool/pool_lease.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>

#include "core/util/checksum.h"
#include "core/util/log.h"
#include "core/util/uuid.h"

namespace tessera {
namespace {

std::string FirstLine(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

uint64_t NowMs() {
  using namespace std::chrono;
  return static_cast<uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

// The record with the highest sequence.
std::optional<LeaseRecord> Newest(const std::vector<LeaseRecord>& records) {
  auto it = std::ranges::max_element(records, {}, &LeaseRecord::sequence);
  if (it == records.end()) return std::nullopt;
  return *it;
}

bool ProcessAlive(uint32_t pid) {
  return pid != 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

// The holders of this process's leases that have not ended: a record of
// this pid whose holder is not here belongs to an open that ended without
// releasing.
std::mutex live_mu;
std::set<uint64_t> live_holders;  // GUARDED_BY(live_mu)

bool LiveInThisProcess(uint64_t holder) {
  std::lock_guard lock(live_mu);
  return live_holders.contains(holder);
}

std::string Holder(const LeaseRecord& r) { return fmt::format("host {} (pid {})", r.host_name, r.pid); }

}  // namespace

uint64_t LeaseHostId(const std::string& identity) {
  std::string id = identity;
  if (id.empty()) {
    const char* env = std::getenv("TESSERA_HOST_ID");
    id = env != nullptr && *env != '\0'
             ? std::string(env)
             : FirstLine("/etc/machine-id") + "/" + FirstLine("/proc/sys/kernel/random/boot_id");
  }
  return std::max<uint64_t>(1, Checksum64(id.data(), id.size()));
}

Result<std::unique_ptr<PoolLease>> PoolLease::Acquire(Pool& pool, const LeaseOptions& options) {
  const auto interval = std::max(options.interval, std::chrono::milliseconds(1));
  LeaseRecord mine{.holder = std::max<uint64_t>(1, RandomU64()),
                   .host_id = LeaseHostId(options.host_identity),
                   .interval_ms = static_cast<uint32_t>(interval.count()),
                   .pid = static_cast<uint32_t>(::getpid()),
                   .state = LeaseRecord::State::kHeld,
                   .host_name = HostName()};
  std::optional<LeaseRecord> newest = Newest(pool.ReadLeases());
  if (newest && newest->state == LeaseRecord::State::kHeld) {
    if (newest->host_id == mine.host_id) {
      const bool alive = newest->pid == mine.pid ? LiveInThisProcess(newest->holder) : ProcessAlive(newest->pid);
      if (alive) {
        return Err(Code::kBusy, "the pool is in use by process {} on this host, through another pool directory "
                   "naming the same vdevs", newest->pid);
      }
    } else {
      // Watch its renewals: kWatchIntervals of its intervals (a minute at
      // most, whatever a damaged record says) and one of ours (contract 6).
      const auto watch =
          kWatchIntervals * std::chrono::milliseconds(std::min<uint32_t>(newest->interval_ms, 60000)) + interval;
      Log(LogLevel::kInfo, "the pool's lease is held by {}; watching it for {} ms for renewals", Holder(*newest),
          watch.count());
      std::this_thread::sleep_for(watch);
      std::optional<LeaseRecord> again = Newest(pool.ReadLeases());
      if (again && (again->holder != newest->holder || again->sequence != newest->sequence)) {
        return Err(Code::kBusy, "the pool is in use by {}: its lease was renewed while this open watched it for "
                   "{} ms; open it there, or stop that server first", Holder(*again), watch.count());
      }
      Log(LogLevel::kWarn, "taking over the pool's lease from {}, which did not renew it in {} ms", Holder(*newest),
          watch.count());
    }
  }
  mine.sequence = (newest ? newest->sequence : 0) + 1;
  return std::unique_ptr<PoolLease>(new PoolLease(pool, mine, interval));
}

Status PoolLease::Take() {
  std::lock_guard lock(mu_);
  const auto start = std::chrono::steady_clock::now();
  mine_.time_ms = NowMs();
  TRY_STATUS(pool_.WriteLease(mine_));
  renewed_at_ = start;
  return Ok();
}

Status PoolLease::Renew(LeaseRecord next) {
  const auto start = std::chrono::steady_clock::now();
  next.sequence++;
  next.time_ms = NowMs();
  TRY_STATUS(pool_.WriteLease(next));
  std::lock_guard lock(mu_);
  mine_ = next;
  renewed_at_ = start;
  pool_.SetLeaseDeadline(start + kFenceIntervals * interval_);
  return Ok();
}

PoolLease::PoolLease(Pool& pool, LeaseRecord mine, std::chrono::milliseconds interval)
    : pool_(pool), interval_(interval), mine_(std::move(mine)) {
  std::lock_guard lock(live_mu);
  live_holders.insert(mine_.holder);
}

void PoolLease::Start() {
  std::unique_lock lock(mu_);
  if (started_ || released_) return;
  started_ = true;
  const auto pid = static_cast<uint32_t>(::getpid());
  // A server that forked since Take: the record names this process. One
  // that took long to start: its deadline would be near (contract 6).
  if (pid != mine_.pid || std::chrono::steady_clock::now() - renewed_at_ > interval_ / 2) {
    LeaseRecord next = mine_;
    next.pid = pid;
    lock.unlock();
    Status renewed = Renew(next);
    if (!renewed) Log(LogLevel::kWarn, "the pool's lease was not renewed at start: {}", renewed.error().ToString());
    lock.lock();
  }
  pool_.SetLeaseDeadline(renewed_at_ + kFenceIntervals * interval_);  // from Take's write, or Renew's
  renewer_ = std::thread([this] { RenewLoop(); });
}

PoolLease::~PoolLease() {
  bool started;
  {
    std::lock_guard lock(mu_);
    started = started_;
  }
  if (started) (void)Release();
  std::lock_guard lock(live_mu);
  live_holders.erase(mine_.holder);
}

bool PoolLease::lost() const {
  std::lock_guard lock(mu_);
  return lost_;
}

void PoolLease::RenewLoop() {
  std::unique_lock lock(mu_);
  bool warned = false;
  for (;;) {
    if (stop_cv_.wait_for(lock, interval_, [this] { return stopping_; })) return;
    // Contract 6: past its deadline a renewal could land after another
    // host took over; the pool stops writing, and the lease is given up.
    pool_.FenceIfLeaseExpired();
    if (pool_.fenced()) {
      lost_ = true;
      return;
    }
    LeaseRecord next = mine_;
    lock.unlock();
    std::vector<LeaseRecord> records = pool_.ReadLeases();
    auto taken = std::ranges::find_if(records, [&](const LeaseRecord& r) {
      return r.holder != next.holder && r.sequence > next.sequence;
    });
    if (taken != records.end()) {  // contract 2
      const std::string reason = fmt::format("{} took over the pool's lease", Holder(*taken));
      pool_.Fence(reason);
      Log(LogLevel::kError, "{}: this process writes nothing more to the pool", reason);
      lock.lock();
      lost_ = true;
      return;
    }
    Status written = Renew(next);
    if (!written && !warned) {
      Log(LogLevel::kWarn, "the pool's lease was not renewed: {}; the pool stops writing {} ms after the last "
          "renewal unless one succeeds", written.error().ToString(), (kFenceIntervals * interval_).count());
    }
    warned = !written;
    lock.lock();
  }
}

Status PoolLease::Release() {
  {
    std::lock_guard lock(mu_);
    if (released_) return Ok();
    released_ = true;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  std::lock_guard lock(mu_);
  if (!started_) return Ok();
  pool_.SetLeaseDeadline({});
  if (lost_ || pool_.fenced()) return Ok();  // contract 6: another host may hold it now
  LeaseRecord released = mine_;
  released.sequence++;
  released.time_ms = NowMs();
  released.state = LeaseRecord::State::kReleased;
  return pool_.WriteLease(released);
}

}  // namespace tessera
