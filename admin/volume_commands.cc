// tessera volume create | list | info | resize | delete | rename | move, and exnode
// show. Each is one PoolApi call plus output; the pool does all the work.
#include <memory>

#include "admin/args.h"
#include "admin/commands.h"
#include "admin/output.h"
#include "core/pool/address.h"
#include "core/util/size.h"

namespace tessera {
namespace {

// Move steps in a row that leave no fewer rows to move before the CLI gives
// up: a step that readies the log (volume_move.cc note 2) moves no row, so
// a few such steps are normal.
constexpr int kMoveStallSteps = 16;

struct VolumeArgs {
  std::string name;
  std::string size;
  std::string layout = "simple";
  std::string tier;
  std::string spread;
  bool force = false;
  std::string new_name;  // rename
};

CommandResult CreateVolume(CommandContext& ctx, const VolumeArgs& args) {
  VolumeSpec spec;
  spec.name = args.name;
  spec.size = TRY(ParseSizeArg(args.size));
  spec.layout = args.layout;
  if (!args.tier.empty()) spec.tier = ParseTier(args.tier);
  spec.spread = args.spread;
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VolumeInfo info = TRY(pool.CreateVolume(spec));
    PrintResult(ctx, ToJson(info),
                fmt::format("created volume {}: {}, layout {}, tier {}{}\n", info.name, FormatSize(info.size),
                            info.layout, info.tier, info.spread.empty() ? "" : ", spread over " + info.spread));
    return 0;
  });
}

CommandResult ListVolumes(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    std::vector<VolumeInfo> volumes = TRY(pool.ListVolumes());
    ctx.out << (ctx.json ? FormatJson(ToJson(volumes)) : FormatVolumeTable(volumes));
    return 0;
  });
}

CommandResult VolumeInfoCommand(CommandContext& ctx, const VolumeArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VolumeInfo info = TRY(pool.GetVolumeInfo(args.name));
    ctx.out << (ctx.json ? FormatJson(ToJson(info)) : FormatVolumeInfo(info));
    return 0;
  });
}

CommandResult ResizeVolume(CommandContext& ctx, const VolumeArgs& args) {
  uint64_t size = TRY(ParseSizeArg(args.size));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.ResizeVolume(args.name, size, args.force));
    PrintResult(ctx, ToJson(TRY(pool.GetVolumeInfo(args.name))),
                fmt::format("resized volume {} to {}\n", args.name, FormatSize(size)));
    return 0;
  });
}

CommandResult DeleteVolume(CommandContext& ctx, const VolumeArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.DeleteVolume(args.name));
    PrintResult(ctx, DeletedJson(args.name), fmt::format("deleted volume {}\n", args.name));
    return 0;
  });
}

CommandResult RenameVolume(CommandContext& ctx, const VolumeArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.RenameVolume(args.name, args.new_name));
    PrintResult(ctx, ToJson(TRY(pool.GetVolumeInfo(args.new_name))),
                fmt::format("renamed volume {} to {}\n", args.name, args.new_name));
    return 0;
  });
}

// Steps until the move is done, printing progress; a step that leaves as
// much to do as the one before, many times over, means something keeps the
// move from ending (the error says what was left).
CommandResult MoveVolume(CommandContext& ctx, const VolumeArgs& args) {
  const Tier tier = *ParseTier(args.tier);  // TierValidator
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    uint64_t moved = 0;
    uint64_t least_left = UINT64_MAX;
    int stalled = 0;
    MoveProgress step;
    for (;;) {
      step = TRY(pool.MoveVolume(args.name, tier));
      moved += step.moved_bytes;
      if (step.done) break;
      ProgressOut(ctx) << fmt::format("moving {} to tier {}: {} moved, {} in {} rows left\n", args.name,
                                      step.tier, FormatSize(moved), FormatSize(step.bytes_left), step.rows_left);
      ProgressOut(ctx).flush();
      if (step.rows_left < least_left) {
        least_left = step.rows_left;
        stalled = 0;
      } else if (++stalled >= kMoveStallSteps) {
        return Err(Code::kIOError, "volume move {}: {} rows still off tier {} after {} steps without progress",
                   args.name, step.rows_left, step.tier, stalled);
      }
    }
    Json json = ToJson(TRY(pool.GetVolumeInfo(args.name)));
    json["moved_bytes"] = moved;
    json["held_bytes"] = step.held_bytes;
    std::string held = step.held_bytes == 0 ? ""
        : fmt::format("; {} that only its snapshots need stays until they are deleted\n", FormatSize(step.held_bytes));
    PrintResult(ctx, json,
                fmt::format("moved volume {} to tier {}: {} of live data rewritten{}", args.name, step.tier,
                            FormatSize(moved), held.empty() ? "\n" : held));
    return 0;
  });
}

