// The tessera CLI: app wiring, shared option helpers, exit codes.
//
// Design notes
//  1. Parsing never acts: callbacks store ctx.action, RunTessera runs it
//     after CLI11 accepted the whole command line (cli.h, exit code 2).
//  2. CLI11 reports problems by exception; they are caught here and become
//     exit codes. Actions report errors as values (Result); an exception
//     escaping an action (a bug) is caught too and is exit 1.
//  3. Errors print as "tessera: error: MESSAGE" on err, or as one JSON
//     document there under --json; the exit status comes from the error's
//     code (ExitStatusOf, the table in cli.h).
#include "admin/cli.h"

#include <cstdlib>
#include <filesystem>

#include "admin/args.h"
#include "admin/commands.h"
#include "admin/output.h"
#include "core/pool/address.h"

namespace tessera {

std::string CommandContext::PoolDir() const {
  return ResolvePoolDir(pool_flag, std::getenv("TESSERA_POOL"));
}

void AddPoolOption(CLI::App* command, CommandContext& ctx) {
  command->add_option("--pool", ctx.pool_flag,
                      "Pool directory (default: $TESSERA_POOL, then ./var/pool)");
}

void AddJsonFlag(CLI::App* command, CommandContext& ctx) {
  command->add_flag("--json", ctx.json, "Print the result (or the error) as JSON");
}

void PrintResult(const CommandContext& ctx, const Json& json, std::string_view text) {
  if (ctx.json) {
    ctx.out << FormatJson(json);
  } else {
    ctx.out << text;
  }
}

std::ostream& ProgressOut(const CommandContext& ctx) { return ctx.json ? ctx.err : ctx.out; }

Json DeletedJson(std::string_view name) { return Json{{"deleted", name}}; }

int ExitStatusOf(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return 2;
    case Code::kNotFound:
      return 3;
    case Code::kBusy:
      return 4;
    case Code::kNoSpace:
      return 5;
    case Code::kReadOnly:
      return 6;
    case Code::kPermissionDenied:
      return 7;
    case Code::kCorruption:
    case Code::kIOError:
      return 1;
  }
  return 1;
}

CLI::Validator SizeValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto size = ParseSizeArg(text);
        return size ? std::string() : size.error().message();
      },
      "SIZE", "size");
}

CLI::Validator LayoutValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto ok = ValidateLayout(text);
        return ok ? std::string() : ok.error().message();
      },
      "simple|stripe:N|mirror:N|rs:K+M", "layout");
}

CLI::Validator TierValidator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return ParseTier(text)
                   ? std::string()
                   : "unknown tier '" + text + "'; expected fastest, fast, slow or slowest";
      },
      "TIER", "tier");
}

Status RequirePool(const std::string& pool_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(pool_dir) / "pool.conf", ec)) {
    return Err(Code::kNotFound, "no pool at {} (create one with: tessera pool create --pool {})",
               pool_dir, pool_dir);
  }
  return Ok();
}

Result<std::unique_ptr<PoolApi>> OpenPool(const CommandContext& ctx) {
  const std::string dir = ctx.PoolDir();
  TRY_STATUS(RequirePool(dir));
  return ConnectOrOpen(dir);
}

CommandResult WithPool(const CommandContext& ctx, const std::function<CommandResult(PoolApi&)>& body) {
  std::unique_ptr<PoolApi> pool = TRY(OpenPool(ctx));
  CommandResult result = body(*pool);
  Status closed = pool->Close();
  if (!result) return result;
  TRY_STATUS(closed);
  return result;
}

// CLI11 reports a mistyped command only as "A subcommand is required";
// this names the word and the commands that would fit, for the first two
// levels ("tessera WORD", "tessera volume WORD").
std::optional<std::string> UnknownCommand(CLI::App& app, int argc, const char* const* argv) {
  CLI::App* level = &app;
  std::string path = "tessera";
  for (int i = 1; i < argc && i <= 2; i++) {
    std::string word = argv[i];
    if (word.empty() || word[0] == '-' || level->get_subcommands({}).empty()) return std::nullopt;
    CLI::App* next = nullptr;
    std::string known;
    for (CLI::App* sub : level->get_subcommands({})) {
      if (sub->get_name() == word) next = sub;
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (next == nullptr) {
      return fmt::format("{}: unknown command '{}' (expected one of: {}); see '{} --help'", path, word, known,
                         path);
    }
    level = next;
    path += " " + word;
  }
  return std::nullopt;
}

int RunTessera(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app("Manage a Tessera storage pool and serve its volumes over NBD.", "tessera");
  app.require_subcommand(1);
  app.footer(
      "Every command takes --pool DIR (default: $TESSERA_POOL, then ./var/pool).\n"
      "Exit status: 0 success; 1 the operation failed, or a check found problems;\n"
      "2 usage error (nothing was changed); 3 not found; 4 busy (in use); 5 no space;\n"
      "6 read-only; 7 permission denied. --json prints results and errors as JSON.");
  CommandContext ctx(out, err);
  AddPoolCommands(app, ctx);
  AddVolumeCommands(app, ctx);
  AddExnodeCommands(app, ctx);
  AddSnapshotCommands(app, ctx);
  AddCloneCommands(app, ctx);
  AddDiffCommands(app, ctx);
  AddServeCommand(app, ctx);
  AddAttachCommands(app, ctx);
  AddInspectCommand(app, ctx);
  AddScrubCommand(app, ctx);
  AddRebalanceCommand(app, ctx);
  AddVdevCommands(app, ctx);
  AddIostatCommands(app, ctx);

  if (auto unknown = UnknownCommand(app, argc, argv)) {
    err << *unknown << "\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);  // prints help, or the error and a hint
    return code == static_cast<int>(CLI::ExitCodes::Success) ? 0 : 2;
  }
  if (!ctx.action) {
    err << "tessera: error: no command given\n";
    return 2;
  }
  try {
    CommandResult result = ctx.action();
    out.flush();
    if (result) return *result;
    const Error& error = result.error();
    int status = ExitStatusOf(error.code());
    if (ctx.json) {
      err << FormatJson(Json{{"error",
                              {{"code", CodeName(error.code())},
                               {"message", error.message()},
                               {"exit_status", status}}}});
    } else {
      err << "tessera: error: " << error.message() << "\n";
    }
    return status;
  } catch (const std::exception& e) {
    err << "tessera: error: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace tessera
