// NbdLink (nbd_link.h): the connection state machine of one NBD export.
//
// Design notes
//  1. One I/O thread makes every libnbd call after Connect(): submitters
//     only queue commands and wake it through an eventfd. libnbd would let
//     them issue commands themselves, but a thread sleeping in poll() for
//     replies would not learn that the socket now has data to send.
//  2. States, all in Run():
//
//        up --(socket error, server closed, command past its deadline)--> down
//        down --(TryReconnect: attempt made, export checked)------------> up
//        down --(attempt failed: backoff doubles)----------------------> down
//
//     DropConnection takes up to down. While down, TryReconnect runs when
//     next_attempt_ comes (at once after a drop). Attempts block the I/O
//     thread for at most the timeout: commands queued meanwhile wait for
//     the result (contract 4).
//  3. A command enters in_flight_ before its nbd_aio_* call and leaves it
//     when it completes: through OnComplete (libnbd's completion callback,
//     called in this thread from a notify or from nbd_close), through a
//     failed issue, or through DropConnection for whatever nbd_close left.
//     Whichever comes first completes it; the others find it gone.
//  4. Expired commands (contract 3) are found by walking in_flight_ once per
//     loop turn; a link holds at most a few hundred commands.
//  5. Completed commands are handed back (Deliver) only after the libnbd
//     call that completed them returned and the connection's state was
//     brought up to date: a submitter that sees a command fail for a lost
//     connection then also sees connected() false, and a Flush is never
//     skipped on a connection that is already gone.
//  6. Threads do not survive a fork and sockets are shared by it (contract
//     8): a child leaks the parent's thread object (ForgetParentThread),
//     drops the parent's handle without closing it, and makes its own
//     eventfd and connection. Detecting the fork by pid at Submit(), as
//     WorkerPool does, needs no hook in the plugin.
#include "core/vdev/nbd_link.h"

#include <libnbd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/util/log.h"

namespace tessera::vdev_internal {
namespace {

constexpr char kForkedReason[] = "the process forked";

std::string LibnbdError() {
  const char* message = nbd_get_error();
  return message ? message : "unknown libnbd error";
}

// A new handle connected to options.uri, or why not (contract 1).
Result<nbd_handle*> OpenHandle(const NbdLinkOptions& options, NbdExportInfo* info) {
  const auto deadline = NbdClock::now() + options.timeout;
  nbd_handle* h = nbd_create();
  if (h == nullptr) return Err(Code::kIOError, "nbd {}: {}", options.uri, LibnbdError());
  auto fail = [&](Code code, std::string why) -> Result<nbd_handle*> {
    nbd_close(h);
    return Err(code, "nbd {}: {}", options.uri, why);
  };
  // tls-psk-file and tls-certificates name local files (nbd_connect_uri(3)).
  nbd_set_uri_allow_local_file(h, true);
  nbd_set_handle_name(h, "tessera-vdev");
  if (nbd_aio_connect_uri(h, options.uri.c_str()) == -1) {
    int error = nbd_get_errno();
    std::string why = LibnbdError();
    bool bad_uri = error == EINVAL || error == ENOTSUP || error == EPROTONOSUPPORT || error == EPERM;
    return fail(bad_uri ? Code::kInvalidArgument : Code::kNotFound, "cannot connect: " + why);
  }
  while (nbd_aio_is_ready(h) != 1) {
    if (nbd_aio_is_dead(h) == 1 || nbd_aio_is_closed(h) == 1) {
      return fail(Code::kNotFound, "cannot connect: " + LibnbdError());
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - NbdClock::now());
    if (left.count() <= 0) {
      return fail(Code::kNotFound, fmt::format("no handshake within {} ms", options.timeout.count()));
    }
    if (nbd_poll(h, static_cast<int>(left.count())) == -1) {
      return fail(Code::kNotFound, "cannot connect: " + LibnbdError());
    }
  }
  int64_t size = nbd_get_size(h);
  if (size < 0) return fail(Code::kIOError, "cannot read the export's size: " + LibnbdError());
  if (nbd_is_read_only(h) == 1) return fail(Code::kInvalidArgument, "the export is read-only");
  if (static_cast<uint64_t>(size) < options.min_bytes) {
    return fail(Code::kInvalidArgument,
                fmt::format("the export has {} bytes, fewer than the {} needed", size, options.min_bytes));
  }
  info->size_bytes = static_cast<uint64_t>(size);
  info->can_flush = nbd_can_flush(h) == 1;
  info->can_zero = nbd_can_zero(h) == 1;
  info->can_multi_conn = nbd_can_multi_conn(h) == 1;
  int64_t max_block = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
  if (max_block > 0) info->max_request_bytes = std::min<uint64_t>(info->max_request_bytes, max_block);
  return h;
}

}  // namespace

void NbdWaiter::Done() {
  std::lock_guard lock(mu_);
  // Notified under the lock: the waiter may free this object once it sees 0.
  if (--remaining_ == 0) cv_.notify_all();
}

void NbdWaiter::Wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return remaining_ == 0; });
}

