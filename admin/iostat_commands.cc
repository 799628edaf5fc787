// tessera pool iostat [-v] [INTERVAL [COUNT]] and tessera metrics
//
// Design notes
//  1. Both read the running server's counters (pool.iostat); without a
//     server the pool is opened here and every counter is zero, which the
//     output says.
//  2. iostat's first report covers the time since the pool opened, each
//     later one the INTERVAL before it (admin/iostat_view.h). Under --json
//     one report is one pretty document; with an INTERVAL each report is
//     one compact line (JSON Lines), so a reader can take them as they come.
#include <chrono>
#include <memory>
#include <thread>

#include "admin/commands.h"
#include "admin/iostat_view.h"
#include "admin/output.h"
#include "core/control/metrics_text.h"
#include "core/control/protocol.h"

namespace tessera {
namespace {

struct IostatArgs {
  bool verbose = false;
  double interval = 0;  // seconds; 0: one report
  uint64_t count = 0;   // 0: until interrupted (with an interval)
};

CommandResult Iostat(CommandContext& ctx, const IostatArgs& args) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    if (!pool.remote()) ctx.err << "tessera: the pool is not being served; its counters start now (all zero)\n";
    std::optional<PoolIoReport> earlier;
    for (uint64_t n = 0;; n++) {
      PoolIoReport now = TRY(pool.GetIoReport());
      IostatView view = ComputeIostat(now, earlier ? &*earlier : nullptr, args.verbose);
      if (!ctx.json) {
        ctx.out << (n == 0 ? "since the pool opened" : fmt::format("last {:.1f} s", view.seconds)) << ":\n"
                << FormatIostat(view);
      } else if (args.interval > 0) {
        ctx.out << IostatJson(view).dump() << "\n";
      } else {
        ctx.out << FormatJson(IostatJson(view));
      }
      ctx.out.flush();
      if (args.interval <= 0 || (args.count != 0 && n + 1 >= args.count)) return 0;
      earlier = std::move(now);
      std::this_thread::sleep_for(std::chrono::duration<double>(args.interval));
    }
  });
}

CommandResult Metrics(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    PoolIoReport report = TRY(pool.GetIoReport());
    ctx.out << (ctx.json ? FormatJson(ToJson(report)) : FormatPrometheus(report));
    return 0;
  });
}

}  // namespace

void AddIostatCommands(CLI::App& app, CommandContext& ctx) {
  auto args = std::make_shared<IostatArgs>();
  CLI::App* iostat = app.get_subcommand("pool")->add_subcommand(
      "iostat",
      "I/O rates, bandwidth and latency (average, p99) of the pool's devices; -v adds each tier, vdev and "
      "volume (with its cache hit rate). The first report covers the time since the server opened the pool, "
      "each later one the INTERVAL before it");
  AddPoolOption(iostat, ctx);
  AddJsonFlag(iostat, ctx);
  iostat->add_flag("-v,--verbose", args->verbose, "Show each tier, vdev and volume");
  iostat->add_option("interval", args->interval, "Seconds between reports (default: one report)")
      ->check(CLI::Range(0.1, 86400.0));
  iostat->add_option("count", args->count, "Number of reports (default: until interrupted)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  iostat->callback([&ctx, args] { ctx.action = [&ctx, args] { return Iostat(ctx, *args); }; });

  CLI::App* metrics = app.add_subcommand(
      "metrics", "Print the running server's I/O counters in the Prometheus text format (--json: as JSON)");
  AddPoolOption(metrics, ctx);
  AddJsonFlag(metrics, ctx);
  metrics->callback([&ctx] { ctx.action = [&ctx] { return Metrics(ctx); }; });
}

}  // namespace tessera
