// The pool config file (INI, parsed with inih). One section per vdev:
//
//   [pool]
//   name = default
//   memory = 1G           ; optional: the server's memory for caches
//   max-connections = 16  ; optional: NBD clients served at once (tessera
//   threads = 4           ; serve, admin/serve_limits.h); threads per client
//   tiering = on          ; optional: automatic tiering, off by default
//                         ; (core/volume/storage_tiering.cc)
//   tiering-limit = 90%   ; optional: how full tiering fills a faster tier
//   tiering-half-life = 60s ; optional: how fast a row's heat halves
//
//   [vdev fast0]          ; section name "vdev NAME"
//   path = vdev0.img      ; relative to the config file's folder
//   size = 1G             ; bytes, with K/M/G/T suffixes
//   tier = fastest        ; fastest | fast | slow | slowest
//   io = buffered         ; optional: direct (O_DIRECT, the default) or
//                         ; buffered (through the page cache)
//   state = offline       ; optional: taken offline by the admin (vdev offline);
//                         ; the pool opens without it (default: online);
//                         ; removed: taken out for good (vdev remove), its
//                         ; index stays taken and nothing is opened
//   kind = file           ; optional: how the vdev is opened (vdev_kinds.h):
//                         ; file (the default), nbd or rados
//   uri = nbd://h/e       ; kind nbd: the export (nbd_vdev_kind.h); kind
//                         ; rados: rados://POOL/PREFIX (rados_vdev_kind.h);
//                         ; it stands for the path, which is then left out,
//                         ; and for nbd the size may be too (the export's,
//                         ; filled in by pool create)
//   host = localhost      ; any other key=val is a free-form attribute
//
// Vdev indexes are assigned per tier in file order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/pool/address.h"
#include "core/util/status.h"

namespace tessera {

// The smallest vdev: labels, superblocks and at least a few MiB of space.
inline constexpr uint64_t kMinVdevBytes = 16ull << 20;
// The least `memory` a pool.conf may give a server's caches.
inline constexpr uint64_t kMinMemoryBytes = 16ull << 20;
// The most `max-connections` and `threads` a pool.conf (or tessera serve)
// may give; both are at least 1.
inline constexpr uint32_t kMaxServeConnections = 65536;
inline constexpr uint32_t kMaxServeThreads = 64;
inline constexpr uint32_t kDefaultTieringLimitPercent = 90;
inline constexpr uint32_t kDefaultTieringHalfLifeS = 60;
inline constexpr uint32_t kMaxTieringHalfLifeS = 7 * 24 * 3600;

struct VdevConfig {
  std::string name;
  std::string path;  // absolute after parsing; the `uri` attribute when it has one
  // 0 only for a vdev with a `uri` and no size yet, or for a block device
  // given without size= until create takes its size (file_vdev_kind.h).
  uint64_t size_bytes = 0;
  Tier tier = Tier::kFastest;
  uint32_t index = 0;  // within its tier
  bool offline = false;  // "state = offline": the pool does not open the device
  // "state = removed" (vdev remove): nothing refers to the vdev; the entry
  // only keeps its index taken, so the indexes after it stay the same.
  bool removed = false;
  std::map<std::string, std::string> attrs;  // free-form, plus host/kind if given
};

// What pool.conf keeps as written: a character of a vdev name or attribute
// key (letters, digits, '.', '_', '-'), and a value with no comment,
// section or list character (; # [ ] ,) and no control character. A value
// may hold '=' (a URI's query): a line splits at its first one.
bool IsConfigNameChar(char c);
bool IsSafeConfigValue(std::string_view value);

// "vdev 'NAME' (PATH)", the prefix of errors about one vdev.
std::string VdevDescription(const VdevConfig& config);

struct PoolConfig {
  std::string name = "default";
  // `memory = SIZE` in [pool]: the server's memory for caches
  // (StorageOptions::memory_bytes); 0: not set.
  uint64_t memory_bytes = 0;
  // `max-connections = N` and `threads = N` in [pool]: how many NBD clients
  // tessera serve admits at once and nbdkit's worker threads per client
  // (admin/serve_limits.h); 0: not set.
  uint32_t max_connections = 0;
  uint32_t threads = 0;
  // `tiering = on|off`, `tiering-limit = PERCENT` (1 to 100) and
  // `tiering-half-life = SECONDS` (1 to a week) in [pool]: automatic tiering
  // (storage_tiering.cc); 0: the defaults below.
  bool tiering = false;
  uint32_t tiering_limit_percent = 0;
  uint32_t tiering_half_life_s = 0;
  std::vector<VdevConfig> vdevs;
};

// Parses config text. `base_dir` resolves relative paths. Errors name the
// line: a duplicate vdev (name or path), an unknown tier, a vdev too small, a
// missing path or size (a vdev with a `uri` needs neither), an unknown
// section, a line over 199 bytes, a [pool] value out of its range.
Result<PoolConfig> ParsePoolConfig(std::string_view text, const std::string& base_dir);
Result<PoolConfig> LoadPoolConfig(const std::string& path);
// The canonical text form (paths as given: absolute).
std::string SerializePoolConfig(const PoolConfig& config);

}  // namespace tessera
