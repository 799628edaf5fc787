// Unix-domain stream sockets carrying '\n'-terminated lines, with deadlines.
// Used by the control server and client only.
//
// Contract
//  1. Every call that waits takes a deadline and returns IOError("timed out")
//     once it passes; none blocks forever.
//  2. A wait may also watch `stop_fd` (readable = stop): the call then
//     returns Busy("stopping") so a server can shut down promptly.
//  3. Paths longer than sun_path are InvalidArgument naming the path.
//  4. File descriptors are owned by UniqueFd and closed exactly once.
//  5. A descriptor may travel with a message (SCM_RIGHTS): SendWithFd sends
//     it with the message's first byte; LineReader keeps every descriptor
//     it receives (at most kMaxPassedFds per read) until TakePassedFds, and
//     closes those nobody took.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/util/status.h"
#include "core/util/unique_fd.h"

namespace tessera {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline DeadlineAfter(std::chrono::milliseconds timeout) {
  return std::chrono::steady_clock::now() + timeout;
}

// Connects to a listening socket. NotFound when nobody listens there (no
// such file, or a stale socket file: ECONNREFUSED).
Result<UniqueFd> ConnectUnix(const std::string& path, Deadline deadline);

// Binds and listens on `path` with mode 0600. An existing socket file at
// `path` is replaced (the caller must know no live server owns it, e.g. by
// holding the pool lock); any other existing file is Busy and left alone.
Result<UniqueFd> ListenUnix(const std::string& path);

// Waits until `fd` is readable (or `stop_fd`, if >= 0, is).
Status WaitReadable(int fd, Deadline deadline, int stop_fd = -1);

Status WriteAll(int fd, std::string_view data, Deadline deadline, int stop_fd = -1);
// WriteAll, with `passed_fd` (when >= 0) travelling with the first byte.
Status SendWithFd(int fd, std::string_view data, int passed_fd, Deadline deadline);

inline constexpr size_t kMaxPassedFds = 4;

// Buffers reads from one socket and splits them into lines.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // The next line without its '\n'; nullopt at a clean end of stream.
  // InvalidArgument when a line exceeds `max_line` bytes; IOError when the
  // stream ends in the middle of a line.
  Result<std::optional<std::string>> ReadLine(size_t max_line, Deadline deadline, int stop_fd = -1);
  // The descriptors received so far (contract 5), oldest first.
  std::vector<UniqueFd> TakePassedFds();

 private:
  void KeepPassedFds(const msghdr& msg);
  int fd_;
  std::string buffer_;
  std::vector<UniqueFd> passed_fds_;
};

}  // namespace tessera
