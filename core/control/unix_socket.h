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
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/util/status.h"

namespace tessera {

using Deadline = std::chrono::steady_clock::time_point;

inline Deadline DeadlineAfter(std::chrono::milliseconds timeout) {
  return std::chrono::steady_clock::now() + timeout;
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Reset();

 private:
  int fd_ = -1;
};

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

// Buffers reads from one socket and splits them into lines.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  // The next line without its '\n'; nullopt at a clean end of stream.
  // InvalidArgument when a line exceeds `max_line` bytes; IOError when the
  // stream ends in the middle of a line.
  Result<std::optional<std::string>> ReadLine(size_t max_line, Deadline deadline, int stop_fd = -1);

 private:
  int fd_;
  std::string buffer_;
};

}  // namespace tessera
