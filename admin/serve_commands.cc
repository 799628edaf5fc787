// tessera serve [--socket PATH] [--port N] [--daemon]
//
// Runs nbdkit with the tessera plugin on the pool.
//
// Design notes
//  1. The Unix socket is always served (default DIR/nbd.sock: attach and the
//     scripts rely on it); --port adds 127.0.0.1:N. nbdkit refuses -U with
//     -p, so with --port this command binds both sockets itself and hands
//     them to nbdkit by socket activation (LISTEN_FDS=2, LISTEN_PID = the
//     nbdkit process; fds 3 and 4). Without --port it is plain `nbdkit -U`.
//  2. Before starting nbdkit the pool is opened once (then closed) to list
//     the exports for the printed URIs; this also proves that no other
//     process holds the pool, so nbdkit's own Storage::Open will succeed.
//  3. Foreground: nbdkit replaces this process (exec), so signals reach it
//     directly and a clean stop (SIGINT/SIGTERM) commits the pool.
//     --daemon: nbdkit runs as a child in its own session (log in
//     DIR/nbdkit.log, pid in DIR/nbdkit.pid); we return once its control
//     socket answers, or fail with the log's tail if it exits first.
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "admin/args.h"
#include "admin/commands.h"
#include "admin/process.h"
#include "core/control/unix_socket.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

struct ServeArgs {
  std::string socket;
  uint16_t port = 0;
  bool daemon = false;
};

Result<std::string> FindPlugin() {
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::string exe_path = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "";
  std::vector<std::string> candidates = PluginCandidates(exe_path, std::getenv("TESSERA_PLUGIN"));
  std::error_code ec;
  for (const std::string& path : candidates) {
    if (fs::is_regular_file(path, ec)) return path;
  }
  std::string tried;
  for (const std::string& path : candidates) tried += "\n  " + path;
  return Err(Code::kNotFound,
             "the nbdkit plugin nbdkit-tessera-plugin.so was not found; tried:{}\n"
             "build it (ninja nbdkit-tessera-plugin) or set TESSERA_PLUGIN",
             tried);
}

Result<UniqueFd> ListenTcpLoopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Err(Code::kIOError, "socket: {}", std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd.get(), 128) != 0) {
    return Err(Code::kBusy, "cannot listen on 127.0.0.1:{}: {}", port, std::strerror(errno));
  }
  return fd;
}

// Runs in the process that execs nbdkit (design note 1).
void InstallListenFds(int unix_fd, int tcp_fd) {
  int a = ::fcntl(unix_fd, F_DUPFD, 10);
  int b = ::fcntl(tcp_fd, F_DUPFD, 10);
  ::dup2(a, 3);  // dup2 leaves FD_CLOEXEC clear on the copies
  ::dup2(b, 4);
  ::close(a);
  ::close(b);
  ::setenv("LISTEN_FDS", "2", 1);
  ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
}

std::string LogTail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const std::string& line : tail) out += "\n  " + line;
  return out;
}

