// tessera serve [--socket PATH] [--listen HOST:PORT (--tls-psk FILE |
//               --tls-certificates DIR [--tls-verify-peer] | --insecure)]
//               [--daemon] [--memory SIZE] [--max-connections N] [--threads N]
//
// Runs nbdkit with the tessera plugin on the pool.
//
// Design notes
//  1. The Unix socket is always served (default DIR/nbd.sock: attach and the
//     scripts rely on it); --listen adds a TCP address. nbdkit refuses -U
//     with -i/-p, so with --listen this command binds both sockets itself
//     and hands them to nbdkit by socket activation (LISTEN_FDS=2,
//     LISTEN_PID = the nbdkit process; fds 3 and 4). Without --listen it is
//     plain `nbdkit -U`. Port 0 lets the kernel choose; the port printed is
//     the one bound.
//  2. Before starting nbdkit the pool is opened once (then closed) to list
//     the exports for the printed URIs; this also proves that no other
//     process holds the pool, so nbdkit's own Storage::Open will succeed.
//  3. Foreground: nbdkit replaces this process (exec), so signals reach it
//     directly and a clean stop (SIGINT/SIGTERM) commits the pool.
//     --daemon: nbdkit runs as a child in its own session (log in
//     DIR/nbdkit.log, pid in DIR/nbdkit.pid); we return once its control
//     socket answers, or fail with the log's tail if it exits first.
//  4. The network gets TLS or nothing: --listen needs a PSK file or an X.509
//     directory, or an explicit --insecure. nbdkit runs with --tls=on (local
//     clients on the Unix socket stay plaintext) and the plugin refuses a
//     plaintext client that is not on the Unix socket (plugin design note
//     7); --insecure passes plaintext-tcp=allow instead of TLS options. Key
//     material is checked before anything starts (listen.h).
//  5. Memory: the plugin gets the cache budget (memory=), nbdkit the worker
//     threads per client (--threads) and the limit filter the number of
//     clients in transmission (limit=); together they bound the request
//     buffers (serve_limits.h contract 1). The banner prints the worst case.
//     A client over the limit is refused when it connects, after the
//     greeting; clients still negotiating are not counted, and hold no
//     request buffer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
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
#include "admin/listen.h"
#include "admin/process.h"
#include "admin/serve_limits.h"
#include "core/pool/config.h"
#include "core/util/memory_budget.h"
#include "core/util/size.h"
#include "core/control/unix_socket.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

struct ServeArgs {
  std::string socket;
  std::string listen;  // HOST:PORT, checked by ParseListenAddress
  std::string tls_psk;
  std::string tls_certificates;
  bool tls_verify_peer = false;
  bool insecure = false;
  bool daemon = false;
  std::string metrics_file;
  std::string memory;  // SIZE, checked by ParseSizeArg
  uint32_t max_connections = 0;  // 0: not given (serve_limits.h contract 2)
  uint32_t threads = 0;
};

// The network side of a serve: where, and how clients authenticate (design
// note 4).
struct NetworkPlan {
  ListenAddress address;
  TlsClientAuth auth;  // empty when insecure
  bool insecure = false;
  bool verify_peer = false;
};

Result<std::optional<NetworkPlan>> PlanNetwork(const ServeArgs& args) {
  const bool tls = !args.tls_psk.empty() || !args.tls_certificates.empty();
  if (args.listen.empty()) {
    if (tls || args.insecure) {
      return Err(Code::kInvalidArgument,
                 "--tls-psk, --tls-certificates and --insecure apply to --listen HOST:PORT; "
                 "the Unix socket needs none of them");
    }
    return std::optional<NetworkPlan>();
  }
  NetworkPlan plan{.address = TRY(ParseListenAddress(args.listen)),
                   .insecure = args.insecure,
                   .verify_peer = args.tls_verify_peer};
  if (!tls && !args.insecure) {
    return Err(Code::kInvalidArgument,
               "--listen {} would serve every volume to the network without TLS; give "
               "--tls-psk FILE (make one with: psktool -u NAME -p FILE) or --tls-certificates "
               "DIR, or --insecure for plaintext on a network you trust",
               args.listen);
  }
  if (!args.tls_psk.empty()) {
    plan.auth.psk_file = fs::absolute(args.tls_psk).lexically_normal().string();
    plan.auth.psk_user = TRY(CheckTlsPsk(plan.auth.psk_file));
  }
  if (!args.tls_certificates.empty()) {
    plan.auth.certificates_dir = fs::absolute(args.tls_certificates).lexically_normal().string();
    TRY_STATUS(CheckTlsCertificates(plan.auth.certificates_dir));
  }
  return std::optional<NetworkPlan>(plan);
}

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

