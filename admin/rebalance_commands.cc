// tessera pool rebalance [--json]
//
// Design notes
//  1. One pool.rebalance call per step (PoolApi::RebalancePool), printing
//     progress, until done; with a running server each step runs there
//     while the volumes keep serving.
//  2. A step that readies a volume's log moves nothing, and clients' writes
//     change the spread meanwhile, so only kRebalanceStallSteps steps in a
//     row without a smaller spread end it with an error.
//  3. Exit status 1 when the rebalance ended blocked: a tier stays uneven
//     because only rows that snapshots pin could even it out.
#include "admin/commands.h"
#include "admin/output.h"
#include "core/control/protocol.h"
#include "core/util/size.h"

namespace tessera {
namespace {

constexpr int kRebalanceStallSteps = 32;  // design note 2

CommandResult RebalancePool(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    uint64_t moved = 0;
    int steps = 0;
    uint64_t least_spread = UINT64_MAX;
    int stalled = 0;
    RebalanceProgress step;
    for (;; steps++) {
      step = TRY(pool.RebalancePool());
      moved += step.moved_bytes;
      if (step.done) break;
      ProgressOut(ctx) << fmt::format("rebalancing tier {}: {} moved; vdev {} holds {} more than the emptiest\n",
                                      step.tier, FormatSize(moved), step.vdev, FormatSize(step.spread_bytes));
      ProgressOut(ctx).flush();
      if (step.spread_bytes < least_spread) {
        least_spread = step.spread_bytes;
        stalled = 0;
      } else if (++stalled >= kRebalanceStallSteps) {
        return Err(Code::kIOError, "pool rebalance: tier {} is still {} apart after {} steps without progress",
                   step.tier, FormatSize(step.spread_bytes), stalled);
      }
    }
    Json json = ToJson(step);
    json["moved_bytes"] = moved;
    json["steps"] = steps;
    std::string text =
        step.blocked
            ? fmt::format("rebalance stopped: vdev {} of tier {} holds {} more than the emptiest, in rows that "
                          "snapshots pin; {} moved before\n",
                          step.vdev, step.tier, FormatSize(step.spread_bytes), FormatSize(moved))
        : step.spread_bytes > step.slack_bytes
            ? fmt::format("rebalanced what has settled: {} moved in {} steps; vdev {} of tier {} still holds {} "
                          "more than the emptiest, in rows clients are writing now (run it again later)\n",
                          FormatSize(moved), steps, step.vdev, step.tier, FormatSize(step.spread_bytes))
            : fmt::format("rebalanced: {} of live data moved in {} steps; the vdevs of each tier are within {} "
                          "of each other\n",
                          FormatSize(moved), steps, FormatSize(step.slack_bytes));
    PrintResult(ctx, json, text);
    return step.blocked ? 1 : 0;
  });
}

}  // namespace

void AddRebalanceCommand(CLI::App& app, CommandContext& ctx) {
  CLI::App* rebalance = app.get_subcommand("pool")->add_subcommand(
      "rebalance",
      "Even out the vdevs of each tier, served or not: data rows move off the fullest vdev until every "
      "vdev of a tier is within two row blocks of the others, with progress (exit status 1 when rows that "
      "snapshots pin keep a tier uneven)");
  AddPoolOption(rebalance, ctx);
  AddJsonFlag(rebalance, ctx);
  rebalance->callback([&ctx] { ctx.action = [&ctx] { return RebalancePool(ctx); }; });
}

}  // namespace tessera
