// tessera diff | apply: changed ranges between snapshots, and diff streams.
//
// Design notes
//  1. `diff VOL@A` alone lists the changes from A to the live volume;
//     `diff VOL@B --stream F` alone writes a full stream of B (no base).
//  2. This process opens the stream file, with its own rights, and passes
//     the pool a descriptor (stream_files.h): the server never opens a path
//     a client names. stdout, stdin, FIFOs and devices go through an
//     unlinked temporary file in the pool directory.
//  3. `apply` verifies the whole stream here first, with progress on
//     stderr, before sending the request; the pool verifies it again before
//     changing anything (Storage::ApplyDiffStream), so a bad stream never
//     changes the volume.
#include <memory>

#include "admin/commands.h"
#include "admin/output.h"
#include "admin/stream_files.h"
#include "core/util/size.h"
#include "core/util/volume_ref.h"
#include "core/volume/diff_stream.h"

namespace tessera {
namespace {

struct DiffArgs {
  std::string from;    // VOL@A (or VOL@B alone with --stream)
  std::string to;      // VOL@B or VOL; empty: the live volume
  std::string stream;  // --stream FILE or -
};

std::string Label(const std::string& volume, const std::string& snapshot) {
  return VolumeRef{volume, snapshot}.ToString();
}

std::string FormatDiff(const VolumeDiff& diff) {
  using A = Table::Align;
  Table table({{"OFFSET", A::kRight}, {"LENGTH", A::kRight}, {"END", A::kRight}, {"CHANGE"}});
  for (const DiffRange& r : diff.ranges) {
    table.AddRow({std::to_string(r.offset), std::to_string(r.length),
                  std::to_string(r.offset + r.length), r.zero ? "zeroed" : "written"});
  }
  std::string from = diff.from.empty() ? "nothing" : Label(diff.volume, diff.from);
  return (diff.ranges.empty() ? std::string() : table.Render()) +
         fmt::format("{} ranges, {} changed from {} to {}\n", diff.ranges.size(),
                     FormatSize(diff.changed_bytes), from, Label(diff.volume, diff.to));
}

CommandResult Diff(CommandContext& ctx, const DiffArgs& args) {
  VolumeRef a = TRY(ParseSnapshotRef(args.from));
  VolumeRef b{a.volume, ""};
  if (!args.to.empty()) {
    b = TRY(ParseVolumeRef(args.to));
    if (b.volume != a.volume) {
      return Err(Code::kInvalidArgument,
                 "both sides of a diff must be the same volume ('{}' and '{}')", a.volume,
                 b.volume);
    }
  }
  if (args.stream.empty()) {
    return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
      VolumeDiff diff = TRY(pool.DiffVolume(a.volume, a.snapshot, b.snapshot));
      ctx.out << (ctx.json ? FormatJson(ToJson(diff)) : FormatDiff(diff));
      return 0;
    });
  }
  // Note 1: one snapshot alone with --stream is a full stream of it.
  std::string from = args.to.empty() ? "" : a.snapshot;
  std::string to = args.to.empty() ? a.snapshot : b.snapshot;
  if (to.empty()) {
    return Err(Code::kInvalidArgument,
               "a stream's target must be a snapshot (VOLUME@SNAPSHOT), not the live volume '{}'",
               b.volume);
  }
  bool to_stdout = args.stream == "-";
  TRY_STATUS(RequirePool(ctx.PoolDir()));
  std::ostream& report = to_stdout ? ctx.err : ctx.out;
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    // Note 2.
    StreamOutput out = TRY(OpenStreamOutput(args.stream, ctx.PoolDir()));
    report << fmt::format("writing {} stream of {}{} ...\n",
                          from.empty() ? "a full" : "an incremental", Label(a.volume, to),
                          from.empty() ? "" : " from @" + from);
    auto info = pool.WriteDiffStream(a.volume, from, to, out.fd.get());
    TRY_STATUS(FinishStreamOutput(out, info.has_value(), ctx.out));
    if (!info) return Err(info.error());
    if (ctx.json) {
      report << FormatJson(ToJson(*info));
    } else {
      report << fmt::format("wrote {}: {} records, {} of data, {} zeroed, {} stream bytes\n",
                            to_stdout ? "stdout" : args.stream, info->records,
                            FormatSize(info->data_bytes), FormatSize(info->zero_bytes),
                            info->stream_bytes);
    }
    return 0;
  });
}

