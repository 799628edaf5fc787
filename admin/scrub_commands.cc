// tessera pool scrub [--json]
//
// Design notes
//  1. One PoolClient call (pool.scrub) with progress on stderr; with a
//     running server the scrub runs there while its volumes keep serving.
//  2. Exit status 1 unless the pool is clean afterwards (ScrubReport::clean:
//     nothing unrecoverable, nothing left degraded, metadata clean).
#include "admin/commands.h"
#include "admin/output.h"
#include "admin/repair_output.h"
#include "core/control/protocol_repair.h"

namespace tessera {
namespace {

CommandResult ScrubPool(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    ScrubReport report = TRY(pool.Scrub(ProgressPrinter(ctx.err)));
    ctx.out << (ctx.json ? FormatJson(ToJson(report)) : FormatScrubReport(report));
    return report.clean() ? 0 : 1;
  });
}

}  // namespace

void AddScrubCommand(CLI::App& app, CommandContext& ctx) {
  CLI::App* scrub = app.get_subcommand("pool")->add_subcommand(
      "scrub",
      "Verify every block of every volume (every stripe of rs volumes) and the metadata, repairing "
      "what redundancy allows; reports checked, repaired and unrecoverable counts (exit status 1 "
      "when problems remain)");
  AddPoolOption(scrub, ctx);
  AddJsonFlag(scrub, ctx);
  scrub->callback([&ctx] { ctx.action = [&ctx] { return ScrubPool(ctx); }; });
}

}  // namespace tessera
