// tessera attach NAME / tessera detach NAME
//
// Makes a volume a local block device through a running `tessera serve`.
//
// Design notes
//  1. Two methods, chosen per attach:
//       nbd      kernel nbd module present (or `modprobe nbd` works) and
//                nbd-client installed: nbd-client -unix SOCK /dev/nbdX -name NAME
//       nbdfuse  otherwise: nbdfuse exposes the export as the file
//                DIR/mnt/NAME/nbd, and `losetup -f --show` puts a loop
//                device on it.
//  2. State per volume, in DIR/attach/NAME.json (attach_state.h):
//
//       detached --attach--> attached --detach--> detached
//                               |  (nbdfuse died, device gone)
//                               \--> stale --attach/detach cleans up--> detached
//
//     attach writes the record only once the device exists; detach removes
//     it only once the device and the mount are gone, so a failed detach
//     (e.g. the loop device is still mounted) can simply be retried.
//  3. attach prints only the device path on stdout, for scripts:
//     dev=$(tessera attach vol).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "admin/args.h"
#include "admin/attach_state.h"
#include "admin/commands.h"
#include "admin/process.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

struct AttachArgs {
  std::string name;
  std::string socket;
};

std::string StatePath(const std::string& dir, const std::string& name) {
  return fmt::format("{}/attach/{}.json", dir, FileSafeName(name));
}

Result<AttachState> ReadState(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(Code::kNotFound, "{} does not exist", path);
  std::stringstream text;
  text << in.rdbuf();
  Json json = Json::parse(text.str(), nullptr, false);
  if (json.is_discarded()) return Err(Code::kCorruption, "{} is not valid JSON", path);
  auto state = AttachStateFromJson(json);
  if (!state) return Err(Code::kCorruption, "{}: {}", path, state.error().message());
  return state;
}

Status WriteState(const std::string& path, const AttachState& state) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << AttachStateToJson(state).dump(2) << "\n";
    if (!out.flush()) return Err(Code::kIOError, "cannot write {}", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Err(Code::kIOError, "cannot write {}: {}", path, ec.message());
  return Ok();
}

bool NbdDeviceInUse(const std::string& device) {
  std::error_code ec;
  return fs::exists(fmt::format("/sys/block/{}/pid", fs::path(device).filename().string()), ec);
}

bool StillAttached(const AttachState& s) {
  if (s.method == "nbd") return NbdDeviceInUse(s.device);
  return ProcessAlive(static_cast<pid_t>(s.pid));
}

bool KernelNbdUsable() {
  if (!FindProgram("nbd-client")) return false;
  std::error_code ec;
  if (fs::exists("/sys/module/nbd", ec)) return true;
  auto modprobe = RunProgram({"modprobe", "nbd"}, /*quiet=*/true);
  return modprobe && modprobe->exit_code == 0 && fs::exists("/sys/module/nbd", ec);
}

Status Run(const std::vector<std::string>& argv) {
  ProcessResult result = TRY(RunProgram(argv));
  if (result.exit_code != 0) {
    return Err(Code::kIOError, "`{}` failed with exit status {}", ShellQuote(argv),
               result.exit_code);
  }
  return Ok();
}

Result<AttachState> AttachKernelNbd(const std::string& name, const std::string& socket) {
  for (int i = 0; fs::exists(fmt::format("/sys/block/nbd{}", i)); ++i) {
    std::string device = fmt::format("/dev/nbd{}", i);
    if (NbdDeviceInUse(device)) continue;
    TRY_STATUS(Run({"nbd-client", "-unix", socket, device, "-name", name, "-block-size", "4096"}));
    return AttachState{.name = name, .method = "nbd", .device = device, .socket = socket};
  }
  return Err(Code::kBusy, "every /dev/nbdX is in use");
}