Result<std::unique_ptr<NbdLink>> NbdLink::Connect(NbdLinkOptions options) {
  NbdExportInfo info;
  nbd_handle* handle = TRY(OpenHandle(options, &info));
  int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    nbd_close(handle);
    return Err(Code::kIOError, "nbd {}: eventfd: {}", options.uri, std::strerror(errno));
  }
  return std::unique_ptr<NbdLink>(new NbdLink(std::move(options), handle, info, wake_fd));
}

NbdLink::NbdLink(NbdLinkOptions options, nbd_handle* handle, NbdExportInfo info, int wake_fd)
    : options_(std::move(options)), info_(info), owner_pid_(::getpid()), wake_fd_(wake_fd), handle_(handle) {}

NbdLink::~NbdLink() {
  const pid_t pid = ::getpid();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  if (thread_pid_ == pid) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  } else {
    ForgetParentThread();
    if (owner_pid_ == pid && handle_ != nullptr) nbd_close(handle_);  // never used here
  }
  ::close(wake_fd_);
}

void NbdLink::ForgetParentThread() {
  // A parent's thread does not exist here: joining it would wait forever and
  // pthread_detach fails on it (std::thread then throws). Its object is
  // moved out and never destroyed (note 6).
  if (thread_.joinable()) new std::thread(std::move(thread_));
}

void NbdLink::EnsureThreadLocked() {
  const pid_t pid = ::getpid();
  if (thread_pid_ == pid) return;
  ForgetParentThread();
  if (owner_pid_ != pid) {
    // The parent's handle may be locked by its thread, which does not run
    // here: it is left alone, and so are its commands and queue.
    if (handle_ != nullptr && !info_.can_multi_conn && writes_completed_.load() > writes_flushed_.load()) {
      lost_unflushed_.store(true);
    }
    handle_ = nullptr;
    connected_.store(false);
    down_reason_ = kForkedReason;
    next_attempt_ = NbdClock::now();
    in_flight_.clear();
    completed_.clear();
    pending_.clear();
    int fresh = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fresh >= 0) {
      ::close(wake_fd_);  // the parent's thread reads the one it shares
      wake_fd_ = fresh;
    }
    owner_pid_ = pid;
  }
  thread_pid_ = pid;
  thread_ = std::thread([this] { Run(); });
}

