// Argument parsing for the `tessera` CLI that needs no pool and no process:
// pure functions, unit-tested in tests/unit/admin.
//
// Contract
//  1. Every parser returns InvalidArgument with a message fit for a usage
//     error (it names the bad text) and never changes anything.
//  2. Paths in results are absolute (made so against the pool directory or
//     the current directory, as each function says).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/pool/config.h"
#include "core/util/status.h"

namespace tessera {

// --pool, else $TESSERA_POOL (when set and non-empty), else ./var/pool; made
// absolute against the current directory.
std::string ResolvePoolDir(const std::string& flag, const char* env_value);

// "tier=T,path=P[,size=S][,name=N][,key=val...]". path is required (relative
// paths are taken relative to `pool_dir`); size, when given, is at least
// kMinVdevBytes, and without it size_bytes is 0, which only a block device
// takes (its own size: FileVdevSize, core/pool/file_vdev_kind.h); tier
// defaults to fastest; name defaults to vdevK where K is `position`. host,
// kind and any other key become attributes.
Result<VdevConfig> ParseVdevSpec(std::string_view spec, const std::string& pool_dir,
                                 size_t position);
// The same spec for `vdev add`: without name=N the name stays empty (the
// pool picks one).
Result<VdevConfig> ParseVdevAddSpec(std::string_view spec, const std::string& pool_dir);

struct PoolCreateArgs {
  uint32_t vdev_count = 1;
  std::string vdev_size = "4G";
  std::vector<std::string> vdev_specs;  // --vdev; when present, count/size are unused
  bool preallocate = false;             // --preallocate: preallocate = full on every vdev
  bool force = false;                   // --force: take block devices whatever they hold
};

// The PoolConfig for `tessera pool create`: Storage::DefaultConfig(dir,
// vdev_count, vdev_size) without --vdev specs, else one vdev per spec with
// indexes assigned per tier in order; with `preallocate`, every vdev gets
// `preallocate = full`. Duplicate names or paths, and vdevs below
// kMinVdevBytes, are InvalidArgument.
Result<PoolConfig> BuildPoolConfig(const PoolCreateArgs& args, const std::string& pool_dir);

// A size argument: ParseSize, and not zero.
Result<uint64_t> ParseSizeArg(std::string_view text);
// "simple" or "stripe:N" with 1 <= N <= 1024.
Status ValidateLayout(std::string_view layout);

// RFC 3986 percent-encoding of everything but unreserved characters (and
// '/' when keep_slash).
std::string PercentEncode(std::string_view text, bool keep_slash);

// NBD URIs (percent-encoding the export name and the socket path).
std::string NbdUnixUri(const std::string& socket_path, const std::string& export_name);
std::string NbdTcpUri(const std::string& host, uint16_t port, const std::string& export_name);

// Where the plugin may be: $TESSERA_PLUGIN alone when set; otherwise next to
// the tessera binary, then the build layout (build/admin/tessera ->
// build/plugin/), then an installed layout (bin/ -> lib/nbdkit/plugins/).
std::vector<std::string> PluginCandidates(const std::string& exe_path, const char* env_value);

}  // namespace tessera
