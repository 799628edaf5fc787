// CLI argument parsing (see args.h).
//
// Design notes
//  1. Vdev specs end up in DIR/pool.conf (INI): names, keys and values are
//     limited to characters that survive that format (no ';', '#', '[', ']',
//     '=', ',' or control characters), so a spec can never smuggle in a
//     section or a comment.
//  2. Nothing here touches the filesystem except std::filesystem::absolute.
#include "admin/args.h"

#include "core/volume/layout.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "admin/listen.h"
#include "core/pool/address.h"
#include "core/pool/config.h"
#include "core/util/size.h"
#include "core/volume/storage.h"

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

std::string PercentEncode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    // RFC 3986's unreserved characters: letters, digits, '-', '.', '_', '~'.
    bool unreserved = IsConfigNameChar(c) || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string ResolvePoolDir(const std::string& flag, const char* env_value) {
  std::string dir = flag;
  if (dir.empty() && env_value && *env_value) dir = env_value;
  if (dir.empty()) dir = "./var/pool";
  return fs::absolute(fs::path(dir)).lexically_normal().string();
}

Result<VdevConfig> ParseVdevSpec(std::string_view spec, const std::string& pool_dir,
                                 size_t position) {
  VdevConfig vdev = TRY(ParseVdevAddSpec(spec, pool_dir));
  if (vdev.name.empty()) vdev.name = fmt::format("vdev{}", position);
  return vdev;
}

Result<VdevConfig> ParseVdevAddSpec(std::string_view spec, const std::string& pool_dir) {
  VdevConfig vdev;
  std::set<std::string, std::less<>> seen;
  bool have_path = false;
  for (std::string_view item : Split(spec, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Err(Code::kInvalidArgument,
                 "--vdev '{}': '{}' is not key=value (expected tier=T,path=P,size=S[,key=val...])",
                 spec, item);
    }
    std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (!std::all_of(key.begin(), key.end(), IsConfigNameChar)) {
      return Err(Code::kInvalidArgument, "--vdev '{}': bad key '{}'", spec, key);
    }
    if (!seen.emplace(key).second) {
      return Err(Code::kInvalidArgument, "--vdev '{}': '{}' given twice", spec, key);
    }
    if (!IsSafeConfigValue(value)) {
      return Err(Code::kInvalidArgument,
                 "--vdev '{}': value of '{}' is empty or has a character out of place in "
                 "pool.conf (; # [ ] , or a control character)",
                 spec, key);
    }
    if (key == "tier") {
      auto tier = ParseTier(value);
      if (!tier) {
        return Err(Code::kInvalidArgument,
                   "--vdev '{}': unknown tier '{}'; expected fastest, fast, slow or slowest", spec,
                   value);
      }
      vdev.tier = *tier;
    } else if (key == "path") {
      fs::path path(value);
      vdev.path = (path.is_absolute() ? path : fs::path(pool_dir) / path).lexically_normal();
      have_path = true;
    } else if (key == "size") {
      auto size = ParseSize(value);
      if (!size)
        return Err(Code::kInvalidArgument, "--vdev '{}': {}", spec, size.error().message());
      if (*size < kMinVdevBytes) {
        return Err(Code::kInvalidArgument, "--vdev '{}': size {} is below the minimum {}", spec,
                   value, FormatSize(kMinVdevBytes));
      }
      vdev.size_bytes = *size;
    } else if (key == "name") {
      if (!std::all_of(value.begin(), value.end(), IsConfigNameChar)) {
        return Err(Code::kInvalidArgument,
                   "--vdev '{}': name '{}' may use only letters, digits, '.', '_' and '-'", spec,
                   value);
      }
      vdev.name = std::string(value);
    } else {
      vdev.attrs[std::string(key)] = std::string(value);
    }
  }
  // A vdev with a uri (kind nbd) has no file: the URI stands for the path,
  // and the size is the export's unless given (core/pool/config.h).
  auto uri = vdev.attrs.find("uri");
  if (uri != vdev.attrs.end()) {
    if (have_path) return Err(Code::kInvalidArgument, "--vdev '{}': give path=P or uri=U, not both", spec);
    vdev.path = uri->second;
    return vdev;
  }
  if (!have_path) return Err(Code::kInvalidArgument, "--vdev '{}': path=P (or uri=U) is required", spec);
  // Without size=S the size stays 0: a block device's own, looked up where
  // the path is opened (core/pool/file_vdev_kind.h, FileVdevSize).
  return vdev;
}

Result<PoolConfig> BuildPoolConfig(const PoolCreateArgs& args, const std::string& pool_dir) {
  PoolConfig config;
  if (args.vdev_specs.empty()) {
    if (args.vdev_count < 1 || args.vdev_count > kMaxVdevsPerTier) {
      return Err(Code::kInvalidArgument, "--vdevs {} is out of range 1..{}", args.vdev_count,
                 kMaxVdevsPerTier);
    }
    auto size = ParseSize(args.vdev_size);
    if (!size) return Err(Code::kInvalidArgument, "--size: {}", size.error().message());
    if (*size < kMinVdevBytes) {
      return Err(Code::kInvalidArgument, "--size {} is below the minimum vdev size {}",
                 args.vdev_size, FormatSize(kMinVdevBytes));
    }
    config = Storage::DefaultConfig(pool_dir, args.vdev_count, *size);
  } else {
    for (size_t i = 0; i < args.vdev_specs.size(); ++i) {
      config.vdevs.push_back(TRY(ParseVdevSpec(args.vdev_specs[i], pool_dir, i)));
    }
  }
  std::set<std::string> names, paths;
  std::map<Tier, uint32_t> per_tier;
  for (VdevConfig& vdev : config.vdevs) {
    if (!names.insert(vdev.name).second) {
      return Err(Code::kInvalidArgument, "vdev name '{}' is used twice", vdev.name);
    }
    if (!paths.insert(vdev.path).second) {
      return Err(Code::kInvalidArgument, "vdev path '{}' is used twice", vdev.path);
    }
    if (args.preallocate) vdev.attrs["preallocate"] = "full";
    vdev.index = per_tier[vdev.tier]++;
    if (vdev.index >= kMaxVdevsPerTier) {
      return Err(Code::kInvalidArgument, "more than {} vdevs in tier {}", kMaxVdevsPerTier,
                 TierName(vdev.tier));
    }
  }
  return config;
}

Result<uint64_t> ParseSizeArg(std::string_view text) {
  uint64_t size = TRY(ParseSize(text));
  if (size == 0) return Err(Code::kInvalidArgument, "size must not be zero");
  return size;
}

Status ValidateLayout(std::string_view layout) {
  TRY(ParseVolumeLayout(layout));
  return Ok();
}

std::string NbdUnixUri(const std::string& socket_path, const std::string& export_name) {
  return fmt::format("nbd+unix:///{}?socket={}", PercentEncode(export_name, false),
                     PercentEncode(socket_path, true));
}

std::string NbdTcpUri(const std::string& host, uint16_t port, const std::string& export_name) {
  return fmt::format("nbd://{}:{}/{}", UriHost(host), port, PercentEncode(export_name, false));
}

std::vector<std::string> PluginCandidates(const std::string& exe_path, const char* env_value) {
  if (env_value && *env_value) return {env_value};
  constexpr char kName[] = "nbdkit-tessera-plugin.so";
  fs::path dir = fs::path(exe_path).parent_path();
  return {(dir / kName).string(), (dir / ".." / "plugin" / kName).lexically_normal().string(),
          (dir / ".." / "lib" / "nbdkit" / "plugins" / kName).lexically_normal().string()};
}

}  // namespace tessera