CommandResult ShowExnode(CommandContext& ctx, const VolumeArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    std::string text = TRY(pool.ExnodeText(args.name));
    if (!text.empty() && text.back() != '\n') text.push_back('\n');
    PrintResult(ctx, Json{{"volume", args.name}, {"exnode", text}}, text);
    return 0;
  });
}

// A subcommand with --pool, --json and a required NAME, whose action is `run`.
CLI::App* NamedCommand(CLI::App* parent, const char* name, const char* help, CommandContext& ctx,
                       std::shared_ptr<VolumeArgs> args,
                       CommandResult (*run)(CommandContext&, const VolumeArgs&)) {
  CLI::App* command = parent->add_subcommand(name, help);
  AddPoolOption(command, ctx);
  AddJsonFlag(command, ctx);
  command->add_option("name", args->name, "Volume name")->required();
  command->callback(
      [&ctx, args, run] { ctx.action = [&ctx, args, run] { return run(ctx, *args); }; });
  return command;
}

}  // namespace

void AddVolumeCommands(CLI::App& app, CommandContext& ctx) {
  CLI::App* volume =
      app.add_subcommand("volume", "Create, list, inspect, resize, delete, rename and move volumes");
  volume->require_subcommand(1);
  auto args = std::make_shared<VolumeArgs>();

  CLI::App* create = NamedCommand(volume, "create", "Create a volume", ctx, args, CreateVolume);
  create->add_option("--size", args->size, "Volume size, e.g. 10G (a multiple of 4K)")
      ->required()
      ->check(SizeValidator());
  create->add_option("--layout", args->layout, "simple (default), stripe:N, mirror:N or rs:K+M")
      ->check(LayoutValidator());
  create->add_option("--tier", args->tier, "Preferred data tier (default: the slowest present)")
      ->check(TierValidator());
  create->add_option("--spread", args->spread,
                     "A vdev attribute, such as host, whose values the vdevs of each row all differ in (so that "
                     "losing one host costs a row at most one of its devices)");

  CLI::App* list = volume->add_subcommand("list", "List the volumes");
  AddPoolOption(list, ctx);
  AddJsonFlag(list, ctx);
  list->callback([&ctx] { ctx.action = [&ctx] { return ListVolumes(ctx); }; });

  NamedCommand(volume, "info", "Show one volume", ctx, args, VolumeInfoCommand);

  CLI::App* resize = NamedCommand(volume, "resize", "Grow a volume (shrinking needs --force)", ctx,
                                  args, ResizeVolume);
  resize->add_option("size", args->size, "New size")->required()->check(SizeValidator());
  resize->add_flag("--force", args->force, "Allow shrinking: data past the new end is lost");

  NamedCommand(volume, "delete", "Delete a volume and free its space", ctx, args, DeleteVolume);

  CLI::App* rename = NamedCommand(volume, "rename", "Rename a volume (its snapshots follow it)", ctx, args,
                                  RenameVolume);
  rename->add_option("new_name", args->new_name, "New volume name")->required();

  CLI::App* move = NamedCommand(volume, "move",
                                "Move a volume's data to another tier, online (snapshots' data stays)", ctx, args,
                                MoveVolume);
  move->add_option("--tier", args->tier, "Target tier: fastest, fast, slow or slowest")
      ->required()
      ->check(TierValidator());
}

void AddExnodeCommands(CLI::App& app, CommandContext& ctx) {
  CLI::App* exnode = app.add_subcommand("exnode", "Show a volume's exNode (its layout)");
  exnode->require_subcommand(1);
  NamedCommand(exnode, "show", "Print the exNode text of a volume", ctx,
               std::make_shared<VolumeArgs>(), ShowExnode);
}

}  // namespace tessera