Result<AttachState> AttachNbdfuse(const std::string& dir, const std::string& name,
                                  const std::string& socket) {
  const std::string safe = FileSafeName(name);
  const std::string mountpoint = fmt::format("{}/mnt/{}", dir, safe);
  const std::string pid_file = fmt::format("{}/attach/{}.pid", dir, safe);
  const std::string log = fmt::format("{}/attach/{}.log", dir, safe);
  TRY(FindProgram("losetup"));
  TRY(FindProgram("fusermount3"));
  std::error_code ec;
  fs::create_directories(mountpoint, ec);
  if (ec) return Err(Code::kIOError, "cannot create {}: {}", mountpoint, ec.message());
  fs::remove(pid_file, ec);

  pid_t keeper =
      TRY(SpawnDaemon({"nbdfuse", "-P", pid_file, mountpoint, NbdUnixUri(socket, name)}, log));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::optional<pid_t> pid;
  while (!(pid = ReadPidFile(pid_file))) {  // nbdfuse writes it once it serves
    if (std::optional<int> code = ChildExited(keeper)) {
      return Err(Code::kIOError, "nbdfuse exited with status {}; see {}", *code, log);
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)RunProgram({"fusermount3", "-u", mountpoint});
      return Err(Code::kIOError, "nbdfuse did not become ready within 30s; see {}", log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  auto losetup = RunProgram({"losetup", "-f", "--show", mountpoint + "/nbd"});
  if (!losetup || losetup->exit_code != 0) {
    (void)RunProgram({"fusermount3", "-u", mountpoint});
    WaitGone(*pid, std::chrono::seconds(10));
    return Err(Code::kIOError, "losetup -f --show {}/nbd failed", mountpoint);
  }
  std::string device = losetup->out;
  while (!device.empty() && (device.back() == '\n' || device.back() == ' ')) device.pop_back();
  return AttachState{.name = name,
                     .method = "nbdfuse",
                     .device = device,
                     .socket = socket,
                     .mountpoint = mountpoint,
                     .pid = *pid};
}

// Undoes an attach; for a stale record only what is left.
Status Detach(const AttachState& s) {
  if (s.method == "nbd") {
    if (NbdDeviceInUse(s.device)) TRY_STATUS(Run({"nbd-client", "-d", s.device}));
    return Ok();
  }
  std::error_code ec;
  if (fs::exists(s.device, ec)) {
    auto backing = RunProgram({"losetup", "--noheadings", "--output", "BACK-FILE", s.device});
    if (backing && backing->exit_code == 0 &&
        backing->out.find(s.mountpoint) != std::string::npos) {
      TRY_STATUS(Run({"losetup", "-d", s.device}));
    }
  }
  if (ProcessAlive(static_cast<pid_t>(s.pid))) {
    auto unmount = Run({"fusermount3", "-u", s.mountpoint});
    if (!unmount) {
      return Err(Code::kBusy, "cannot unmount {} (is {} still mounted or open?): {}", s.mountpoint,
                 s.device, unmount.error().message());
    }
    if (!WaitGone(static_cast<pid_t>(s.pid), std::chrono::seconds(10))) {
      return Err(Code::kBusy, "nbdfuse (pid {}) did not exit after unmounting {}", s.pid,
                 s.mountpoint);
    }
  }
  fs::remove(s.mountpoint, ec);  // the now-empty mount directory
  return Ok();
}

void RemoveRecord(const std::string& dir, const std::string& name) {
  std::error_code ec;
  const std::string base = fmt::format("{}/attach/{}", dir, FileSafeName(name));
  for (const char* suffix : {".json", ".pid", ".log"}) fs::remove(base + suffix, ec);
}

CommandResult AttachCommand(CommandContext& ctx, const AttachArgs& args) {
  const std::string dir = ctx.PoolDir();
  TRY_STATUS(RequirePool(dir));
  const std::string socket = args.socket.empty()
                                 ? dir + "/nbd.sock"
                                 : fs::absolute(args.socket).lexically_normal().string();
  const std::string state_path = StatePath(dir, args.name);

  if (auto old = ReadState(state_path)) {
    if (StillAttached(*old)) {
      return Err(Code::kBusy, "volume {} is already attached at {}", args.name, old->device);
    }
    TRY_STATUS(Detach(*old));  // stale: clean up what is left
    RemoveRecord(dir, args.name);
  }
  // A running server answers on the control socket. (Probing the NBD socket
  // itself would make nbdkit log a failed handshake.)
  {
    std::unique_ptr<PoolApi> pool = TRY(ConnectOrOpen(dir));
    if (!pool->remote()) {
      return Err(
          Code::kNotFound,
          "pool {} is not being served; start a server with: tessera serve --daemon --pool {}", dir,
          dir);
    }
    TRY(pool->GetVolumeInfo(args.name));  // a clear NotFound before any device work
  }
  std::error_code ec;
  if (!fs::is_socket(socket, ec)) {
    return Err(Code::kNotFound, "no NBD server socket at {} (see tessera serve --socket)", socket);
  }

  fs::create_directories(dir + "/attach", ec);
  if (ec) return Err(Code::kIOError, "cannot create {}/attach: {}", dir, ec.message());
  AttachState state = KernelNbdUsable() ? TRY(AttachKernelNbd(args.name, socket))
                                        : TRY(AttachNbdfuse(dir, args.name, socket));
  if (auto written = WriteState(state_path, state); !written) {
    (void)Detach(state);
    return std::unexpected(written.error());
  }
  PrintResult(ctx, Json{{"volume", args.name}, {"device", state.device}}, state.device + "\n");
  return 0;
}

CommandResult DetachCommand(CommandContext& ctx, const AttachArgs& args) {
  const std::string dir = ctx.PoolDir();
  TRY_STATUS(RequirePool(dir));
  const std::string state_path = StatePath(dir, args.name);
  auto state = ReadState(state_path);
  if (!state && state.error().code() == Code::kNotFound) {
    return Err(Code::kNotFound, "volume {} is not attached (no {})", args.name, state_path);
  }
  if (!state) return std::unexpected(state.error());
  TRY_STATUS(Detach(*state));
  RemoveRecord(dir, args.name);
  PrintResult(ctx, Json{{"detached", args.name}, {"device", state->device}},
              fmt::format("detached {} from {}\n", args.name, state->device));
  return 0;
}

}  // namespace

void AddAttachCommands(CLI::App& app, CommandContext& ctx) {
  auto args = std::make_shared<AttachArgs>();
  CLI::App* attach = app.add_subcommand(
      "attach",
      "Attach a volume as a local block device (nbd-client, else nbdfuse + loop); "
      "needs a running `tessera serve`; prints the device path");
  AddPoolOption(attach, ctx);
  AddJsonFlag(attach, ctx);
  attach->add_option("name", args->name, "Volume name")->required();
  attach->add_option("--socket", args->socket, "The server's Unix socket (default: DIR/nbd.sock)");
  attach->callback(
      [&ctx, args] { ctx.action = [&ctx, args] { return AttachCommand(ctx, *args); }; });

  CLI::App* detach = app.add_subcommand("detach", "Detach a volume attached with `tessera attach`");
  AddPoolOption(detach, ctx);
  AddJsonFlag(detach, ctx);
  detach->add_option("name", args->name, "Volume name")->required();
  detach->callback(
      [&ctx, args] { ctx.action = [&ctx, args] { return DetachCommand(ctx, *args); }; });
}

}  // namespace tessera
