// Pool config parsing.
//
// Design notes
//  1. Parsing is all-or-nothing: the first error stops it and no partial
//     config is returned.
//  2. Every vdev gets an index within its tier in file order; the index is
//     the 10-bit vdev field of its disk addresses, so reordering sections of
//     an existing pool's config is caught by the label check at open.
//  3. A vdev with a `uri` (kind nbd or rados) has no file: its path is the URI, so
//     that descriptions, duplicate checks and listings work unchanged, and
//     it is written back as the uri alone. Its size may be absent until
//     pool create fills it in from the export.
#include "core/pool/config.h"

#include <algorithm>
#include <ini.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/util/size.h"

namespace tessera {
namespace {

struct ParseState {
  PoolConfig config;
  std::string base_dir;
  std::optional<Error> error;
  std::string current_section;
};

bool SetError(ParseState* state, int line, std::string message) {
  if (!state->error) {
    state->error = Error(Code::kInvalidArgument, fmt::format("line {}: {}", line, message));
  }
  return false;
}

// Section headers are seen by the reader (inih as packaged reports neither
// line numbers nor new sections to the handler), so that every error can name
// its line and an empty or repeated section is still caught.
void StartSection(ParseState* state, std::string_view sec, int lineno) {
  state->current_section = std::string(sec);
  if (sec == "pool") return;
  if (!sec.starts_with("vdev ") || sec.size() <= 5) {
    SetError(state, lineno, fmt::format("unknown section [{}]; expected [pool] or [vdev NAME]", sec));
    return;
  }
  std::string vname(sec.substr(5));
  for (const auto& v : state->config.vdevs) {
    if (v.name == vname) {
      SetError(state, lineno, fmt::format("duplicate vdev '{}'", vname));
      return;
    }
  }
  state->config.vdevs.push_back(VdevConfig{.name = vname});
}

struct LineReader {
  std::string_view text;
  size_t pos = 0;
  int line = 0;
  ParseState* state = nullptr;
};

char* ReadLine(char* out, int size, void* stream) {
  auto* reader = static_cast<LineReader*>(stream);
  if (reader->pos >= reader->text.size() || size < 2) return nullptr;
  size_t end = reader->text.find('\n', reader->pos);
  end = end == std::string_view::npos ? reader->text.size() : end + 1;
  std::string_view line = reader->text.substr(reader->pos, end - reader->pos);
  reader->pos = end;
  reader->line++;
  // inih hands us a buffer of INI_MAX_LINE bytes and would silently parse a
  // cut line (a vdev path missing its end): a longer line is an error.
  std::string_view content = line;
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.remove_suffix(1);
  if (content.size() > static_cast<size_t>(size - 1)) {
    SetError(reader->state, reader->line,
             fmt::format("line of {} bytes is longer than the {} bytes pool.conf allows", content.size(),
                         size - 1));
    return nullptr;
  }
  size_t n = std::min(line.size(), static_cast<size_t>(size - 1));
  std::memcpy(out, line.data(), n);
  out[n] = '\0';
  std::string_view trimmed = line;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) trimmed.remove_prefix(1);
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) trimmed.remove_suffix(1);
  if (trimmed.starts_with('[') && trimmed.ends_with(']')) {
    StartSection(reader->state, trimmed.substr(1, trimmed.size() - 2), reader->line);
  }
  return out;
}

// A whole number from 1 to `max` for a [pool] key.
Result<uint32_t> ParseCount(std::string_view key, const std::string& val, uint32_t max) {
  uint64_t n = 0;
  bool digits = !val.empty() && val.size() <= 10;
  for (char c : val) {
    if (c < '0' || c > '9') digits = false;
    if (digits) n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!digits || n < 1 || n > max) {
    return Err(Code::kInvalidArgument, "{} = {} is not a whole number from 1 to {}", key, val, max);
  }
  return static_cast<uint32_t>(n);
}

