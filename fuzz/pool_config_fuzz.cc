// Fuzz target: pool.conf parsing (core/pool/config.h). A config that
// parses has vdevs with absolute paths (or, for a vdev of a remote kind,
// its uri), sizes of at least kMinVdevBytes (or none yet, for a uri) and
// distinct names.
#include <set>

#include "core/pool/config.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  auto config = ParsePoolConfig(fuzz::AsText({data, size}), "/pool");
  if (!config) return 0;
  FUZZ_CHECK(!config->vdevs.empty());
  std::set<std::string> names;
  for (const VdevConfig& v : config->vdevs) {
    auto uri = v.attrs.find("uri");
    bool remote = uri != v.attrs.end();
    FUZZ_CHECK(remote ? v.path == uri->second && v.attrs.contains("kind") : v.path.starts_with('/'));
    FUZZ_CHECK(v.size_bytes >= kMinVdevBytes || (remote && v.size_bytes == 0));
    FUZZ_CHECK(names.insert(v.name).second);
  }
  return 0;
}
