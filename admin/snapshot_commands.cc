// tessera snapshot create|list|delete: thin wrappers over the pool client.
#include <ctime>

#include "admin/commands.h"
#include "admin/output.h"
#include "core/control/protocol.h"
#include "core/util/size.h"
#include "core/util/volume_ref.h"

namespace tessera {
namespace {

struct SnapshotArgs {
  std::string target;  // VOLUME@SNAPSHOT, or VOLUME for list
};

std::string FormatTime(uint64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%SZ", &tm);
  return text;
}

CommandResult CreateSnapshot(CommandContext& ctx, const SnapshotArgs& args) {
  VolumeRef target = TRY(ParseSnapshotRef(args.target));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.CreateSnapshot(target.volume, target.snapshot));
    Json json = {{"name", target.snapshot}};
    for (const SnapshotInfo& s : TRY(pool.ListSnapshots(target.volume))) {
      if (s.name == target.snapshot) json = ToJson(s);
    }
    PrintResult(ctx, json, fmt::format("created snapshot {}\n", target.ToString()));
    return 0;
  });
}

CommandResult DeleteSnapshot(CommandContext& ctx, const SnapshotArgs& args) {
  VolumeRef target = TRY(ParseSnapshotRef(args.target));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.DeleteSnapshot(target.volume, target.snapshot));
    PrintResult(ctx, DeletedJson(target.ToString()),
                fmt::format("deleted snapshot {}\n", target.ToString()));
    return 0;
  });
}

CommandResult ListSnapshots(CommandContext& ctx, const SnapshotArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    auto snapshots = TRY(pool.ListSnapshots(args.target));
    if (ctx.json) {
      ctx.out << FormatJson(ToJson(snapshots));
      return 0;
    }
    using A = Table::Align;
    Table table({{"NAME"},
                 {"CREATED"},
                 {"TXG", A::kRight},
                 {"REFERENCED", A::kRight},
                 {"UNIQUE", A::kRight},
                 {"UNIQUE DATA", A::kRight},
                 {"UNIQUE META", A::kRight}});
    for (const SnapshotInfo& s : snapshots) {
      table.AddRow({VolumeRef{args.target, s.name}.ToString(), FormatTime(s.created_unix), std::to_string(s.txg),
                    FormatSize(s.referenced_bytes), FormatSize(s.unique_bytes), FormatSize(s.unique_data_bytes),
                    FormatSize(s.unique_metadata_bytes)});
    }
    ctx.out << table.Render();
    return 0;
  });
}

CLI::App* TargetCommand(CLI::App* parent, const char* name, const char* help, const char* what,
                        CommandContext& ctx, CommandResult (*run)(CommandContext&, const SnapshotArgs&)) {
  auto args = std::make_shared<SnapshotArgs>();
  CLI::App* command = parent->add_subcommand(name, help);
  AddPoolOption(command, ctx);
  AddJsonFlag(command, ctx);
  command->add_option("target", args->target, what)->required();
  command->callback([&ctx, args, run] { ctx.action = [&ctx, args, run] { return run(ctx, *args); }; });
  return command;
}

}  // namespace

void AddSnapshotCommands(CLI::App& app, CommandContext& ctx) {
  CLI::App* snapshot = app.add_subcommand("snapshot", "Create, list and delete volume snapshots");
  snapshot->require_subcommand(1);
  TargetCommand(snapshot, "create", "Snapshot a volume (its acknowledged writes, durably)",
                "VOLUME@SNAPSHOT", ctx, CreateSnapshot);
  TargetCommand(snapshot, "list", "List a volume's snapshots", "VOLUME", ctx, ListSnapshots);
  TargetCommand(snapshot, "delete", "Delete a snapshot and free what only it held",
                "VOLUME@SNAPSHOT", ctx, DeleteSnapshot);
}

}  // namespace tessera