void NbdLink::Submit(std::span<NbdCommand> commands) {
  const auto deadline = NbdClock::now() + options_.timeout;
  {
    std::lock_guard lock(mu_);
    EnsureThreadLocked();
    for (NbdCommand& command : commands) {
      command.deadline = deadline;
      command.link = this;
      pending_.push_back(&command);
    }
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void NbdLink::NoteFlushed(uint64_t writes_covered) {
  uint64_t seen = writes_flushed_.load();
  while (seen < writes_covered && !writes_flushed_.compare_exchange_weak(seen, writes_covered)) {
  }
}

void NbdLink::Run() {
  std::vector<NbdCommand*> taken;
  for (;;) {
    if (handle_ == nullptr && NbdClock::now() >= next_attempt_) TryReconnect();
    taken.clear();
    bool stop;
    {
      std::lock_guard lock(mu_);
      stop = stopping_;
      taken.swap(pending_);
    }
    if (stop) {
      for (NbdCommand* command : taken) Complete(command, ECANCELED, "the vdev is closing");
      DropConnection(ECANCELED, "the vdev is closing");
      Deliver();
      return;
    }
    for (NbdCommand* command : taken) {
      if (handle_ == nullptr) {
        Complete(command, ENOTCONN, "not connected: " + down_reason_);
      } else {
        Issue(command);
      }
    }
    Deliver();
    pollfd fds[2] = {{.fd = wake_fd_, .events = POLLIN}, {.fd = -1}};
    int timeout_ms = -1;
    if (handle_ != nullptr) {
      fds[1].fd = nbd_aio_get_fd(handle_);
      unsigned dir = nbd_aio_get_direction(handle_);
      fds[1].events = static_cast<short>(((dir & LIBNBD_AIO_DIRECTION_READ) ? POLLIN : 0) |
                                         ((dir & LIBNBD_AIO_DIRECTION_WRITE) ? POLLOUT : 0));
    }
    auto until = [&](NbdClock::time_point when) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - NbdClock::now()).count();
      int bounded = static_cast<int>(std::clamp<int64_t>(ms, 0, 60000));
      timeout_ms = timeout_ms < 0 ? bounded : std::min(timeout_ms, bounded);
    };
    for (const auto& [sequence, command] : in_flight_) until(command->deadline);
    if (handle_ == nullptr) until(next_attempt_);
    int ready = ::poll(fds, handle_ != nullptr ? 2 : 1, timeout_ms);
    if (ready < 0 && errno != EINTR) {
      DropConnection(EIO, fmt::format("poll: {}", std::strerror(errno)));
      continue;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
    if (handle_ != nullptr && fds[1].revents != 0) {
      unsigned dir = nbd_aio_get_direction(handle_);
      int r = 0;
      const short events = fds[1].revents;
      if ((dir & LIBNBD_AIO_DIRECTION_READ) && (events & (POLLIN | POLLHUP | POLLERR))) {
        r = nbd_aio_notify_read(handle_);
      } else if ((dir & LIBNBD_AIO_DIRECTION_WRITE) && (events & (POLLOUT | POLLHUP | POLLERR))) {
        r = nbd_aio_notify_write(handle_);
      }
      if (r == -1) {
        DropConnection(EIO, LibnbdError());
      } else if (nbd_aio_is_dead(handle_) == 1 || nbd_aio_is_closed(handle_) == 1) {
        DropConnection(EIO, "the server closed the connection");
      }
    }
    FailExpired();
    Deliver();
  }
}

int NbdLink::OnComplete(void* user_data, int* error) {
  auto* command = static_cast<NbdCommand*>(user_data);
  int e = *error;
  command->link->Complete(command, e, e == 0 ? std::string() : std::strerror(e));
  return 1;  // retired: no nbd_aio_command_completed needed
}

void NbdLink::Issue(NbdCommand* command) {
  command->sequence = next_sequence_++;
  in_flight_.emplace(command->sequence, command);
  nbd_completion_callback done{.callback = OnComplete, .user_data = command, .free = nullptr};
  int64_t cookie = -1;
  switch (command->kind) {
    case NbdCommand::Kind::kRead:
      cookie = nbd_aio_pread(handle_, command->buffer, command->length, command->offset, done, 0);
      break;
    case NbdCommand::Kind::kWrite:
      cookie = nbd_aio_pwrite(handle_, command->buffer, command->length, command->offset, done, 0);
      break;
    case NbdCommand::Kind::kZero:
      cookie = nbd_aio_zero(handle_, command->length, command->offset, done, 0);
      break;
    case NbdCommand::Kind::kFlush:
      cookie = nbd_aio_flush(handle_, done, 0);
      break;
  }
  std::string why = "the server closed the connection";
  if (cookie == -1) {
    int error = nbd_get_errno();
    why = LibnbdError();
    if (in_flight_.contains(command->sequence)) Complete(command, error != 0 ? error : EIO, why);  // note 3
  }
  // Sending may find the connection dead, even for a command it accepted.
  if (nbd_aio_is_dead(handle_) == 1 || nbd_aio_is_closed(handle_) == 1) DropConnection(EIO, why);
}

void NbdLink::Complete(NbdCommand* command, int error, std::string message) {
  if (command->sequence != 0 && in_flight_.erase(command->sequence) == 0) return;  // note 3
  command->error = error;
  command->message = std::move(message);
  if (error == 0 && (command->kind == NbdCommand::Kind::kWrite || command->kind == NbdCommand::Kind::kZero)) {
    writes_completed_.fetch_add(1);
  }
  completed_.push_back(command);  // note 5
}

void NbdLink::Deliver() {
  for (NbdCommand* command : completed_) command->waiter->Done();  // the submitter's again
  completed_.clear();
}

void NbdLink::DropConnection(int error, const std::string& why) {
  if (handle_ == nullptr) return;
  if (writes_completed_.load() > writes_flushed_.load()) lost_unflushed_.store(true);  // contract 6
  nbd_handle* h = handle_;
  handle_ = nullptr;
  connected_.store(false);
  nbd_close(h);  // may complete commands through OnComplete (note 3)
  while (!in_flight_.empty()) Complete(in_flight_.begin()->second, error, why);
  down_reason_ = why;
  next_attempt_ = NbdClock::now();
  backoff_ = std::chrono::milliseconds{0};
  if (error != ECANCELED) Log(LogLevel::kWarn, "nbd {}: connection lost: {}", options_.uri, why);
}

void NbdLink::TryReconnect() {
  NbdExportInfo now;
  auto handle = OpenHandle(options_, &now);
  std::string why;
  if (!handle) {
    why = handle.error().message();
  } else if (now.size_bytes < info_.size_bytes) {
    why = fmt::format("nbd {}: the export shrank from {} to {} bytes", options_.uri, info_.size_bytes,
                      now.size_bytes);
  } else if ((info_.can_flush && !now.can_flush) || (info_.can_zero && !now.can_zero)) {
    why = fmt::format("nbd {}: the export no longer offers flush or zero", options_.uri);
  }
  if (!why.empty()) {
    if (handle) nbd_close(*handle);
    if (backoff_.count() == 0) Log(LogLevel::kWarn, "{} (retrying with backoff)", why);
    down_reason_ = why;
    backoff_ = backoff_.count() == 0 ? options_.backoff_min : std::min(backoff_ * 2, options_.backoff_max);
    next_attempt_ = NbdClock::now() + backoff_;
    return;
  }
  handle_ = *handle;
  connected_.store(true);
  const bool after_fork = down_reason_ == kForkedReason;
  if (!after_fork) reconnects_.fetch_add(1);
  Log(after_fork ? LogLevel::kDebug : LogLevel::kInfo, "nbd {}: {}", options_.uri,
      after_fork ? "connected in the forked process" : "reconnected");
}

void NbdLink::FailExpired() {
  if (handle_ == nullptr) return;
  const auto now = NbdClock::now();
  for (const auto& [sequence, command] : in_flight_) {
    if (command->deadline <= now) {
      DropConnection(ETIMEDOUT, fmt::format("no reply within {} ms", options_.timeout.count()));
      return;
    }
  }
}

}  // namespace tessera::vdev_internal
