// tessera vdev list | offline NAME | online NAME | replace OLD NEW |
// add --vdev SPEC | grow NAME [--size S] | remove NAME
//
// Design notes
//  1. Each is one PoolClient call; with a running server the change happens
//     there, under live volumes (the pool swaps the device in its slot).
//  2. The state change persists in pool.conf (Storage::OfflineVdev).
//  3. `vdev add` takes the spec of `pool create --vdev` (ParseVdevAddSpec);
//     the pool checks it again, names the vdev when the spec does not, and
//     does the work (core/volume/storage_vdev_add.cc). A block device
//     without size= is sent with size 0, which the pool reads as the
//     device's size; --force takes one whatever it holds.
//  4. `vdev remove` calls one step after another (PoolApi::RemoveVdev),
//     printing progress, until the vdev is out. A step that readies a
//     volume's log moves nothing, so only kRemoveStallSteps steps in a row
//     that leave as many rows and bytes on the vdev end it with an error.
//  5. `vdev online` says what the vdev caught up on (Storage's catch-up,
//     core/volume/storage_catch_up.cc), and exits 1 when rows are left to
//     repair: the vdev is online then, but not yet whole.
#include <memory>

#include "admin/args.h"
#include "admin/commands.h"
#include "admin/output.h"
#include "core/util/size.h"
#include "admin/repair_output.h"
#include "core/control/protocol_repair.h"

namespace tessera {
namespace {

constexpr int kRemoveStallSteps = 16;  // design note 4

struct VdevArgs {
  std::string name;
  std::string path;
  std::string spec;  // add
  std::string size;  // grow
  bool force = false;  // add
};

CommandResult ListVdevs(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    std::vector<VdevStatus> vdevs = TRY(pool.ListVdevs());
    ctx.out << (ctx.json ? FormatJson(ToJson(vdevs)) : FormatVdevTable(vdevs));
    return 0;
  });
}

// The vdev's entry of `vdev list --json`.
Result<Json> VdevJson(PoolApi& pool, const std::string& name) {
  for (const VdevStatus& vdev : TRY(pool.ListVdevs())) {
    if (vdev.name == name) return ToJson(vdev);
  }
  return Err(Code::kNotFound, "no vdev '{}' in the pool", name);
}

CommandResult OfflineVdev(CommandContext& ctx, const VdevArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.OfflineVdev(args.name));
    PrintResult(ctx, TRY(VdevJson(pool, args.name)),
                fmt::format("vdev {} is offline\n", args.name));
    return 0;
  });
}

// What vdev online says about the rows the vdev caught up on (design note 5).
std::string FormatCatchUp(const VdevOnlineReport& r) {
  const bool nothing = r.rows == 0 && r.rows_left == 0;
  if (r.was_online && nothing) return fmt::format("vdev {} is online already; it has nothing to catch up on\n", r.vdev);
  std::string out = nothing ? fmt::format("vdev {} is online; it missed no writes\n", r.vdev)
                        : fmt::format("vdev {} is online; caught up on {} rows of {} volumes that missed writes "
                                      "while it was away: {} chunks rewritten\n",
                                      r.vdev, r.rows, r.volumes.size(), r.rebuilt_chunks);
  if (r.rows_left > 0) {
    out += fmt::format("{} rows could not be repaired yet ({} chunks unrecoverable); run 'tessera vdev online {}' "
                       "again, or 'tessera pool scrub'\n",
                       r.rows_left, r.unrecoverable_chunks, r.vdev);
  }
  for (const std::string& p : r.problems) out += "  " + p + "\n";
  return out;
}

CommandResult OnlineVdev(CommandContext& ctx, const VdevArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VdevOnlineReport report = TRY(pool.OnlineVdev(args.name));
    Json json = TRY(VdevJson(pool, args.name));
    json["catch_up"] = ToJson(report);
    PrintResult(ctx, json, FormatCatchUp(report));
    return report.rows_left == 0 ? 0 : 1;
  });
}

CommandResult ReplaceVdev(CommandContext& ctx, const VdevArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VdevReplaceReport report = TRY(pool.ReplaceVdev(args.name, args.path, ProgressPrinter(ctx.err)));
    ctx.out << (ctx.json ? FormatJson(ToJson(report)) : FormatReplaceReport(report));
    return report.unrecoverable_blocks == 0 ? 0 : 1;
  });
}

CommandResult AddVdev(CommandContext& ctx, const VdevArgs& args) {
  VdevConfig parsed = TRY(ParseVdevAddSpec(args.spec, ctx.PoolDir()));
  VdevSpec spec{.name = parsed.name,
                .path = parsed.path,
                .size = parsed.size_bytes,
                .tier = std::string(TierName(parsed.tier)),
                .attrs = parsed.attrs,
                .force = args.force};
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VdevStatus added = TRY(pool.AddVdev(spec));
    PrintResult(ctx, ToJson(added),
                fmt::format("added vdev {}: tier {}, index {}, {}, {}\n", added.name, added.tier, added.index,
                            FormatSize(added.size_bytes), added.path));
    return 0;
  });
}

CommandResult GrowVdev(CommandContext& ctx, const VdevArgs& args) {
  uint64_t size = args.size.empty() ? 0 : TRY(ParseSizeArg(args.size));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VdevStatus grown = TRY(pool.GrowVdev(args.name, size));
    PrintResult(ctx, ToJson(grown), fmt::format("grew vdev {} to {}\n", grown.name, FormatSize(grown.size_bytes)));
    return 0;
  });
}

