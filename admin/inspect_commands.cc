// tessera volume inspect NAME [--repair] [--quick|--full] [--json]
//
// Design notes
//  1. One PoolClient call (volume.inspect); progress lines go to stderr, so
//     --json output on stdout stays one JSON document.
//  2. Exit status: 0 when the volume is clean, or --repair fixed every bad
//     unit; 1 when problems remain (lost data, or bad units left).
#include <memory>

#include "admin/commands.h"
#include "admin/output.h"
#include "admin/repair_output.h"
#include "core/control/protocol_repair.h"

namespace tessera {
namespace {

struct InspectArgs {
  std::string name;
  bool repair = false;
  bool quick = false;
  bool full = false;
};

CommandResult InspectVolume(CommandContext& ctx, const InspectArgs& args) {
  InspectDepth depth = args.full ? InspectDepth::kFull : args.quick ? InspectDepth::kQuick : InspectDepth::kScan;
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    VolumeInspectReport report = TRY(pool.InspectVolume(args.name, depth, args.repair, ProgressPrinter(ctx.err)));
    ctx.out << (ctx.json ? FormatJson(ToJson(report)) : FormatInspectReport(report));
    bool fixed = args.repair && report.unrecoverable == 0 && report.repaired >= report.bad;
    return report.clean() || fixed ? 0 : 1;
  });
}

}  // namespace

void AddInspectCommand(CLI::App& app, CommandContext& ctx) {
  CLI::App* volume = app.get_subcommand("volume");
  auto args = std::make_shared<InspectArgs>();
  CLI::App* inspect = volume->add_subcommand(
      "inspect",
      "Check a volume's data: its layout (--quick), its chunk headers (default) or every stripe's "
      "parity and every block's checksum (--full); --repair moves blocks off vdevs that are not "
      "online and rebuilds bad chunks from parity (exit status 1 when problems remain)");
  AddPoolOption(inspect, ctx);
  AddJsonFlag(inspect, ctx);
  inspect->add_option("name", args->name, "Volume name")->required();
  inspect->add_flag("--repair", args->repair, "Repair what can be repaired (rs:K+M volumes)");
  CLI::Option* quick = inspect->add_flag("--quick", args->quick, "Check the layout only, read no data");
  inspect->add_flag("--full", args->full, "Read everything: check every stripe's parity")->excludes(quick);
  inspect->callback([&ctx, args] { ctx.action = [&ctx, args] { return InspectVolume(ctx, *args); }; });
}

}  // namespace tessera
