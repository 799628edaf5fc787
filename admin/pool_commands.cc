// tessera pool create | status | check
//
// Design notes
//  1. `pool create` validates everything (specs, sizes, duplicates, an
//     existing pool.conf) before it creates anything; if Storage::Create then
//     fails, a pool directory that this command created is removed again.
//  2. `pool status` and `pool check` go through PoolClient, so they work the
//     same with and without a running server.
//  3. A --vdev path that names a block device is used whole and as it is
//     (core/pool/file_vdev_kind.h contract 3): size= may be left out, and
//     the device is refused, unless --force, when it holds a filesystem, a
//     partition table or another pool's label; the refusal comes before
//     anything is written.
#include <algorithm>
#include <filesystem>
#include <memory>

#include "admin/args.h"
#include "admin/commands.h"
#include "admin/output.h"
#include "core/pool/address.h"
#include "core/pool/file_vdev_kind.h"
#include "core/pool/vdev_kinds.h"
#include "core/util/size.h"
#include "core/volume/storage.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

CommandResult CreatePool(CommandContext& ctx, const PoolCreateArgs& args) {
  const std::string dir = ctx.PoolDir();
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "pool.conf", ec)) {
    return Err(Code::kInvalidArgument, "a pool already exists at {}", dir);
  }
  PoolConfig config = TRY(BuildPoolConfig(args, dir));
  for (VdevConfig& vdev : config.vdevs) {
    if (fs::exists(vdev.path, ec) && !fs::is_block_file(vdev.path, ec)) {
      return Err(Code::kInvalidArgument, "vdev file {} already exists; not overwriting it",
                 vdev.path);
    }
    // Design note 3: a block device without size= is its own size.
    if (VdevKind(vdev) == kDefaultVdevKind && vdev.size_bytes == 0) vdev.size_bytes = TRY(FileVdevSize(vdev));
  }

  std::ostream& progress = ProgressOut(ctx);
  progress << fmt::format("creating pool '{}' in {}\n", config.name, dir);
  for (const VdevConfig& vdev : config.vdevs) {
    // A depot without size= takes its export's, known once it is opened.
    progress << fmt::format("  vdev {:<10} {:<8} {:>7}  {}\n", vdev.name, TierName(vdev.tier),
                            vdev.size_bytes == 0 ? "export" : FormatSize(vdev.size_bytes), vdev.path);
  }
  bool zero_fill = std::any_of(config.vdevs.begin(), config.vdevs.end(), [](const VdevConfig& v) {
    auto it = v.attrs.find("preallocate");
    return it != v.attrs.end() && it->second == "full";
  });
  if (zero_fill)
    progress << "preallocating: writing zeros over the vdev files (this takes a while)\n";
  progress.flush();

  bool created_dir = !fs::exists(dir, ec);
  if (created_dir && !fs::create_directories(dir, ec) && ec) {
    return Err(Code::kIOError, "cannot create {}: {}", dir, ec.message());
  }
  auto storage = Storage::Create(dir, config, {.force_devices = args.force});
  if (!storage) {
    if (created_dir) {  // leave no trace: Create made only its lock file here
      fs::remove(fs::path(dir) / "lock", ec);
      fs::remove(dir, ec);  // only if now empty
    }
    return std::unexpected(storage.error());
  }
  auto status = (*storage)->GetPoolStatus();
  TRY_STATUS((*storage)->Close());
  TRY_STATUS(status);
  uint64_t total = 0;
  for (const VdevStatus& vdev : status->vdevs) total += vdev.size_bytes;
  PrintResult(
      ctx, ToJson(*status),
      fmt::format("created pool '{}' in {}: {} vdev{}, {}\n", config.name, dir, config.vdevs.size(),
                  config.vdevs.size() == 1 ? "" : "s", FormatSize(total)));
  return 0;
}

CommandResult PoolStatusCommand(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    PoolStatus status = TRY(pool.GetPoolStatus());
    ctx.out << (ctx.json ? FormatJson(ToJson(status)) : FormatPoolStatus(status));
    return 0;
  });
}

CommandResult PoolCheckCommand(CommandContext& ctx) {
  return WithPool(ctx, [&](PoolApi& pool) -> CommandResult {
    CheckReport report = TRY(pool.Check());
    ctx.out << (ctx.json ? FormatJson(ToJson(report)) : FormatCheckReport(report));
    return report.clean() ? 0 : 1;
  });
}

}  // namespace

void AddPoolCommands(CLI::App& app, CommandContext& ctx) {
  CLI::App* pool = app.add_subcommand("pool", "Create a pool, show its status, check it");
  pool->require_subcommand(1);

  auto args = std::make_shared<PoolCreateArgs>();
  CLI::App* create = pool->add_subcommand(
      "create",
      "Create a pool: N file vdevs of SIZE in the pool directory (default 1 x 4G, sparse), "
      "or one vdev per --vdev");
  AddPoolOption(create, ctx);
  AddJsonFlag(create, ctx);
  CLI::Option* count = create
                           ->add_option("--vdevs", args->vdev_count,
                                        "Number of file vdevs DIR/vdevK.img (default 1)")
                           ->check(CLI::Range(1u, kMaxVdevsPerTier));
  CLI::Option* size =
      create->add_option("--size", args->vdev_size, "Size of each vdev (default 4G)")
          ->check(SizeValidator());
  create
      ->add_option("--vdev", args->vdev_specs,
                   "A vdev: tier=T,path=P[,size=S][,name=N][,key=val...] (repeatable; relative "
                   "paths are inside the pool directory; a block device is used whole, and size= "
                   "may be left out for it)")
      ->type_name("SPEC")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::Validator(
          [](std::string& spec) -> std::string {
            auto vdev = ParseVdevSpec(spec, "/", 0);
            return vdev ? std::string() : vdev.error().message();
          },
          "SPEC", "vdev spec"))
      ->excludes(count)
      ->excludes(size);
  create->add_flag("--force", args->force,
                   "Use block devices that hold a filesystem, a partition table or another pool's label "
                   "(their contents are overwritten)");
  create->add_flag("--preallocate", args->preallocate,
                    "Write zeros over every vdev file now (preallocate = full): uses the whole size "
                    "on disk at once, and later writes and flushes need no file system allocation");
  create->callback([&ctx, args] { ctx.action = [&ctx, args] { return CreatePool(ctx, *args); }; });

  CLI::App* status = pool->add_subcommand("status", "Show the pool, its space and its vdevs");
  AddPoolOption(status, ctx);
  AddJsonFlag(status, ctx);
  status->callback([&ctx] { ctx.action = [&ctx] { return PoolStatusCommand(ctx); }; });

  CLI::App* check = pool->add_subcommand(
      "check", "Verify the pool's metadata (exit status 1 when problems are found)");
  AddPoolOption(check, ctx);
  AddJsonFlag(check, ctx);
  check->callback([&ctx] { ctx.action = [&ctx] { return PoolCheckCommand(ctx); }; });
}

}  // namespace tessera