CommandResult RemoveVdev(CommandContext& ctx, const VdevArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    uint64_t moved = 0, nodes = 0;
    // Design note 4: give up after steps in a row that leave no less behind.
    std::pair<uint64_t, uint64_t> least{UINT64_MAX, UINT64_MAX};
    int stalled = 0;
    VdevRemoveProgress step;
    for (;;) {
      step = TRY(pool.RemoveVdev(args.name));
      moved += step.moved_bytes;
      nodes += step.nodes_moved;
      if (step.done) break;
      ProgressOut(ctx) << fmt::format("removing vdev {}: {} moved, {} rows and {} left on it{}\n", args.name,
                                      FormatSize(moved), step.rows_left, FormatSize(step.used_bytes),
                                      step.phase == "metadata" ? fmt::format(" ({} tree nodes moved)", nodes) : "");
      ProgressOut(ctx).flush();
      const std::pair<uint64_t, uint64_t> left{step.rows_left, step.used_bytes};
      if (left < least) {
        least = left;
        stalled = 0;
      } else if (++stalled >= kRemoveStallSteps) {
        return Err(Code::kIOError, "vdev remove {}: {} rows and {} still on it after {} steps without progress",
                   args.name, step.rows_left, FormatSize(step.used_bytes), stalled);
      }
    }
    Json json = ToJson(step);
    json["moved_bytes"] = moved;
    json["nodes_moved"] = nodes;
    PrintResult(ctx, json,
                fmt::format("removed vdev {}: {} of live data and {} tree nodes moved to the other vdevs\n",
                            args.name, FormatSize(moved), nodes));
    return 0;
  });
}

CLI::App* NamedVdevCommand(CLI::App* parent, const char* name, const char* help, CommandContext& ctx,
                           std::shared_ptr<VdevArgs> args, CommandResult (*run)(CommandContext&, const VdevArgs&)) {
  CLI::App* command = parent->add_subcommand(name, help);
  AddPoolOption(command, ctx);
  AddJsonFlag(command, ctx);
  command->add_option("name", args->name, "Vdev name (as in pool.conf and vdev list)")->required();
  command->callback([&ctx, args, run] { ctx.action = [&ctx, args, run] { return run(ctx, *args); }; });
  return command;
}

}  // namespace

void AddVdevCommands(CLI::App& app, CommandContext& ctx) {
  CLI::App* vdev = app.add_subcommand(
      "vdev", "List the pool's vdevs, take them offline or online, replace, add, grow or remove them");
  vdev->require_subcommand(1);
  auto args = std::make_shared<VdevArgs>();

  CLI::App* list = vdev->add_subcommand("list", "List the vdevs: state and error counters");
  AddPoolOption(list, ctx);
  AddJsonFlag(list, ctx);
  list->callback([&ctx] { ctx.action = [&ctx] { return ListVdevs(ctx); }; });

  NamedVdevCommand(vdev, "offline",
                   "Stop using a vdev (not of the fastest tier); volumes with parity keep serving; "
                   "persists across restarts",
                   ctx, args, OfflineVdev);
  NamedVdevCommand(vdev, "online", "Use an offline vdev again (its device must be back)", ctx, args, OnlineVdev);
  CLI::App* replace = NamedVdevCommand(
      vdev, "replace",
      "Replace a vdev by a new file vdev at NEW (created with the old one's size; relative paths "
      "are inside the pool directory), or by the block device NEW (at least that size, holding "
      "nothing), and rebuild its contents there: copied from the old device while it is readable, "
      "else rebuilt from parity (exit status 1 when some data could not be rebuilt)",
      ctx, args, ReplaceVdev);
  replace->add_option("new", args->path, "Path of the new vdev file (must not exist), or a block device")
      ->required();

  CLI::App* add = vdev->add_subcommand(
      "add",
      "Add a new file or block-device vdev to the pool, served or not: rows and metadata copies may land "
      "on it at once");
  AddPoolOption(add, ctx);
  AddJsonFlag(add, ctx);
  add->add_option("--vdev", args->spec,
                  "The vdev: tier=T,path=P[,size=S][,name=N][,key=val...] as for pool create (relative paths "
                  "are inside the pool directory; the path must be new, an empty file, or a block device, "
                  "which is used whole: size= may be left out for it)")
      ->type_name("SPEC")
      ->required();
  add->add_flag("--force", args->force,
                "Use a block device that holds a filesystem, a partition table or another pool's label "
                "(its contents are overwritten)");
  add->callback([&ctx, args] { ctx.action = [&ctx, args] { return AddVdev(ctx, *args); }; });

  CLI::App* grow = NamedVdevCommand(
      vdev, "grow",
      "Grow a file vdev: its file is extended to --size (or, without it, the vdev takes the size its "
      "file already has) and the pool uses the new space at once",
      ctx, args, GrowVdev);
  grow->add_option("--size", args->size, "The vdev's new size (larger than now)")->check(SizeValidator());

  NamedVdevCommand(vdev, "remove",
                   "Remove a vdev from the pool, served or not: its data rows and metadata copies move to the "
                   "other vdevs, with progress; run it again to go on after an interruption",
                   ctx, args, RemoveVdev);
}

}  // namespace tessera
