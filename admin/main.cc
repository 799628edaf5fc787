// tessera: the admin CLI (see admin/cli.h for commands and exit codes).
#include <cstdlib>
#include <iostream>

#include "admin/cli.h"

int main(int argc, char** argv) {
  // Keep command output clean: core info lines (e.g. log replay on open)
  // only when asked for with TESSERA_LOG=info.
  // (serve_commands.cc undoes this for nbdkit.)
  if (!std::getenv("TESSERA_LOG")) {
    ::setenv("TESSERA_LOG", "warn", 1);
    ::setenv("TESSERA_LOG_DEFAULTED", "1", 1);
  }
  return tessera::RunTessera(argc, argv, std::cout, std::cerr);
}
