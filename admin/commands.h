// Internal to admin/: what every command file shares.
//
// Each Add*Commands function registers its subcommands on the app. A
// subcommand's CLI11 callback only stores an action in the context; the action
// runs after parsing succeeded, so a usage error can never have changed
// anything (contract in cli.h).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>

#include "core/control/pool_client.h"
#include "core/util/status.h"

namespace tessera {

// An action's exit code on success (0, or 1 for "ran, but found problems").
using CommandResult = Result<int>;

struct CommandContext {
  CommandContext(std::ostream& o, std::ostream& e) : out(o), err(e) {}

  std::ostream& out;
  std::ostream& err;
  std::string pool_flag;  // --pool; see PoolDir()
  bool json = false;      // --json
  std::function<CommandResult()> action;

  // The absolute pool directory: --pool, $TESSERA_POOL, ./var/pool.
  std::string PoolDir() const;
};

// --pool DIR on `command` (every command has it).
void AddPoolOption(CLI::App* command, CommandContext& ctx);
// --json on a command: its result, or its error, as one JSON document
// (docs/admin-guide.md, "Output, errors and exit statuses"). Every command
// that prints a result has it.
void AddJsonFlag(CLI::App* command, CommandContext& ctx);
// Prints a command's result: `json` under --json, else `text` (which ends
// in '\n').
void PrintResult(const CommandContext& ctx, const Json& json, std::string_view text);
// Progress lines: stderr under --json (stdout keeps one document), else
// stdout.
std::ostream& ProgressOut(const CommandContext& ctx);
// The JSON of a command that removed something: {"deleted": NAME}.
Json DeletedJson(std::string_view name);
// Validators that turn bad text into usage errors at parse time.
CLI::Validator SizeValidator();
CLI::Validator LayoutValidator();
CLI::Validator TierValidator();

// NotFound "no pool at DIR ..." unless DIR/pool.conf exists.
Status RequirePool(const std::string& pool_dir);
// The pool through its running server, else opened directly (ConnectOrOpen):
// a command's code runs the same against either PoolApi.
Result<std::unique_ptr<PoolApi>> OpenPool(const CommandContext& ctx);
// Runs `body(pool)` on an opened pool, then closes it (for a pool opened
// directly: flush and commit); a close error fails the command.
CommandResult WithPool(const CommandContext& ctx, const std::function<CommandResult(PoolApi&)>& body);

void AddPoolCommands(CLI::App& app, CommandContext& ctx);
void AddVolumeCommands(CLI::App& app, CommandContext& ctx);
void AddExnodeCommands(CLI::App& app, CommandContext& ctx);
void AddSnapshotCommands(CLI::App& app, CommandContext& ctx);
void AddDiffCommands(CLI::App& app, CommandContext& ctx);
void AddServeCommand(CLI::App& app, CommandContext& ctx);
void AddAttachCommands(CLI::App& app, CommandContext& ctx);
// tessera clone, volume flatten, snapshot rollback; after the volume and
// snapshot commands, whose groups it extends.
void AddCloneCommands(CLI::App& app, CommandContext& ctx);
// After AddVolumeCommands / AddPoolCommands: they add to `volume` and `pool`.
void AddInspectCommand(CLI::App& app, CommandContext& ctx);
void AddScrubCommand(CLI::App& app, CommandContext& ctx);
void AddRebalanceCommand(CLI::App& app, CommandContext& ctx);
void AddVdevCommands(CLI::App& app, CommandContext& ctx);
// After AddPoolCommands: pool iostat; and metrics.
void AddIostatCommands(CLI::App& app, CommandContext& ctx);

}  // namespace tessera
