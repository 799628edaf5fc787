// The `tessera` command line: builds the CLI11 app, parses, runs one command.
//
// Exit codes (users' scripts rely on them):
//   0  success
//   1  the operation failed, or `pool check` found problems
//   2  usage error: a bad or missing argument, an unknown command or option,
//      or an argument the pool rejected as invalid. Nothing was changed.
#pragma once

#include <ostream>

namespace tessera {

// `out` gets results, `err` gets errors and usage messages. Commands that run
// other programs (serve, attach, detach) let those write to the real
// stdout/stderr.
int RunTessera(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace tessera
