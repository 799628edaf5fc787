// Line I/O over Unix stream sockets with deadlines (poll + non-blocking fds).
//
// Design notes
//  1. Sockets are created SOCK_NONBLOCK | SOCK_CLOEXEC; every read and write
//     is preceded by poll() with the time left, so nothing blocks past its
//     deadline.
//  2. send() uses MSG_NOSIGNAL: a client that hangs up mid-response gives
//     EPIPE, not a SIGPIPE that would kill the server (nbdkit).
//  3. ListenUnix chmods the socket to 0600 between bind() and listen(): no
//     connection can be accepted before the mode is right.
#include "core/control/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/map_error.h"

namespace tessera {
namespace {

Result<sockaddr_un> MakeAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return Err(Code::kInvalidArgument,
               "socket path '{}' is {} bytes; a Unix socket path must be 1..{} bytes", path,
               path.size(), sizeof(addr.sun_path) - 1);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

int MillisLeft(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > INT32_MAX ? INT32_MAX : static_cast<int>(left.count());
}

// Waits for `events` on `fd`.
Status WaitFor(int fd, short events, Deadline deadline, int stop_fd) {
  for (;;) {
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int n = poll(fds, stop_fd >= 0 ? 2 : 1, MillisLeft(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(Code::kIOError, "poll: {}", std::strerror(errno));
    }
    if (stop_fd >= 0 && (fds[1].revents & POLLIN)) return Err(Code::kBusy, "stopping");
    if (n > 0 && fds[0].revents != 0) return Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Err(Code::kIOError, "timed out");
    }
  }
}

}  // namespace

Result<UniqueFd> ConnectUnix(const std::string& path, Deadline deadline) {
  sockaddr_un addr = TRY(MakeAddress(path));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Err(Code::kIOError, "socket: {}", std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  int error = errno;
  if (error == ENOENT || error == ECONNREFUSED) {
    return Err(Code::kNotFound, "no server listening on {}", path);
  }
  if (error != EAGAIN && error != EINPROGRESS) {
    return Err(Code::kIOError, "connect {}: {}", path, std::strerror(error));
  }
  // The listen backlog is full: wait for the connection to complete.
  TRY_STATUS(MapError(WaitFor(fd.get(), POLLOUT, deadline, -1), [&](const Error& e) {
    return e.WithContext(fmt::format("connect {}", path));
  }));
  int so_error = 0;
  socklen_t len = sizeof(so_error);
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) return Err(Code::kIOError, "connect {}: {}", path, std::strerror(so_error));
  return fd;
}

Result<UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un addr = TRY(MakeAddress(path));
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Err(Code::kBusy, "{} exists and is not a socket; not replacing it", path);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Err(Code::kIOError, "remove stale socket {}: {}", path, std::strerror(errno));
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Err(Code::kIOError, "socket: {}", std::strerror(errno));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Err(Code::kIOError, "bind {}: {}", path, std::strerror(errno));
  }
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), 16) != 0) {
    int error = errno;
    ::unlink(path.c_str());
    return Err(Code::kIOError, "listen {}: {}", path, std::strerror(error));
  }
  return fd;
}

Status WaitReadable(int fd, Deadline deadline, int stop_fd) {
  return WaitFor(fd, POLLIN, deadline, stop_fd);
}

Status WriteAll(int fd, std::string_view data, Deadline deadline, int stop_fd) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      TRY_STATUS(WaitFor(fd, POLLOUT, deadline, stop_fd));
      continue;
    }
    return Err(Code::kIOError, "send: {}", std::strerror(errno));
  }
  return Ok();
}

// Contract 5: every descriptor that came with the bytes is kept, even when
// the control data was truncated (MSG_CTRUNC closes nothing we received).
void LineReader::KeepPassedFds(const msghdr& msg) {
  for (const cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      passed_fds_.emplace_back(fd);
    }
  }
}

std::vector<UniqueFd> LineReader::TakePassedFds() { return std::exchange(passed_fds_, {}); }

Status SendWithFd(int fd, std::string_view data, int passed_fd, Deadline deadline) {
  if (passed_fd < 0) return WriteAll(fd, data, deadline);
  if (data.empty()) return Err(Code::kInvalidArgument, "a descriptor needs at least one byte to travel with");
  // The descriptor travels with the first byte; the rest follows as usual.
  for (;;) {
    iovec iov{.iov_base = const_cast<char*>(data.data()), .iov_len = 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &passed_fd, sizeof(int));
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      TRY_STATUS(WaitFor(fd, POLLOUT, deadline, -1));
      continue;
    }
    return Err(Code::kIOError, "sendmsg: {}", std::strerror(errno));
  }
  return WriteAll(fd, data.substr(1), deadline);
}

Result<std::optional<std::string>> LineReader::ReadLine(size_t max_line, Deadline deadline,
                                                        int stop_fd) {
  size_t scanned = 0;
  for (;;) {
    size_t newline = buffer_.find('\n', scanned);
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(0, newline);
      buffer_.erase(0, newline + 1);
      return line;
    }
    scanned = buffer_.size();
    if (buffer_.size() > max_line) {
      return Err(Code::kInvalidArgument, "line longer than {} bytes", max_line);
    }
    char chunk[64 * 1024];
    iovec iov{.iov_base = chunk, .iov_len = sizeof(chunk)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    ssize_t n = ::recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) KeepPassedFds(msg);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      if (buffer_.empty()) return std::nullopt;
      return Err(Code::kIOError, "connection closed in the middle of a line");
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      TRY_STATUS(WaitReadable(fd_, deadline, stop_fd));
      continue;
    }
    return Err(Code::kIOError, "recv: {}", std::strerror(errno));
  }
}

}  // namespace tessera
