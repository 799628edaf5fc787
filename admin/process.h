// Running other programs from the CLI (nbdkit, nbdfuse, losetup, nbd-client,
// fusermount3). Internal to admin/.
//
// Contract
//  1. argv[0] is looked up in $PATH (FindProgram) unless it contains '/'.
//  2. RunProgram waits for the program; its stdout is captured, its stderr
//     goes to ours. A failure to start it is NotFound/IOError; a non-zero
//     exit is reported in ProcessResult, not as an error.
//  3. SpawnDaemon starts a program in a new session with stdin from
//     /dev/null and stdout+stderr appended to `log_path`, under a keeper
//     process (see process.cc), and returns the keeper's pid at once: the
//     keeper exits, with the program's exit code, when the program does.
//     `in_child` runs in the program's process just before exec. The
//     program's own pid is best learned from a pid file it writes.
//  4. ExecProgram replaces this process; it returns only on failure.
//  5. Single-threaded callers only (fork without exec-safety concerns).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/status.h"

namespace tessera {

Result<std::string> FindProgram(std::string_view name);

struct ProcessResult {
  int exit_code = 0;  // 128 + signal when killed by a signal
  std::string out;
};

// `quiet`: send the program's stderr to /dev/null instead of ours.
Result<ProcessResult> RunProgram(const std::vector<std::string>& argv, bool quiet = false);

Result<pid_t> SpawnDaemon(const std::vector<std::string>& argv, const std::string& log_path,
                          const std::function<void()>& in_child = {});

Status ExecProgram(const std::vector<std::string>& argv, const std::function<void()>& before = {});

// For our own children: the exit code if it has exited (reaping it).
std::optional<int> ChildExited(pid_t pid);
// For any process: whether it still exists.
bool ProcessAlive(pid_t pid);
// Waits until `pid` is gone (ProcessAlive false, reaping it if it is our
// child) or the timeout passes; false on timeout.
bool WaitGone(pid_t pid, std::chrono::milliseconds timeout);

// The pid a program wrote to `path` (as nbdkit -P and nbdfuse -P do), once
// the file holds a whole positive number.
std::optional<pid_t> ReadPidFile(const std::string& path);

// "a b 'c d'" for messages.
std::string ShellQuote(const std::vector<std::string>& argv);

}  // namespace tessera
