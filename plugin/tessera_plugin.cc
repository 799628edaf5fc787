// nbdkit-tessera-plugin: every volume of a Tessera pool as an NBD export.
//
//   nbdkit nbdkit-tessera-plugin.so pool=DIR [commit-interval=MS]
//                                   [plaintext-tcp=refuse|allow]
//                                   [metrics-file=PATH] [memory=SIZE]
//
// A thin shell (docs/architecture.md, Plugin and CLI): each callback
// converts types and errors, then calls core/volume. No storage logic lives
// here.
//
// Design notes
//  1. Lifecycle, one Storage per server process:
//
//       config / config_complete   remember and check pool= (nothing opened)
//       get_ready                  Storage::Open (takes the pool's exclusive
//                                  lock; errors are still visible to the user)
//       after_fork                 StartBackground (commit thread, lease
//                                  renewals: core/pool/pool_lease.h), the
//                                  control socket DIR/control.sock and the
//                                  metrics file (core/control/metrics_file.h)
//       open / close               one Handle per connection, holding the
//                                  volume's shared Volume object
//       cleanup (or unload)        Shutdown: stop the metrics file and the
//                                  control socket, stop the
//                                  commit thread, Storage::Close (flush +
//                                  commit)
//
//     No threads exist before after_fork, so a forking nbdkit loses none.
//  2. One Volume object per name (Storage::OpenVolume), shared by every
//     connection: a flush on any connection covers all of them, which is
//     what makes can_multi_conn = true honest.
//  3. Every error reaching nbdkit goes through Fail(): nbdkit_error with the
//     message, nbdkit_set_error with ErrnoFromCode. No C++ exception crosses
//     into nbdkit: every callback body runs inside Guarded().
//  4. Every can_* answers what the callbacks really do: FUA, cache and zero
//     are native (zero unmaps, so it is always fast); writes are refused only
//     for read-only volumes.
//  5. Export names are untrusted (up to 4096 bytes of any bytes); messages
//     quote at most 64 bytes of them.
//  6. Only the serving process closes the pool. nbdkit forks after get_ready
//     (into the background; and for --run, where the parent runs the command
//     and then calls exit()). The state is therefore never destroyed by a
//     static destructor, and Shutdown acts only in the process recorded as
//     `owner` (get_ready's, replaced by after_fork's): a forked-off parent
//     that exits must not flush or commit through the server's rings and
//     files.
//  7. A network client must use TLS. The Unix socket (behind the pool
//     directory's 0700 mode) serves local clients in plaintext, so nbdkit
//     runs with --tls=on rather than require, and the plugin decides per
//     connection: a client that is neither local (AF_UNIX peer) nor on TLS
//     lists no exports and opens none, unless plaintext-tcp=allow (which
//     `tessera serve --insecure` passes). A peer whose address cannot be
//     read counts as a network client.
#define NBDKIT_API_VERSION 2
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#include <nbdkit-plugin.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <memory>
#include <span>
#include <string>

#include "core/control/codes.h"
#include "core/control/metrics_file.h"
#include "core/control/server.h"
#include "core/util/size.h"
#include "core/util/volume_ref.h"
#include "core/volume/storage.h"

