// The control client: one request line out, one response line back.
//
// Design notes
//  1. The whole call shares one deadline (write + wait + read), so a server
//     that stalls halfway cannot stretch it.
//  2. Transport failures are IOError naming the socket; the server's own
//     errors come back unchanged (ResultFromResponse).
#include "core/control/client.h"

#include "core/control/map_error.h"

namespace tessera {

Result<std::unique_ptr<ControlClient>> ControlClient::Connect(const std::string& socket_path,
                                                              std::chrono::milliseconds timeout) {
  UniqueFd fd = TRY(ConnectUnix(socket_path, DeadlineAfter(timeout)));
  return std::unique_ptr<ControlClient>(new ControlClient(socket_path, std::move(fd)));
}

Result<Json> ControlClient::Call(const Json& request, std::chrono::milliseconds timeout) {
  auto context = [&](const Error& e) {
    return Error(Code::kIOError, fmt::format("control socket {}: {}", path_, e.message()));
  };
  Deadline deadline = DeadlineAfter(timeout);
  TRY_STATUS(MapError(WriteAll(fd_.get(), EncodeLine(request) + "\n", deadline), context));
  auto line = TRY(MapError(reader_.ReadLine(kMaxResponseLine, deadline), context));
  if (!line) return std::unexpected(context(Error(Code::kIOError, "server closed the connection")));
  Json response = TRY(MapError(ParseLine(*line), context));
  return ResultFromResponse(response);
}

}  // namespace tessera