struct ApplyArgs {
  std::string volume;
  std::string file;
};

CommandResult Apply(CommandContext& ctx, const ApplyArgs& args) {
  TRY_STATUS(RequirePool(ctx.PoolDir()));
  UniqueFd stream = TRY(OpenStreamInput(args.file, ctx.PoolDir()));  // note 2
  // Note 3: verify here first, showing progress.
  int shown = -1;
  auto progress = [&](uint64_t done, uint64_t total) {
    int percent = total == 0 ? 100 : static_cast<int>(done * 100 / total);
    if (percent / 10 == shown / 10) return;
    shown = percent;
    ctx.err << fmt::format("verifying {}: {}% ({} of {})\n", args.file, percent, FormatSize(done),
                           FormatSize(total));
  };
  DiffStreamSummary summary = TRY(VerifyDiffStream(stream.get(), progress));
  shown = -10;  // the end record is read too: always report completion
  progress(summary.stream_bytes, summary.stream_bytes);
  const DiffStreamHeader& h = summary.header;
  ctx.err << fmt::format("stream {}: {} -> {}, {} records ({} of data, {} zeroed)\n", args.file,
                         h.incremental() ? Label(h.volume, h.base_name) : "nothing",
                         Label(h.volume, h.target_name), summary.records, FormatSize(summary.data_bytes),
                         FormatSize(summary.zero_bytes));
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    ctx.err << fmt::format("applying to volume {} ...\n", args.volume);
    DiffStreamInfo info = TRY(pool.ApplyDiffStream(args.volume, stream.get()));
    if (ctx.json) {
      ctx.out << FormatJson(ToJson(info));
    } else {
      ctx.out << fmt::format(
          "applied {} records ({} of data, {} zeroed) to {}; created snapshot {}\n",
          info.records, FormatSize(info.data_bytes), FormatSize(info.zero_bytes), args.volume,
          Label(args.volume, info.target));
    }
    return 0;
  });
}

}  // namespace

void AddDiffCommands(CLI::App& app, CommandContext& ctx) {
  auto diff_args = std::make_shared<DiffArgs>();
  CLI::App* diff = app.add_subcommand(
      "diff",
      "List the ranges changed between two snapshots (or a snapshot and the live volume), "
      "or write them as a diff stream");
  AddPoolOption(diff, ctx);
  AddJsonFlag(diff, ctx);
  diff->add_option("from", diff_args->from,
                   "VOLUME@SNAPSHOT: the older side (with --stream alone: the target)")
      ->required();
  diff->add_option("to", diff_args->to, "VOLUME@SNAPSHOT or VOLUME (default: the live volume)");
  diff->add_option(
      "--stream", diff_args->stream,
      "Write a diff stream to FILE ('-' for stdout) instead of listing; its target must be a "
      "snapshot; with one snapshot alone, a full stream of it");
  diff->callback(
      [&ctx, diff_args] { ctx.action = [&ctx, diff_args] { return Diff(ctx, *diff_args); }; });

  auto apply_args = std::make_shared<ApplyArgs>();
  CLI::App* apply = app.add_subcommand(
      "apply",
      "Apply a diff stream to a volume at the stream's base (or, for a full stream, an unwritten "
      "volume), then snapshot it as the stream's target");
  AddPoolOption(apply, ctx);
  AddJsonFlag(apply, ctx);
  apply->add_option("volume", apply_args->volume, "VOLUME to apply the stream to")->required();
  apply->add_option("file", apply_args->file, "the stream FILE")->required();
  apply->callback(
      [&ctx, apply_args] { ctx.action = [&ctx, apply_args] { return Apply(ctx, *apply_args); }; });
}

}  // namespace tessera
