// tessera: the admin CLI (see admin/cli.h for commands and exit codes).
#include <iostream>

#include "admin/cli.h"

int main(int argc, char** argv) { return tessera::RunTessera(argc, argv, std::cout, std::cerr); }
