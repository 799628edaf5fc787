// PoolClient and ConnectOrOpen.
//
// Design notes
//  1. Routing order (ConnectOrOpen): socket -> Storage::Open -> (Busy) socket
//     again until busy_retry passes -> Busy. The second socket attempt covers
//     the window in which nbdkit holds the lock (get_ready) but has not yet
//     started the control server (after_fork).
#include "core/control/pool_client.h"

#include <thread>

#include "core/control/server.h"

namespace tessera {

Result<Json> PoolClient::Send(const Json& request, const ProgressFn& progress, int passed_fd) {
  if (!client_) return Err(Code::kInvalidArgument, "control connection is closed");
  return client_->Call(request, timeout_, progress, passed_fd);
}

Status PoolClient::Close() {
  client_.reset();
  return Ok();
}

Result<std::unique_ptr<PoolApi>> ConnectOrOpen(const std::string& pool_dir, const ConnectOptions& options) {
  const std::string socket = ControlSocketPath(pool_dir);
  auto connect = [&]() -> Result<std::unique_ptr<PoolApi>> {
    auto client = TRY(ControlClient::Connect(socket, options.connect_timeout));
    return std::make_unique<PoolClient>(std::move(client), options.call_timeout);
  };
  auto remote = connect();
  if (remote || remote.error().code() != Code::kNotFound) return remote;

  auto deadline = std::chrono::steady_clock::now() + options.busy_retry;
  for (;;) {
    auto storage = Storage::Open(pool_dir, options.storage);
    if (storage) return std::unique_ptr<PoolApi>(std::move(*storage));
    if (storage.error().code() != Code::kBusy) return std::unexpected(storage.error());
    remote = connect();
    if (remote || remote.error().code() != Code::kNotFound) return remote;
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::unexpected(storage.error());  // Busy: "pool DIR is in use by another process"
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace tessera
