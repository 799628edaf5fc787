// tessera clone, volume flatten, snapshot rollback: thin wrappers over the
// pool client. Flatten loops over volume.flatten steps and prints progress
// after each one (the pool copies; this only reports).
#include <memory>

#include "admin/commands.h"
#include "admin/output.h"
#include "core/control/clone_protocol.h"
#include "core/util/size.h"
#include "core/util/volume_ref.h"

namespace tessera {
namespace {

struct CloneArgs {
  std::string target;  // VOLUME@SNAPSHOT
  std::string name;    // the clone (clone), or the volume (flatten)
  bool force = false;
  bool destroy_newer = false;  // rollback -r
};

CommandResult Clone(CommandContext& ctx, const CloneArgs& args) {
  VolumeRef origin = TRY(ParseSnapshotRef(args.target));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VolumeInfo info = TRY(pool.CloneSnapshot(origin.volume, origin.snapshot, args.name));
    PrintResult(ctx, ToJson(info),
                fmt::format("created clone {} of {}: {}, layout {}, tier {}\n", info.name,
                            origin.ToString(), FormatSize(info.size), info.layout, info.tier));
    return 0;
  });
}

CommandResult Flatten(CommandContext& ctx, const CloneArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    uint64_t offset = 0;
    uint64_t copied = 0;
    for (;;) {
      FlattenProgress step = TRY(pool.FlattenVolume(args.name, offset, kFlattenStepBytes));
      copied += step.copied_bytes;
      if (step.done) break;
      unsigned percent =
          step.size == 0 ? 100 : static_cast<unsigned>(step.offset * 100 / step.size);
      ProgressOut(ctx) << fmt::format("flattening {}: {} of {} scanned ({}%), {} copied\n",
                                      args.name, FormatSize(step.offset), FormatSize(step.size),
                                      percent, FormatSize(copied));
      ProgressOut(ctx).flush();
      offset = step.offset;
    }
    Json json = ToJson(TRY(pool.GetVolumeInfo(args.name)));
    json["copied_bytes"] = copied;
    PrintResult(
        ctx, json,
        fmt::format("flattened volume {}: copied {} from its origin, which it no longer needs\n",
                    args.name, FormatSize(copied)));
    return 0;
  });
}

CommandResult Rollback(CommandContext& ctx, const CloneArgs& args) {
  VolumeRef target = TRY(ParseSnapshotRef(args.target));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    TRY_STATUS(pool.RollbackSnapshot(target.volume, target.snapshot, args.force, args.destroy_newer));
    Json json = ToJson(TRY(pool.GetVolumeInfo(target.volume)));
    json["rolled_back_to"] = target.ToString();
    PrintResult(
        ctx, json,
        fmt::format("rolled back volume {} to snapshot {}\n", target.volume, target.ToString()));
    return 0;
  });
}

void SetAction(CLI::App* command, CommandContext& ctx, std::shared_ptr<CloneArgs> args,
               CommandResult (*run)(CommandContext&, const CloneArgs&)) {
  AddPoolOption(command, ctx);
  AddJsonFlag(command, ctx);
  command->callback(
      [&ctx, args, run] { ctx.action = [&ctx, args, run] { return run(ctx, *args); }; });
}

}  // namespace

void AddCloneCommands(CLI::App& app, CommandContext& ctx) {
  auto clone_args = std::make_shared<CloneArgs>();
  CLI::App* clone = app.add_subcommand("clone",
                                       "Make a writable volume from a snapshot, without copying "
                                       "data (it reads through to the snapshot)");
  clone->add_option("snapshot", clone_args->target, "VOLUME@SNAPSHOT, the origin")->required();
  clone->add_option("name", clone_args->name, "Name of the new volume")->required();
  SetAction(clone, ctx, clone_args, Clone);

  auto flatten_args = std::make_shared<CloneArgs>();
  CLI::App* flatten = app.get_subcommand("volume")->add_subcommand(
      "flatten", "Copy what a clone still reads from its origin, then detach it from the origin");
  flatten->add_option("name", flatten_args->name, "Volume name (a clone)")->required();
  SetAction(flatten, ctx, flatten_args, Flatten);

  auto rollback_args = std::make_shared<CloneArgs>();
  CLI::App* rollback = app.get_subcommand("snapshot")->add_subcommand(
      "rollback",
      "Restore a volume to any of its snapshots, keeping the newer ones, or with -r deleting them "
      "(refuses while a writer has it open)");
  rollback->add_option("target", rollback_args->target, "VOLUME@SNAPSHOT")->required();
  rollback->add_flag("--force", rollback_args->force,
                     "Cut off the volume's writers (their I/O fails from then on) and roll back");
  rollback->add_flag("-r,--destroy-newer", rollback_args->destroy_newer,
                     "Delete the snapshots newer than the target first (refused, deleting nothing, while "
                     "clones depend on one or one is exported)");
  SetAction(rollback, ctx, rollback_args, Rollback);
}

}  // namespace tessera
