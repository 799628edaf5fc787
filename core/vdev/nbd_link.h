// NbdLink: one connection to an NBD export, owned by one I/O thread that
// makes every libnbd call. Internal to NbdVdev (nbd_vdev.h).
//
// Contract
//  1. Connect() makes the first connection in the calling thread, waiting at
//     most options.timeout, and reads what the export offers (NbdExportInfo).
//     An export that cannot be reached (refused, absent socket, no handshake
//     in time) is NotFound; a URI libnbd refuses is InvalidArgument; an
//     export that is read-only or smaller than options.min_bytes is
//     InvalidArgument. All of them name the URI.
//  2. Submit() may be called from any thread. Each command is completed
//     exactly once, from the I/O thread: its `error` (0 or an errno) and
//     `message` are set, then its waiter's Done() is called. The command and
//     its buffer must stay valid until then; after it, the link never
//     touches them again.
//  3. Every command completes within about options.timeout of Submit(),
//     whatever the server does: a command past its deadline fails with
//     ETIMEDOUT and takes the connection down (NBD cannot cancel one
//     command, and only closing the connection gives its buffer back).
//  4. When the connection goes down, every command on it fails (EIO, or
//     ETIMEDOUT per 3), a reconnection is tried at once, and then again
//     after a backoff that doubles from options.backoff_min to
//     options.backoff_max. Commands submitted while an attempt is under way
//     wait for it; commands submitted while the last attempt failed fail at
//     once (ENOTCONN) with that attempt's error.
//  5. A reconnection is accepted only if the export is at least as large as
//     at Connect() and writable; its capabilities are read again.
//  6. Lost writes: when the connection goes down with writes completed that
//     no later flush covered (LostUnflushedWrites(); NbdVdev decides what
//     "covered" means through NoteFlushed()), the loss is remembered for
//     the link's life.
//  7. The destructor fails every command not yet completed (ECANCELED),
//     closes the connection and joins the I/O thread.
//  8. Fork: the I/O thread starts at the first Submit() of each process. A
//     child of a process that had used the link (nbdkit opens the pool,
//     then forks) neither uses nor closes the parent's connection: it makes
//     its own. When the export cannot take a flush on one connection for
//     writes completed on another (no multi-conn), writes the parent did
//     not flush count as lost (contract 6).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <sys/types.h>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/util/status.h"

struct nbd_handle;

namespace tessera::vdev_internal {

using NbdClock = std::chrono::steady_clock;
class NbdLink;

struct NbdLinkOptions {
  std::string uri;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  uint64_t min_bytes = 0;
};

// What the export offered when the connection was made.
struct NbdExportInfo {
  uint64_t size_bytes = 0;
  bool can_flush = false;
  bool can_zero = false;
  // A flush on one connection covers writes completed on any other.
  bool can_multi_conn = false;
  // Largest payload of one read or write (the server's maximum block size,
  // else the 32 MiB the NBD protocol recommends).
  uint64_t max_request_bytes = 32ull << 20;
};

// Counts down the commands of one batch; the submitter waits on it.
class NbdWaiter {
 public:
  explicit NbdWaiter(size_t count) : remaining_(count) {}
  void Done();
  void Wait();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t remaining_;  // GUARDED_BY(mu_)
};

struct NbdCommand {
  enum class Kind : uint8_t { kRead, kWrite, kZero, kFlush };
  Kind kind = Kind::kRead;
  void* buffer = nullptr;  // kRead, kWrite
  uint64_t length = 0;
  uint64_t offset = 0;
  NbdWaiter* waiter = nullptr;
  // Set by the link (contract 2).
  int error = 0;
  std::string message;
  // The I/O thread's own: when the command must be done, its place in flight.
  NbdClock::time_point deadline;
  uint64_t sequence = 0;
  NbdLink* link = nullptr;
};

class NbdLink {
 public:
  static Result<std::unique_ptr<NbdLink>> Connect(NbdLinkOptions options);
  ~NbdLink();
  NbdLink(const NbdLink&) = delete;
  NbdLink& operator=(const NbdLink&) = delete;

  void Submit(std::span<NbdCommand> commands);

  // As read at Connect() (contract 5: a reconnection may change the flags
  // only, and NbdVdev reads them from here once).
  const NbdExportInfo& info() const { return info_; }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  // Connections made again after a loss (not the one a forked child makes).
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  // Contract 6.
  bool LostUnflushedWrites() const { return lost_unflushed_.load(); }
  uint64_t WritesCompleted() const { return writes_completed_.load(); }
  void NoteFlushed(uint64_t writes_covered);

 private:
  NbdLink(NbdLinkOptions options, nbd_handle* handle, NbdExportInfo info, int wake_fd);

  void Run();                           // the I/O thread
  void EnsureThreadLocked();            // contract 8
  void ForgetParentThread();
  void Issue(NbdCommand* command);
  void Complete(NbdCommand* command, int error, std::string message);
  void Deliver();
  void DropConnection(int error, const std::string& why);
  void TryReconnect();
  void FailExpired();
  static int OnComplete(void* user_data, int* error);

  const NbdLinkOptions options_;
  const NbdExportInfo info_;

  std::mutex mu_;
  std::vector<NbdCommand*> pending_;  // GUARDED_BY(mu_): submitted, not yet taken
  bool stopping_ = false;             // GUARDED_BY(mu_)
  // Contract 8, GUARDED_BY(mu_): the process whose I/O thread runs (0:
  // none yet), and the one the handle, the eventfd and the queues are of.
  pid_t thread_pid_ = 0;
  pid_t owner_pid_;
  int wake_fd_;  // eventfd: Submit() and the destructor wake the thread

  // The I/O thread's alone after the constructor.
  nbd_handle* handle_;  // null while down
  std::map<uint64_t, NbdCommand*> in_flight_;  // by sequence: oldest first
  std::vector<NbdCommand*> completed_;           // to hand back (Deliver)
  uint64_t next_sequence_ = 1;
  std::string down_reason_;   // why the last attempt failed (contract 4)
  NbdClock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};

  std::atomic<bool> connected_{true};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> writes_completed_{0};
  std::atomic<uint64_t> writes_flushed_{0};
  std::atomic<bool> lost_unflushed_{false};
  std::thread thread_;
};

}  // namespace tessera::vdev_internal