int HandleEntry(void* user, const char* section, const char* name, const char* value) {
  auto* reader = static_cast<LineReader*>(user);
  ParseState* state = reader->state;
  int lineno = reader->line;
  std::string_view sec(section);
  std::string key(name ? name : "");
  std::string val(value ? value : "");
  if (name == nullptr || state->error) return 1;
  if (sec.empty()) return SetError(state, lineno, "key outside a section");
  if (sec == "pool") {
    if (key == "name") {
      state->config.name = val;
      return 1;
    }
    if (key == "memory") {
      auto size = ParseSize(val);
      if (!size) return SetError(state, lineno, size.error().message());
      if (*size < kMinMemoryBytes) {
        return SetError(state, lineno, fmt::format("memory = {} is below the minimum of {}", val,
                                                   FormatSize(kMinMemoryBytes)));
      }
      state->config.memory_bytes = *size;
      return 1;
    }
    if (key == "max-connections" || key == "threads") {
      const bool connections = key == "max-connections";
      auto count = ParseCount(key, val, connections ? kMaxServeConnections : kMaxServeThreads);
      if (!count) return SetError(state, lineno, count.error().message());
      (connections ? state->config.max_connections : state->config.threads) = *count;
      return 1;
    }
    if (key == "tiering") {
      if (val != "on" && val != "off") {
        return SetError(state, lineno, fmt::format("tiering = {}: expected on or off", val));
      }
      state->config.tiering = val == "on";
      return 1;
    }
    if (key == "tiering-limit" || key == "tiering-half-life") {
      const bool limit = key == "tiering-limit";
      std::string number = val;
      const char unit = limit ? '%' : 's';
      if (!number.empty() && number.back() == unit) number.pop_back();
      auto count = ParseCount(key, number, limit ? 100 : kMaxTieringHalfLifeS);
      if (!count) return SetError(state, lineno, count.error().message());
      (limit ? state->config.tiering_limit_percent : state->config.tiering_half_life_s) = *count;
      return 1;
    }
    return SetError(state, lineno,
                    fmt::format("unknown key '{}' in [pool]; expected name, memory, max-connections, threads, "
                                "tiering, tiering-limit or tiering-half-life",
                                key));
  }
  if (state->config.vdevs.empty()) return SetError(state, lineno, "key outside a [vdev NAME] section");
  VdevConfig& vdev = state->config.vdevs.back();
  if (key == "path") {
    std::filesystem::path p(val);
    if (val.empty()) return SetError(state, lineno, "empty path");
    if (p.is_relative()) p = std::filesystem::path(state->base_dir) / p;
    vdev.path = p.lexically_normal().string();
  } else if (key == "size") {
    auto size = ParseSize(val);
    if (!size) return SetError(state, lineno, size.error().message());
    if (*size < kMinVdevBytes) {
      return SetError(state, lineno, fmt::format("vdev '{}' size {} is below the minimum of {}",
                                                 vdev.name, val, FormatSize(kMinVdevBytes)));
    }
    vdev.size_bytes = *size;
  } else if (key == "tier") {
    auto tier = ParseTier(val);
    if (!tier) {
      return SetError(state, lineno,
                      fmt::format("unknown tier '{}' (fastest, fast, slow, slowest)", val));
    }
    vdev.tier = *tier;
  } else if (key == "io" && val != "read-cache" && val != "direct" && val != "buffered") {
    return SetError(state, lineno, fmt::format("io = '{}': use read-cache, direct or buffered", val));
  } else if (key == "preallocate" && val != "sparse" && val != "full") {
    return SetError(state, lineno, fmt::format("preallocate = '{}': use sparse or full", val));
  } else if (key == "state") {
    if (val != "online" && val != "offline" && val != "removed") {
      return SetError(state, lineno, fmt::format("unknown vdev state '{}' (online, offline, removed)", val));
    }
    vdev.offline = val == "offline";
    vdev.removed = val == "removed";
  } else {
    vdev.attrs[key] = val;
  }
  return 1;
}

}  // namespace

std::string VdevDescription(const VdevConfig& config) {
  return fmt::format("vdev '{}' ({})", config.name, config.path);
}

