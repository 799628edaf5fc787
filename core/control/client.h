// ControlClient: one connection to a running server's control socket.
//
// Contract
//  1. Connect returns NotFound when no server listens at the path (no file,
//     or a stale socket left by a crashed server), so a caller can fall back
//     to opening the pool itself.
//  2. Call sends one request and returns the server's result, or the Error
//     the server answered with (same code, same message). A timeout, a
//     closed connection or a malformed response is IOError.
//  3. Not thread-safe: one caller at a time per client.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/control/protocol.h"
#include "core/control/unix_socket.h"

namespace tessera {

class ControlClient {
 public:
  static Result<std::unique_ptr<ControlClient>> Connect(const std::string& socket_path,
                                                        std::chrono::milliseconds timeout);

  // Progress lines the server sends before the response (protocol_repair.h)
  // go to `progress`; each one also restarts the timeout. `passed_fd`, when
  // >= 0, travels with the request (SCM_RIGHTS; dispatch.h contract 4).
  Result<Json> Call(const Json& request, std::chrono::milliseconds timeout,
                    const ProgressFn& progress = {}, int passed_fd = -1);
  const std::string& socket_path() const { return path_; }

 private:
  ControlClient(std::string path, UniqueFd fd)
      : path_(std::move(path)), fd_(std::move(fd)), reader_(fd_.get()) {}

  std::string path_;
  UniqueFd fd_;
  LineReader reader_;
};

}  // namespace tessera
