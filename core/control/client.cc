// The control client: one request line out, one response line back.
//
// Design notes
//  1. The whole call shares one deadline (write + wait + read), so a server
//     that stalls halfway cannot stretch it.
//  1a. Progress lines before the response are handed to the caller and
//     restart the deadline: a long scrub that reports progress is alive.
//  2. Transport failures are IOError naming the socket; the server's own
//     errors come back unchanged (ResultFromResponse).
#include "core/control/client.h"

#include "core/control/protocol_repair.h"
#include "core/util/map_error.h"

namespace tessera {

Result<std::unique_ptr<ControlClient>> ControlClient::Connect(const std::string& socket_path,
                                                              std::chrono::milliseconds timeout) {
  UniqueFd fd = TRY(ConnectUnix(socket_path, DeadlineAfter(timeout)));
  return std::unique_ptr<ControlClient>(new ControlClient(socket_path, std::move(fd)));
}

Result<Json> ControlClient::Call(const Json& request, std::chrono::milliseconds timeout,
                                 const ProgressFn& progress, int passed_fd) {
  auto context = [&](const Error& e) {
    return Error(Code::kIOError, fmt::format("control socket {}: {}", path_, e.message()));
  };
  Deadline deadline = DeadlineAfter(timeout);
  TRY_STATUS(
      MapError(SendWithFd(fd_.get(), EncodeLine(request) + "\n", passed_fd, deadline), context));
  for (;;) {
    auto line = TRY(MapError(reader_.ReadLine(kMaxResponseLine, deadline), context));
    if (!line) return std::unexpected(context(Error(Code::kIOError, "server closed the connection")));
    Json response = TRY(MapError(ParseLine(*line), context));
    if (auto p = ProgressFromLine(response)) {
      if (progress) progress(*p);
      deadline = DeadlineAfter(timeout);
      continue;
    }
    return ResultFromResponse(response);
  }
}

}  // namespace tessera
