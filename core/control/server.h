// ControlServer: the running server's control socket (DIR/control.sock).
//
// Who calls: the nbdkit plugin starts one in .after_fork and stops it in
// .cleanup, before Storage::Close. Tests start one on a temp pool.
//
// Contract
//  1. Start binds `socket_path` with mode 0600 (replacing a stale socket file:
//     the caller holds the pool lock, so no live server can own it) and
//     returns once the socket accepts connections.
//  2. Each connection is served on its own thread: one JSON request line in,
//     one response line out, repeated until the client closes. At most
//     `max_connections` are served at once; more are closed at once.
//  3. An idle connection is closed after `idle_timeout`; a line longer than
//     kMaxRequestLine gets an InvalidArgument response and the connection is
//     closed.
//  4. Stop() (idempotent; the destructor calls it) wakes every thread, waits
//     for requests in progress to finish, joins all threads and removes the
//     socket file if it is still the one this server bound.
//  5. `storage` must outlive the server.
//  6. Only root, the owner of the pool directory and the server's own user
//     are served (SO_PEERCRED, checked at accept); others get one
//     PermissionDenied response and are disconnected.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/util/status.h"
#include "core/volume/storage.h"

namespace tessera {

// DIR/control.sock: where a pool's server listens.
std::string ControlSocketPath(const std::string& pool_dir);

struct ControlServerOptions {
  std::chrono::milliseconds idle_timeout{60'000};
  size_t max_connections = 16;
};

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> Start(Storage& storage, std::string socket_path,
                                                      ControlServerOptions options = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  void Stop();
  const std::string& socket_path() const;

  class Impl;

 private:
  explicit ControlServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera
