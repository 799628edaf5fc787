// The `tessera` command line: builds the CLI11 app, parses, runs one command.
//
// Exit codes (users' scripts rely on them; the table in docs/admin-guide.md,
// "Output, errors and exit statuses", is this one):
//   0  success
//   1  the operation failed (an I/O error, corruption), or a check, scrub,
//      inspect or replace found problems it could not fix
//   2  usage error: a bad or missing argument, an unknown command or option,
//      or an argument the pool rejected as invalid. Nothing was changed.
//   3  not found: no such pool, volume, snapshot or vdev
//   4  busy: in use (an open volume, a running server, a clone's origin);
//      retry when its users are gone
//   5  no space left in the pool
//   6  read-only: the target cannot be written (a snapshot, a degraded pool)
//   7  permission denied
// Errors print as "tessera: error: MESSAGE" on stderr, or under --json as
// {"error": {"code": NAME, "message": MESSAGE, "exit_status": N}}.
#pragma once

#include <ostream>

#include "core/util/status.h"

namespace tessera {

// `out` gets results, `err` gets errors and usage messages. Commands that run
// other programs (serve, attach, detach) let those write to the real
// stdout/stderr.
int RunTessera(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

// The exit status of a command that failed with `code` (the table above).
int ExitStatusOf(Code code);

}  // namespace tessera
