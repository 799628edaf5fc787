// The control socket server.
//
// Design notes
//  1. One accept thread polls the listening socket and an eventfd (stop_fd_).
//     Each accepted connection gets a thread; every wait in a connection
//     thread also polls stop_fd_, so Stop() wakes all of them at once.
//  2. Finished connection threads are joined by the accept thread the next
//     time it wakes (at least once a second), and all of them by Stop().
//  3. Connection states, per thread (ServeConnection):
//
//        reading --line--> dispatching --> writing --ok--> reading
//           |  \--EOF / idle timeout / stop / error--> closed
//           \--line too long--> writing error --> closed
//
//  4. The socket file is removed only if its inode is still the one we
//     bound: a later server that replaced it keeps its own socket.
//  5. Besides the socket's mode, each peer's credentials (SO_PEERCRED) are
//     checked at accept: root, the pool directory's owner, or the server's
//     own user. Anyone else gets one PermissionDenied response line, and the
//     connection is closed.
#include "core/control/server.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "core/control/dispatch.h"
#include "core/control/protocol.h"
#include "core/control/protocol_repair.h"
#include "core/control/unix_socket.h"
#include "core/util/log.h"

namespace tessera {

class ControlServer::Impl {
 public:
  Impl(Storage& storage, std::string path, ControlServerOptions options)
      : storage_(storage), path_(std::move(path)), options_(options) {}
  ~Impl() { Stop(); }

  Status Listen();
  void Stop();
  const std::string& path() const { return path_; }

 private:
  struct Connection {
    UniqueFd fd;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void AcceptLoop();
  void ServeConnection(Connection* connection);
  // Note 5: Ok for root, the pool directory's owner and the server's user.
  Status CheckPeer(int fd) const;
  void JoinFinished(bool all);

  Storage& storage_;
  const std::string path_;
  const ControlServerOptions options_;
  UniqueFd listen_fd_;
  UniqueFd stop_fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::thread accept_thread_;
  std::once_flag stop_once_;
  std::list<Connection> connections_;  // touched only by the accept thread, then Stop()
};

Status ControlServer::Impl::Listen() {
  stop_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_.valid()) return Err(Code::kIOError, "eventfd: {}", std::strerror(errno));
  listen_fd_ = TRY(ListenUnix(path_));
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return Ok();
}

void ControlServer::Impl::Stop() {
  std::call_once(stop_once_, [this] {
    if (stop_fd_.valid()) {
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(stop_fd_.get(), &one, sizeof(one));
    }
    if (accept_thread_.joinable()) accept_thread_.join();
    JoinFinished(/*all=*/true);
    struct stat st {};
    if (listen_fd_.valid() && ::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ &&
        st.st_ino == ino_) {
      ::unlink(path_.c_str());
    }
    listen_fd_.Reset();
  });
}

void ControlServer::Impl::JoinFinished(bool all) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (all || it->done.load()) {
      if (it->thread.joinable()) it->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void ControlServer::Impl::AcceptLoop() {
  for (;;) {
    JoinFinished(/*all=*/false);
    Status ready =
        WaitReadable(listen_fd_.get(), DeadlineAfter(std::chrono::seconds(1)), stop_fd_.get());
    if (!ready) {
      if (ready.error().code() == Code::kBusy) return;  // stopping
      continue;                                         // timed out: reap and wait again
    }
    UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
        Log(LogLevel::kWarn, "control: accept on {}: {}", path_, std::strerror(errno));
      }
      continue;
    }
    if (Status allowed = CheckPeer(fd.get()); !allowed) {  // note 5
      Log(LogLevel::kWarn, "control: refused a connection: {}", allowed.error().message());
      (void)WriteAll(fd.get(), EncodeLine(ErrorResponse(allowed.error())) + "\n",
                     DeadlineAfter(std::chrono::seconds(1)), stop_fd_.get());
      continue;  // closes fd
    }
    if (connections_.size() >= options_.max_connections) {
      Log(LogLevel::kWarn, "control: {} connections already open; refusing another",
          connections_.size());
      continue;  // closes fd
    }
    Connection& connection = connections_.emplace_back();
    connection.fd = std::move(fd);
    connection.thread = std::thread([this, &connection] { ServeConnection(&connection); });
  }
}

Status ControlServer::Impl::CheckPeer(int fd) const {
  ucred peer{};
  socklen_t length = sizeof(peer);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
    return Err(Code::kPermissionDenied, "cannot read the peer's credentials: {}", std::strerror(errno));
  }
  struct stat dir {};
  bool have_owner = ::stat(storage_.dir().c_str(), &dir) == 0;
  if (peer.uid == 0 || peer.uid == ::geteuid() || (have_owner && peer.uid == dir.st_uid)) return Ok();
  return Err(Code::kPermissionDenied,
             "uid {} may not manage pool {}: only root and the pool directory's owner (uid {}) may", peer.uid,
             storage_.dir(), have_owner ? std::to_string(dir.st_uid) : std::string("unknown"));
}

void ControlServer::Impl::ServeConnection(Connection* connection) {
  const int fd = connection->fd.get();
  LineReader reader(fd);
  for (;;) {
    auto line =
        reader.ReadLine(kMaxRequestLine, DeadlineAfter(options_.idle_timeout), stop_fd_.get());
    if (!line && line.error().code() == Code::kInvalidArgument) {
      // Too long: answer, then drop the connection (the rest of the line is
      // still unread).
      (void)WriteAll(fd, EncodeLine(ErrorResponse(line.error())) + "\n",
                     DeadlineAfter(std::chrono::seconds(5)), stop_fd_.get());
      break;
    }
    if (!line || !*line) break;  // stop, timeout, EOF or error
    // Progress lines (protocol_repair.h) go out as the request runs; a
    // client that stopped reading only loses them.
    auto progress = [&](const Progress& p) {
      (void)WriteAll(fd, EncodeLine(ProgressLine(p)) + "\n", DeadlineAfter(options_.idle_timeout),
                     stop_fd_.get());
    };
    // A descriptor passed with the request (dispatch.h contract 4) is the
    // request's alone: closed once it is answered, like any stray one.
    std::vector<UniqueFd> passed = reader.TakePassedFds();
    std::string response =
        HandleRequestLine(storage_, **line, progress, passed.empty() ? -1 : passed.front().get());
    passed.clear();
    response.push_back('\n');
    if (!WriteAll(fd, response, DeadlineAfter(options_.idle_timeout), stop_fd_.get())) break;
  }
  connection->fd.Reset();
  connection->done.store(true);
}

std::string ControlSocketPath(const std::string& pool_dir) { return pool_dir + "/control.sock"; }

ControlServer::ControlServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ControlServer::~ControlServer() = default;

Result<std::unique_ptr<ControlServer>> ControlServer::Start(Storage& storage,
                                                            std::string socket_path,
                                                            ControlServerOptions options) {
  auto impl = std::make_unique<Impl>(storage, std::move(socket_path), options);
  TRY_STATUS(impl->Listen());
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

void ControlServer::Stop() { impl_->Stop(); }
const std::string& ControlServer::socket_path() const { return impl_->path(); }

}  // namespace tessera