namespace tessera {
namespace {

constexpr uint32_t kMinBlock = 512;
constexpr uint32_t kPreferredBlock = 4096;
constexpr uint32_t kMaxBlock = 32u << 20;

struct PluginState {
  std::string pool_dir;
  std::chrono::milliseconds commit_interval{5000};
  bool plaintext_tcp = false;              // design note 7
  std::unique_ptr<Storage> storage;        // set by get_ready
  std::unique_ptr<ControlServer> control;  // set by after_fork
  std::string metrics_path;                // metrics-file=, or empty
  uint64_t memory_bytes = 0;               // memory=, or 0 (StorageOptions::memory_bytes)
  std::unique_ptr<MetricsFile> metrics;    // set by after_fork when metrics_path is
  pid_t owner = 0;                         // the process that serves (design note 6)
};
// Never destroyed (design note 6): no static destructor may close the pool.
PluginState& g_state = *new PluginState;

struct Handle {
  std::shared_ptr<Volume> volume;
};

Volume& VolumeOf(void* handle) { return *static_cast<Handle*>(handle)->volume; }

int Fail(const Error& error) {
  nbdkit_error("%s", error.ToString().c_str());
  nbdkit_set_error(ErrnoFromCode(error.code()));
  return -1;
}

int Done(const Status& status) { return status ? 0 : Fail(status.error()); }

// Runs a callback body; an exception becomes an nbdkit error (EIO) and
// `on_exception` is returned instead.
template <typename R, typename F>
R Guarded(R on_exception, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    nbdkit_error("tessera: internal error: %s", e.what());
  } catch (...) {
    nbdkit_error("tessera: internal error");
  }
  nbdkit_set_error(EIO);
  return on_exception;
}

std::string Shown(const std::string& name) {
  if (name.size() <= 64) return name;
  return fmt::format("{}... ({} bytes)", name.substr(0, 64), name.size());
}

void Shutdown() {
  if (::getpid() != g_state.owner) return;  // design note 6
  g_state.metrics.reset();  // writes the file a last time
  if (g_state.control) g_state.control->Stop();
  g_state.control.reset();
  if (!g_state.storage) return;
  g_state.storage->StopBackground();
  Status closed = g_state.storage->Close();
  if (!closed)
    nbdkit_error("tessera: closing pool %s: %s", g_state.pool_dir.c_str(),
                 closed.error().ToString().c_str());
  g_state.storage.reset();
}

// --- Configuration and lifecycle (design note 1) ---

int TesseraConfig(const char* key, const char* value) {
  std::string_view k(key);
  if (k == "pool") {
    char* absolute = nbdkit_absolute_path(value);
    if (!absolute) return -1;
    g_state.pool_dir = absolute;
    std::free(absolute);
    return 0;
  }
  if (k == "commit-interval") {
    uint32_t ms = 0;
    if (nbdkit_parse_uint32_t("commit-interval", value, &ms) == -1) return -1;
    if (ms == 0) {
      nbdkit_error("tessera: commit-interval must be at least 1 (milliseconds)");
      return -1;
    }
    g_state.commit_interval = std::chrono::milliseconds(ms);
    return 0;
  }
  if (k == "plaintext-tcp") {
    std::string_view v(value);
    if (v != "refuse" && v != "allow") {
      nbdkit_error("tessera: plaintext-tcp must be 'refuse' or 'allow', not '%s'", value);
      return -1;
    }
    g_state.plaintext_tcp = v == "allow";
    return 0;
  }
  if (k == "memory") {
    int64_t bytes = nbdkit_parse_size(value);
    if (bytes == -1) return -1;
    if (static_cast<uint64_t>(bytes) < kMinMemoryBytes) {
      nbdkit_error("tessera: memory=%s is below the minimum of %s", value, FormatSize(kMinMemoryBytes).c_str());
      return -1;
    }
    g_state.memory_bytes = static_cast<uint64_t>(bytes);
    return 0;
  }
  if (k == "metrics-file") {
    char* absolute = nbdkit_absolute_path(value);
    if (!absolute) return -1;
    g_state.metrics_path = absolute;
    std::free(absolute);
    return 0;
  }
  nbdkit_error(
      "tessera: unknown parameter '%s'; expected pool=DIR, commit-interval=MS, "
      "plaintext-tcp=refuse|allow, metrics-file=PATH or memory=SIZE",
      key);
  return -1;
}

int TesseraConfigComplete() {
  if (g_state.pool_dir.empty()) {
    nbdkit_error("tessera: the pool=DIR parameter is required");
    return -1;
  }
  struct stat st {};
  if (::stat(g_state.pool_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    nbdkit_error("tessera: pool=%s is not a directory (create a pool with: tessera pool create)",
                 g_state.pool_dir.c_str());
    return -1;
  }
  return 0;
}

int TesseraGetReady() {
  return Guarded(-1, [] {
    StorageOptions options{.memory_bytes = g_state.memory_bytes};
    options.lease.start_at_open = false;  // note 1: no thread before after_fork
    auto storage = Storage::Open(g_state.pool_dir, options);
    if (!storage) return Fail(storage.error());
    g_state.storage = std::move(*storage);
    g_state.owner = ::getpid();
    return 0;
  });
}

int TesseraAfterFork() {
  return Guarded(-1, [] {
    g_state.owner = ::getpid();  // nbdkit may have forked since get_ready
    g_state.storage->StartBackground(g_state.commit_interval);
    auto control = ControlServer::Start(*g_state.storage, ControlSocketPath(g_state.pool_dir));
    if (!control) return Fail(control.error().WithContext("tessera: control socket"));
    g_state.control = std::move(*control);
    if (!g_state.metrics_path.empty()) {
      auto metrics = MetricsFile::Start(*g_state.storage, g_state.metrics_path, std::chrono::seconds(5));
      if (!metrics) return Fail(metrics.error());
      g_state.metrics = std::move(*metrics);
    }
    return 0;
  });
}

void TesseraCleanup() {
  Guarded(0, [] {
    Shutdown();
    return 0;
  });
}
void TesseraUnload() { TesseraCleanup(); }

// --- Exports ---

// Design note 7.
bool PeerIsLocal() {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (nbdkit_peer_name(reinterpret_cast<sockaddr*>(&addr), &len) == -1) return false;
  return addr.ss_family == AF_UNIX;
}

bool Admitted(bool is_tls) { return is_tls || g_state.plaintext_tcp || PeerIsLocal(); }

int TesseraListExports(int /*readonly*/, int is_tls, struct nbdkit_exports* exports) {
  return Guarded(-1, [is_tls, exports] {
    if (!Admitted(is_tls)) return 0;  // a plaintext network client sees nothing
    auto volumes = g_state.storage->ListExports();
    if (!volumes) return Fail(volumes.error());
    for (const ExportInfo& info : *volumes) {
      std::string description =
          fmt::format("tessera volume {}, {}, {}", info.name, FormatSize(info.size), info.layout);
      if (nbdkit_add_export(exports, info.name.c_str(), description.c_str()) == -1) return -1;
      for (const std::string& snapshot : info.snapshots) {
        std::string name = VolumeRef{info.name, snapshot}.ToString();
        std::string about = fmt::format("read-only snapshot of tessera volume {}", info.name);
        if (nbdkit_add_export(exports, name.c_str(), about.c_str()) == -1) return -1;
      }
    }
    return 0;
  });
}

const char* TesseraDefaultExport(int /*readonly*/, int is_tls) {
  return Guarded(static_cast<const char*>(nullptr), [is_tls]() -> const char* {
    if (!Admitted(is_tls)) return nullptr;
    auto volumes = g_state.storage->ListExports();
    if (!volumes || volumes->size() != 1) return nullptr;  // no default export
    return nbdkit_strdup_intern(volumes->front().name.c_str());
  });
}

void* TesseraOpen(int /*readonly*/) {
  return Guarded(static_cast<void*>(nullptr), []() -> void* {
    if (!Admitted(nbdkit_is_tls() == 1)) {
      nbdkit_error(
          "tessera: pool %s serves network clients over TLS only; connect with nbds:// "
          "(or serve with --insecure)",
          g_state.pool_dir.c_str());
      nbdkit_set_error(EACCES);
      return nullptr;
    }
    const char* exportname = nbdkit_export_name();
    if (!exportname) return nullptr;
    std::string name(exportname);
    if (name.empty()) {
      // default_export found no single volume to stand for "".
      nbdkit_error(
          "tessera: pool %s has no default export (it needs exactly one volume); "
          "name a volume (nbdinfo --list shows them)",
          g_state.pool_dir.c_str());
      nbdkit_set_error(ENOENT);
      return nullptr;
    }
    auto volume = g_state.storage->OpenVolume(name);
    if (!volume) {
      if (volume.error().code() == Code::kNotFound) {
        nbdkit_error("tessera: no volume '%s' in pool %s", Shown(name).c_str(),
                     g_state.pool_dir.c_str());
        nbdkit_set_error(ENOENT);
      } else {
        Fail(volume.error().WithContext(fmt::format("opening volume '{}'", Shown(name))));
      }
      return nullptr;
    }
    return new Handle{std::move(*volume)};
  });
}

// Flushes first, so that an error reaches this client's log; then drops the
// handle and closes the volumes no connection uses any more (flush, log
// head, freed rows, commit). Dropping a handle does no I/O by itself.
void TesseraClose(void* handle) {
  // Design note 3: nothing thrown may reach nbdkit; the handle goes in any case.
  std::unique_ptr<Handle> h(static_cast<Handle*>(handle));
  Guarded(0, [&h] {
    if (!h->volume->read_only()) {
      if (auto flushed = h->volume->Flush(); !flushed) {
        nbdkit_error("%s", flushed.error().WithContext("flushing on close").ToString().c_str());
      }
    }
    h.reset();
    if (auto closed = g_state.storage->CloseIdleVolumes(); !closed) {
      nbdkit_error("%s", closed.error().ToString().c_str());
    }
    return 0;
  });
}

// --- Capabilities (design note 4) ---

int64_t TesseraGetSize(void* handle) {
  return Guarded(int64_t{-1}, [handle] { return static_cast<int64_t>(VolumeOf(handle).size()); });
}

int TesseraBlockSize(void* /*handle*/, uint32_t* minimum, uint32_t* preferred, uint32_t* maximum) {
  *minimum = kMinBlock;
  *preferred = kPreferredBlock;
  *maximum = kMaxBlock;
  return 0;
}

int TesseraCanWrite(void* handle) { return VolumeOf(handle).read_only() ? 0 : 1; }
int TesseraTrue(void* /*handle*/) { return 1; }
int TesseraCanFua(void* /*handle*/) { return NBDKIT_FUA_NATIVE; }
int TesseraCanCache(void* /*handle*/) { return NBDKIT_CACHE_NATIVE; }

// --- Data (design note 3) ---

int TesseraPread(void* handle, void* buf, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  return Guarded(-1, [=] {
    return Done(VolumeOf(handle).Read(offset, {static_cast<std::byte*>(buf), count}));
  });
}

int TesseraPwrite(void* handle, const void* buf, uint32_t count, uint64_t offset, uint32_t flags) {
  return Guarded(-1, [=] {
    std::span<const std::byte> data(static_cast<const std::byte*>(buf), count);
    return Done(VolumeOf(handle).Write(offset, data, (flags & NBDKIT_FLAG_FUA) != 0));
  });
}

int TesseraFlush(void* handle, uint32_t /*flags*/) {
  return Guarded(-1, [=] { return Done(VolumeOf(handle).Flush()); });
}

int TesseraTrim(void* handle, uint32_t count, uint64_t offset, uint32_t flags) {
  return Guarded(-1, [=] {
    return Done(VolumeOf(handle).Trim(offset, count, (flags & NBDKIT_FLAG_FUA) != 0));
  });
}

// NBDKIT_FLAG_FAST_ZERO needs no check: zeroing only unmaps, so it is always
// fast (can_fast_zero is true).
int TesseraZero(void* handle, uint32_t count, uint64_t offset, uint32_t flags) {
  return Guarded(-1, [=] {
    return Done(VolumeOf(handle).Zero(offset, count, (flags & NBDKIT_FLAG_MAY_TRIM) != 0,
                                      (flags & NBDKIT_FLAG_FUA) != 0));
  });
}

int TesseraExtents(void* handle, uint32_t count, uint64_t offset, uint32_t flags,
                   struct nbdkit_extents* extents) {
  return Guarded(-1, [=] {
    auto list = VolumeOf(handle).Extents(offset, count);
    if (!list) return Fail(list.error());
    for (const SegmentExtent& extent : *list) {
      uint32_t type = extent.hole ? (NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) : 0;
      if (nbdkit_add_extent(extents, extent.offset, extent.length, type) == -1) return -1;
      if (flags & NBDKIT_FLAG_REQ_ONE) break;
    }
    return 0;
  });
}

int TesseraCache(void* handle, uint32_t count, uint64_t offset, uint32_t /*flags*/) {
  return Guarded(-1, [=] { return Done(VolumeOf(handle).Prefetch(offset, count)); });
}

struct nbdkit_plugin MakePlugin() {
  struct nbdkit_plugin p = {};
  p.name = "tessera";
  p.longname = "Tessera block storage";
  p.version = "0.1";
  p.description = "Serves every volume of a Tessera pool as an NBD export";
  p.unload = TesseraUnload;
  p.config = TesseraConfig;
  p.config_complete = TesseraConfigComplete;
  p.config_help =
      "pool=DIR              (required) The pool directory (see: tessera pool create).\n"
      "commit-interval=MS    Milliseconds between background commits (default 5000).\n"
      "plaintext-tcp=allow   Serve network clients without TLS (default: refuse).\n"
      "metrics-file=PATH     Keep PATH holding the I/O counters in the Prometheus text format,\n"
      "                      rewritten every 5 s.\n"
      "memory=SIZE           Memory for caches, shared by every volume (default: pool.conf's\n"
      "                      memory, else an eighth of the machine's memory, 128M to 2G).";
  p.magic_config_key = "pool";
  p.get_ready = TesseraGetReady;
  p.after_fork = TesseraAfterFork;
  p.cleanup = TesseraCleanup;
  p.list_exports = TesseraListExports;
  p.default_export = TesseraDefaultExport;
  p.open = TesseraOpen;
  p.close = TesseraClose;
  p.get_size = TesseraGetSize;
  p.block_size = TesseraBlockSize;
  p.can_write = TesseraCanWrite;
  p.can_flush = TesseraTrue;
  p.can_trim = TesseraTrue;
  p.can_zero = TesseraTrue;
  p.can_fast_zero = TesseraTrue;
  p.can_extents = TesseraTrue;
  p.can_multi_conn = TesseraTrue;  // design note 2
  p.can_fua = TesseraCanFua;
  p.can_cache = TesseraCanCache;
  p.pread = TesseraPread;
  p.pwrite = TesseraPwrite;
  p.flush = TesseraFlush;
  p.trim = TesseraTrim;
  p.zero = TesseraZero;
  p.extents = TesseraExtents;
  p.cache = TesseraCache;
  return p;
}

}  // namespace
}  // namespace tessera

static struct nbdkit_plugin plugin = tessera::MakePlugin();

NBDKIT_REGISTER_PLUGIN(plugin)