Result<PoolConfig> ParsePoolConfig(std::string_view text, const std::string& base_dir) {
  ParseState state;
  state.base_dir = base_dir;
  LineReader reader{.text = text, .state = &state};
  int rc = ini_parse_stream(ReadLine, &reader, HandleEntry, &reader);
  if (state.error) return Err(*state.error);
  if (rc != 0) return Err(Code::kInvalidArgument, "line {}: malformed line", rc);
  if (state.config.vdevs.empty()) return Err(Code::kInvalidArgument, "config names no vdev");
  std::set<std::string> paths;
  std::array<uint32_t, kTierCount> next_index{};
  for (auto& vdev : state.config.vdevs) {
    auto uri = vdev.attrs.find("uri");
    if (uri != vdev.attrs.end()) {  // design note 3
      if (!vdev.path.empty()) {
        return Err(Code::kInvalidArgument, "vdev '{}' has both a path and a uri", vdev.name);
      }
      auto kind = vdev.attrs.find("kind");
      if (kind == vdev.attrs.end() || kind->second == "file") {
        return Err(Code::kInvalidArgument, "vdev '{}' has a uri, which a file vdev does not take (kind = nbd or rados)",
                   vdev.name);
      }
      vdev.path = uri->second;
    }
    if (vdev.path.empty()) return Err(Code::kInvalidArgument, "vdev '{}' has no path", vdev.name);
    if (vdev.size_bytes == 0 && uri == vdev.attrs.end()) {
      return Err(Code::kInvalidArgument, "vdev '{}' has no size", vdev.name);
    }
    // A removed vdev keeps its place (its index) but not its path, which a
    // later vdev may take again.
    if (!vdev.removed && !paths.insert(vdev.path).second) {
      return Err(Code::kInvalidArgument, "vdev '{}' repeats path {}", vdev.name, vdev.path);
    }
    uint32_t& index = next_index[static_cast<uint8_t>(vdev.tier)];
    if (index >= kMaxVdevsPerTier) {
      return Err(Code::kInvalidArgument, "tier {} has more than {} vdevs", TierName(vdev.tier),
                 kMaxVdevsPerTier);
    }
    vdev.index = index++;
  }
  return state.config;
}

Result<PoolConfig> LoadPoolConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(Code::kNotFound, "cannot read pool config {}", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string dir = std::filesystem::path(path).parent_path().string();
  auto config = ParsePoolConfig(buffer.str(), dir.empty() ? "." : dir);
  if (!config) return Err(config.error().WithContext(path));
  return config;
}

std::string SerializePoolConfig(const PoolConfig& config) {
  std::string out = fmt::format("[pool]\nname = {}\n", config.name);
  if (config.memory_bytes != 0) out += fmt::format("memory = {}\n", config.memory_bytes);
  if (config.max_connections != 0) out += fmt::format("max-connections = {}\n", config.max_connections);
  if (config.threads != 0) out += fmt::format("threads = {}\n", config.threads);
  if (config.tiering) out += "tiering = on\n";
  if (config.tiering_limit_percent != 0) out += fmt::format("tiering-limit = {}%\n", config.tiering_limit_percent);
  if (config.tiering_half_life_s != 0) out += fmt::format("tiering-half-life = {}s\n", config.tiering_half_life_s);
  for (const auto& v : config.vdevs) {
    out += fmt::format("\n[vdev {}]\n", v.name);
    auto uri = v.attrs.find("uri");
    if (uri == v.attrs.end() || uri->second != v.path) out += fmt::format("path = {}\n", v.path);
    if (v.size_bytes != 0) out += fmt::format("size = {}\n", v.size_bytes);
    out += fmt::format("tier = {}\n", TierName(v.tier));
    if (v.offline) out += "state = offline\n";
    if (v.removed) out += "state = removed\n";
    for (const auto& [k, val] : v.attrs) out += fmt::format("{} = {}\n", k, val);
  }
  return out;
}

bool IsConfigNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool IsSafeConfigValue(std::string_view value) {
  return !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != ';' && c != '#' && c != '[' && c != ']' && c != ',';
  });
}

}  // namespace tessera