struct TcpListener {
  UniqueFd fd;
  uint16_t port = 0;  // the one bound (design note 1)
};

Result<TcpListener> ListenTcp(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Err(Code::kInvalidArgument, "--listen: cannot resolve '{}': {}", address.host,
               ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, ::freeaddrinfo);
  std::string why = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd.valid()) {
      why = fmt::format("socket: {}", std::strerror(errno));
      continue;
    }
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), 128) != 0) {
      why = std::strerror(errno);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    uint16_t bound_port = bound.ss_family == AF_INET6
                              ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                              : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    return TcpListener{.fd = std::move(fd), .port = bound_port};
  }
  return Err(Code::kBusy, "cannot listen on {}:{}: {}", UriHost(address.host), address.port, why);
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
  const std::optional<NetworkPlan> network = TRY(PlanNetwork(args));
  const uint64_t memory = args.memory.empty() ? 0 : TRY(ParseSizeArg(args.memory));
  if (memory != 0 && memory < kMinMemoryBytes) {
    return Err(Code::kInvalidArgument, "--memory {} is below the minimum of {}", args.memory,
               FormatSize(kMinMemoryBytes));
  }
  const PoolConfig config = TRY(LoadPoolConfig(dir + "/pool.conf"));
  const ServeLimits limits =
      TRY(PlanServeLimits(args.max_connections, args.threads, memory, config, MachineMemoryBytes()));
  const std::string plugin = TRY(FindPlugin());
  const std::string nbdkit = TRY(FindProgram("nbdkit"));
  const std::string socket = args.socket.empty()
                                 ? dir + "/nbd.sock"
                                 : fs::absolute(args.socket).lexically_normal().string();

  // Design note 2.
  std::vector<VolumeInfo> volumes;
  {
    std::unique_ptr<PoolApi> pool = TRY(ConnectOrOpen(dir));
    if (pool->remote()) {
      return Err(Code::kBusy, "pool {} is already being served (its control socket answers)", dir);
    }
    volumes = TRY(pool->ListVolumes());
    TRY_STATUS(pool->Close());
  }
  auto listening = ConnectUnix(socket, DeadlineAfter(std::chrono::seconds(1)));
  if (listening) return Err(Code::kBusy, "a server already listens on {}", socket);
  std::error_code ec;
  if (listening.error().code() == Code::kNotFound && fs::is_socket(socket, ec)) {
    fs::remove(socket, ec);  // stale: nbdkit does not remove its socket when killed
  }

  UniqueFd unix_fd;
  TcpListener tcp;
  std::vector<std::string> argv = {nbdkit, "-f", fmt::format("--threads={}", limits.threads)};
  if (network) {
    unix_fd = TRY(ListenUnix(socket));
    tcp = TRY(ListenTcp(network->address));
    if (!network->insecure) argv.push_back("--tls=on");  // design note 4
    if (!network->auth.psk_file.empty()) argv.push_back("--tls-psk=" + network->auth.psk_file);
    if (!network->auth.certificates_dir.empty()) {
      argv.push_back("--tls-certificates=" + network->auth.certificates_dir);
    }
    if (network->verify_peer) argv.push_back("--tls-verify-peer");
  } else {
    argv.insert(argv.end(), {"-U", socket});
  }
  const std::string pid_file = dir + "/nbdkit.pid";
  if (args.daemon) argv.insert(argv.end(), {"-P", pid_file});
  argv.insert(argv.end(), {"--filter=limit", plugin, "pool=" + dir});
  argv.push_back(fmt::format("limit={}", limits.max_connections));  // design note 5
  if (!args.metrics_file.empty()) argv.push_back("metrics-file=" + fs::absolute(args.metrics_file).string());
  if (memory != 0) argv.push_back(fmt::format("memory={}", memory));

  if (network && network->insecure) argv.push_back("plaintext-tcp=allow");
  std::function<void()> hook;
  if (network) {
    hook = [u = unix_fd.get(), t = tcp.fd.get()] { InstallListenFds(u, t); };
  }

  // Under --json the banner goes to stderr and --daemon prints one document.
  std::ostream& banner = ProgressOut(ctx);
  banner << fmt::format("serving pool {}\n  unix socket  {}\n", dir, socket);
  if (network) {
    std::string how = network->insecure                 ? "plaintext (--insecure)"
                      : !network->auth.psk_file.empty() ? "TLS, PSK user " + network->auth.psk_user
                      : network->verify_peer            ? "TLS, X.509, client certificates checked"
                                                        : "TLS, X.509";
    banner << fmt::format("  tcp          {}:{}  {}\n", UriHost(network->address.host), tcp.port,
                          how);
  }
  if (volumes.empty()) {
    banner << "no volumes yet (create one with: tessera volume create NAME --size SIZE)\n";
  }
  for (const VolumeInfo& v : volumes) {
    banner << fmt::format("  export {}  {}", v.name, NbdUnixUri(socket, v.name));
    if (network && network->insecure) {
      banner << "  " << NbdTcpUri(network->address.host, tcp.port, v.name);
    } else if (network) {
      banner << "  " << NbdsTcpUri(network->address.host, tcp.port, v.name, network->auth);
    }
    banner << "\n";
  }
  if (volumes.size() == 1) {
    banner << fmt::format("  default export: {}\n", NbdUnixUri(socket, ""));
  }
  banner << fmt::format("  memory       at most {}\n", limits.Describe());
  banner << "running: " << ShellQuote(argv) << "\n";
  banner.flush();

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
  tcp.fd.Reset();
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
  Json exports = Json::array();
  for (const VolumeInfo& v : volumes)
    exports.push_back({{"name", v.name}, {"uri", NbdUnixUri(socket, v.name)}});
  PrintResult(ctx,
              {{"pid", *pid},
               {"log", log},
               {"pid_file", pid_file},
               {"socket", socket},
               {"exports", exports},
               {"limits",
                {{"max_connections", limits.max_connections},
                 {"threads", limits.threads},
                 {"cache_bytes", limits.cache_bytes},
                 {"request_buffer_bytes", limits.RequestBufferBytes()},
                 {"worst_case_bytes", limits.WorstCaseBytes()}}}},
              fmt::format("server running: pid {} (log {}); stop it with: kill $(cat {})\n", *pid,
                          log, pid_file));
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandContext& ctx) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* serve = app.add_subcommand(
      "serve", "Serve every volume over NBD with nbdkit (Unix socket; TCP with --listen and TLS)");
  AddPoolOption(serve, ctx);
  AddJsonFlag(serve, ctx);
  serve->add_option("--socket", args->socket, "Unix socket (default: DIR/nbd.sock)");
  serve->add_option("--listen", args->listen,
                    "Also listen on TCP HOST:PORT (e.g. 0.0.0.0:10809, [::1]:10809; port 0 picks "
                    "one); needs --tls-psk, --tls-certificates or --insecure")
      ->check([](const std::string& text) {
        auto parsed = ParseListenAddress(text);
        return parsed ? std::string() : parsed.error().message();
      });
  CLI::Option* psk = serve->add_option(
      "--tls-psk", args->tls_psk, "TLS with pre-shared keys: a USERNAME:HEXKEY file (psktool)");
  CLI::Option* certs = serve->add_option(
      "--tls-certificates", args->tls_certificates,
      "TLS with X.509: a directory with ca-cert.pem, server-cert.pem, server-key.pem");
  serve->add_flag("--tls-verify-peer", args->tls_verify_peer,
                  "With --tls-certificates: admit only clients with a certificate the CA signed")
      ->needs(certs);
  CLI::Option* insecure = serve->add_flag(
      "--insecure", args->insecure, "Serve --listen in plaintext, without TLS (trusted networks only)");
  psk->excludes(certs);
  insecure->excludes(psk);
  insecure->excludes(certs);
  serve->add_flag("--daemon", args->daemon,
                  "Run in the background (log DIR/nbdkit.log, pid DIR/nbdkit.pid)");
  serve->add_option("--metrics-file", args->metrics_file,
                    "Keep FILE holding the I/O counters in the Prometheus text format (as `tessera "
                    "metrics` prints them), rewritten every 5 s, for node exporter's textfile collector");
  serve->add_option("--memory", args->memory,
                    "Memory for caches, shared by every volume (e.g. 1G; default: pool.conf's memory, else "
                    "an eighth of the machine's memory, 128M to 2G)");
  serve->add_option("--max-connections", args->max_connections,
                    "NBD clients served at once; more are refused when they connect (default: "
                    "pool.conf's max-connections, else as many as keep the worst case, caches + "
                    "N x threads x 64M of request buffers, within half the machine's memory, at least 4; "
                    "the worst case is printed at start)")
      ->check(CLI::Range(1u, kMaxServeConnections));
  serve->add_option("--threads", args->threads,
                    "nbdkit worker threads per client, each holding up to a 64M request buffer "
                    "(default: pool.conf's threads, else 4)")
      ->check(CLI::Range(1u, kMaxServeThreads));
  serve->callback([&ctx, args] { ctx.action = [&ctx, args] { return Serve(ctx, *args); }; });
}

}  // namespace tessera
