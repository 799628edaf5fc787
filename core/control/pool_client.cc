// PoolClient and its transports.
//
// Design notes
//  1. Routing order (ConnectOrOpen): socket -> Storage::Open -> (Busy) socket
//     again until busy_retry passes -> Busy. The second socket attempt covers
//     the window in which nbdkit holds the lock (get_ready) but has not yet
//     started the control server (after_fork).
//  2. A transport error from the socket (timeout, closed connection) is
//     IOError; errors the server reports keep their code.
#include "core/control/pool_client.h"

#include <thread>

#include "core/control/dispatch.h"
#include "core/control/server.h"

namespace tessera {

LocalTransport::~LocalTransport() { (void)Close(); }

Result<Json> LocalTransport::Call(const Json& request, const ProgressFn& progress, int passed_fd) {
  if (!storage_) return Err(Code::kInvalidArgument, "pool is closed");
  return ResultFromResponse(DispatchRequest(*storage_, request, progress, passed_fd));
}

Status LocalTransport::Close() {
  if (!storage_) return Ok();
  Status status = storage_->Close();
  storage_.reset();
  return status;
}

Result<Json> SocketTransport::Call(const Json& request, const ProgressFn& progress, int passed_fd) {
  if (!client_) return Err(Code::kInvalidArgument, "control connection is closed");
  return client_->Call(request, timeout_, progress, passed_fd);
}

Status SocketTransport::Close() {
  client_.reset();
  return Ok();
}

Result<std::unique_ptr<ControlTransport>> ConnectOrOpen(const std::string& pool_dir,
                                                        const ConnectOptions& options) {
  const std::string socket = ControlSocketPath(pool_dir);
  auto connect = [&]() -> Result<std::unique_ptr<ControlTransport>> {
    auto client = TRY(ControlClient::Connect(socket, options.connect_timeout));
    return std::make_unique<SocketTransport>(std::move(client), options.call_timeout);
  };
  auto remote = connect();
  if (remote || remote.error().code() != Code::kNotFound) return remote;

  auto deadline = std::chrono::steady_clock::now() + options.busy_retry;
  for (;;) {
    auto storage = Storage::Open(pool_dir, options.storage);
    if (storage) return std::make_unique<LocalTransport>(std::move(*storage));
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
