// tessera_thrash: random operations against a Storage over FaultVdevs,
// checked against a model, with power losses (tests/thrash/thrasher.h).
//
//   tessera_thrash [--seed N] [--seconds S | --minutes M] [--ops N]
//                  [--dir DIR] [--keep] [--verbose] [--no-KIND ...]
//
// Prints the seed first; the same seed replays the same operations. Exit
// status: 0 when every check passed, 1 on the first mismatch, unexpected
// error or unclean Check (the seed, the op number and what differed are
// printed), 2 on bad usage.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include <fmt/core.h>

#include "tests/thrash/thrasher.h"

namespace {

using tessera::thrash::Thrasher;
using tessera::thrash::ThrashOptions;

void Usage(FILE* out) {
  fmt::print(out,
             "usage: tessera_thrash [--seed N] [--seconds S | --minutes M] [--ops N] [--dir DIR] [--keep]\n"
             "                      [--cache-kib N] [--crash-on-nospace] [--background MS] [--verbose]\n"
             "                      [--no-KIND ...]\n"
             "  --seed N      replay seed N (default: a random one, printed first)\n"
             "  --seconds S   run about S seconds (default 60); --minutes M likewise\n"
             "  --ops N       stop after N operations (also bounded by the time)\n"
             "  --dir DIR     the pool directory (default: a fresh one under TMPDIR, removed at the end)\n"
             "  --keep        keep the pool directory\n"
             "  --cache-kib N each volume's data cache (default 4096; dirty bound: half)\n"
             "  --crash-on-nospace  a NoSpace while the pool is less than half full (a known log bug,\n"
             "                tests/thrash/README.md) is recovered like a power loss, not a failure\n"
             "  --background MS  run the Storage's background thread (commits, cleaning) every MS ms,\n"
             "                racing the operations; a seed then no longer replays exactly\n"
             "  --verbose     log every operation (and the core's info messages)\n"
             "  --no-KIND     leave out an operation kind; the kinds:\n   ");
  for (const auto& k : Thrasher::Kinds()) fmt::print(out, " {}", k.name);
  fmt::print(out, "\n");
}

bool ParseU64(const std::string& text, uint64_t& out) {
  try {
    size_t used = 0;
    out = std::stoull(text, &used);
    return used == text.size();
  } catch (...) {
    return false;
  }
}

bool ParseDouble(const std::string& text, double& out) {
  try {
    size_t used = 0;
    out = std::stod(text, &used);
    return used == text.size() && out >= 0;
  } catch (...) {
    return false;
  }
}

}  // namespace

int main(int argc, char** argv) {
  ThrashOptions options;
  options.seed = std::random_device{}() ^ (uint64_t{std::random_device{}()} << 32);
  bool keep = false;
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "{} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    bool ok = true;
    if (arg == "--seed") {
      ok = ParseU64(value(), options.seed);
    } else if (arg == "--seconds") {
      ok = ParseDouble(value(), options.seconds);
    } else if (arg == "--minutes") {
      ok = ParseDouble(value(), options.seconds);
      options.seconds *= 60;
    } else if (arg == "--ops") {
      ok = ParseU64(value(), options.max_ops);
    } else if (arg == "--cache-kib") {
      uint64_t kib = 0;
      ok = ParseU64(value(), kib) && kib >= 64;
      options.sizes.data_cache_bytes = kib << 10;
    } else if (arg == "--dir") {
      options.dir = value();
    } else if (arg == "--crash-on-nospace") {
      options.crash_on_nospace = true;
    } else if (arg == "--background") {
      ok = ParseU64(value(), options.background_ms) && options.background_ms > 0;
    } else if (arg == "--keep") {
      keep = true;
    } else if (arg == "--verbose" || arg == "-v") {
      options.verbose = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage(stdout);
      return 0;
    } else if (arg.starts_with("--no-")) {
      std::string kind = arg.substr(5);
      bool known = false;
      for (const auto& k : Thrasher::Kinds()) known |= kind == k.name;
      if (!known) {
        fmt::print(stderr, "unknown operation kind '{}'\n", kind);
        Usage(stderr);
        return 2;
      }
      options.skip.insert(kind);
    } else {
      fmt::print(stderr, "unknown argument '{}'\n", arg);
      Usage(stderr);
      return 2;
    }
    if (!ok) {
      fmt::print(stderr, "bad value for {}\n", arg);
      return 2;
    }
  }
  // The core logs to stderr; only errors unless asked (core/util/log.h).
  setenv("TESSERA_LOG", options.verbose ? "info" : "error", 0);
  bool remove_dir = false;
  if (options.dir.empty()) {
    options.dir = (std::filesystem::temp_directory_path() /
                   fmt::format("tessera-thrash-{}-{}", options.seed, getpid())).string();
    remove_dir = !keep;
  }
  if (std::filesystem::exists(options.dir + "/pool.conf")) {
    fmt::print(stderr, "{} already holds a pool; give a new directory\n", options.dir);
    return 2;
  }
  fmt::print("tessera_thrash: seed {} ({:.0f} s{}), pool {}\n", options.seed, options.seconds,
             options.max_ops ? fmt::format(", at most {} ops", options.max_ops) : "", options.dir);
  std::string skipped;
  for (const auto& k : options.skip) skipped += " --no-" + k;
  if (options.crash_on_nospace) skipped += " --crash-on-nospace";
  if (options.background_ms) skipped += fmt::format(" --background {}", options.background_ms);
  if (options.sizes.data_cache_bytes != tessera::thrash::PoolSizes{}.data_cache_bytes) {
    skipped += fmt::format(" --cache-kib {}", options.sizes.data_cache_bytes >> 10);
  }
  if (!skipped.empty()) fmt::print("options:{}\n", skipped);
  std::fflush(stdout);

  int status = 0;
  auto thrasher = std::make_unique<Thrasher>(options);
  try {
    thrasher->Run();
  } catch (const std::exception& failure) {
    fmt::print("FAILED: {}\n", failure.what());
    fmt::print("replay: tessera_thrash --seed {} --ops {} --seconds 100000{}\n", options.seed, thrasher->op_number(),
               skipped);
    status = 1;
  }
  std::fflush(stdout);
  const auto st = thrasher->stats();
  const uint64_t drawn = thrasher->op_number();
  thrasher.reset();  // drops the Storage before its directory goes
  uint64_t total = 0;
  for (const auto& [kind, n] : st.ops) total += n;
  fmt::print("operations: {} done of {} drawn\n", total, drawn);
  for (const auto& [kind, n] : st.ops) fmt::print("  {:<18} {}\n", kind, n);
  fmt::print("crashes survived: {} power losses ({} started by a device crashing after N writes), {} reopens after "
             "them, {} clean reopens\n",
             st.power_losses, st.device_crashes, st.reopens, st.clean_reopens);
  fmt::print("verifications passed: {} volumes and {} snapshots read whole, {} reads compared, {} clean checks, "
             "{} refusals as expected\n",
             st.volume_verifications, st.snapshot_verifications, st.reads_compared, st.checks,
             st.expected_refusals);
  if (st.nospace_recoveries > 0) {
    fmt::print("known log bug hit (NoSpace with room to spare, recovered): {} times\n", st.nospace_recoveries);
  }
  fmt::print("{} (seed {})\n", status == 0 ? "PASSED" : "FAILED", options.seed);
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(options.dir, ec);
  }
  return status;
}
