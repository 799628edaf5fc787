// Dispatch: runs one control request against a PoolApi (the server's Storage).
//
// Contract
//  1. Every request gets a response, ok or error; a malformed request
//     (not JSON, unknown op, missing/mistyped/unknown field) is an
//     InvalidArgument response and calls no PoolApi method.
//  2. Thread-safe as far as the PoolApi is (its management calls serialize on
//     its own mutex); the server calls this from one thread per connection.
//  3. Never throws: an exception escaping the PoolApi or the JSON library becomes
//     an IOError response.
//  4. No request names a file the server opens: diff.stream and diff.apply
//     work on the descriptor the client passed with the request
//     (`passed_fd`, borrowed; -1 when none came), which the client opened
//     with its own rights.
#pragma once

#include <string>
#include <string_view>

#include "core/control/protocol.h"
#include "core/volume/pool_api.h"

namespace tessera {

// The response object for `request`. `progress` receives the progress of a
// long op whose request asked for it (protocol_repair.h), at most a few
// times a second.
Json DispatchRequest(PoolApi& pool, const Json& request, const ProgressFn& progress = {},
                     int passed_fd = -1);
// One request line in, one response line out (without '\n').
std::string HandleRequestLine(PoolApi& pool, std::string_view line, const ProgressFn& progress = {},
                              int passed_fd = -1);

}  // namespace tessera