CommandResult Serve(CommandContext& ctx, const ServeArgs& args) {
  const std::string dir = ctx.PoolDir();
  TRY_STATUS(RequirePool(dir));
  const std::string plugin = TRY(FindPlugin());
  const std::string nbdkit = TRY(FindProgram("nbdkit"));
  const std::string socket = args.socket.empty()
                                 ? dir + "/nbd.sock"
                                 : fs::absolute(args.socket).lexically_normal().string();

  // Design note 2.
  std::vector<VolumeInfo> volumes;
  {
    PoolClient pool(TRY(ConnectOrOpen(dir)));
    if (pool.remote()) {
      return Err(Code::kBusy, "pool {} is already being served (its control socket answers)", dir);
    }
    volumes = TRY(pool.ListVolumes());
    TRY_STATUS(pool.Close());
  }
  auto listening = ConnectUnix(socket, DeadlineAfter(std::chrono::seconds(1)));
  if (listening) return Err(Code::kBusy, "a server already listens on {}", socket);
  std::error_code ec;
  if (listening.error().code() == Code::kNotFound && fs::is_socket(socket, ec)) {
    fs::remove(socket, ec);  // stale: nbdkit does not remove its socket when killed
  }

  UniqueFd unix_fd, tcp_fd;
  std::vector<std::string> argv = {nbdkit, "-f"};
  if (args.port != 0) {
    unix_fd = TRY(ListenUnix(socket));
    tcp_fd = TRY(ListenTcpLoopback(args.port));
  } else {
    argv.insert(argv.end(), {"-U", socket});
  }
  const std::string pid_file = dir + "/nbdkit.pid";
  if (args.daemon) argv.insert(argv.end(), {"-P", pid_file});
  argv.insert(argv.end(), {plugin, "pool=" + dir});
  std::function<void()> hook;
  if (args.port != 0) {
    hook = [u = unix_fd.get(), t = tcp_fd.get()] { InstallListenFds(u, t); };
  }

  ctx.out << fmt::format("serving pool {}\n  unix socket  {}\n", dir, socket);
  if (args.port != 0) ctx.out << fmt::format("  tcp          127.0.0.1:{}\n", args.port);
  if (volumes.empty()) {
    ctx.out << "no volumes yet (create one with: tessera volume create NAME --size SIZE)\n";
  }
  for (const VolumeInfo& v : volumes) {
    ctx.out << fmt::format("  export {}  {}", v.name, NbdUnixUri(socket, v.name));
    if (args.port != 0) ctx.out << "  " << NbdTcpUri("127.0.0.1", args.port, v.name);
    ctx.out << "\n";
  }
  if (volumes.size() == 1) {
    ctx.out << fmt::format("  default export: {}\n", NbdUnixUri(socket, ""));
  }
  ctx.out << "running: " << ShellQuote(argv) << "\n";
  ctx.out.flush();

  if (std::getenv("TESSERA_LOG_DEFAULTED")) {  // main.cc quieted the CLI, not the server
    ::unsetenv("TESSERA_LOG");
    ::unsetenv("TESSERA_LOG_DEFAULTED");
  }
  if (!args.daemon) {
    TRY_STATUS(ExecProgram(argv, hook));  // returns only on failure
    return 1;
  }

  const std::string log = dir + "/nbdkit.log";
  fs::remove(pid_file, ec);
  pid_t keeper = TRY(SpawnDaemon(argv, log, hook));
  unix_fd.Reset();
  tcp_fd.Reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::optional<pid_t> pid;
  for (;;) {
    if (std::optional<int> code = ChildExited(keeper)) {
      return Err(Code::kIOError, "nbdkit exited with status {} before serving; {} says:{}", *code,
                 log, LogTail(log, 20));
    }
    if (!pid) pid = ReadPidFile(pid_file);
    if (pid && ConnectUnix(dir + "/control.sock", DeadlineAfter(std::chrono::seconds(1)))) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Err(Code::kIOError, "nbdkit did not start serving within 60s; see {}", log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ctx.out << fmt::format("server running: pid {} (log {}); stop it with: kill $(cat {})\n", *pid,
                         log, pid_file);
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandContext& ctx) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve every volume over NBD with nbdkit (Unix socket, and TCP with --port)");
  AddPoolOption(serve, ctx);
  serve->add_option("--socket", args->socket, "Unix socket (default: DIR/nbd.sock)");
  serve->add_option("--port", args->port, "Also listen on 127.0.0.1:PORT")
      ->check(CLI::Range(1, 65535));
  serve->add_flag("--daemon", args->daemon,
                  "Run in the background (log DIR/nbdkit.log, pid DIR/nbdkit.pid)");
  serve->callback([&ctx, args] { ctx.action = [&ctx, args] { return Serve(ctx, *args); }; });
}

}  // namespace tessera
