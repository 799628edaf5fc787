// Fuzz target: the resource query parser (core/exnode/query.h). A query
// that parses must print to text that parses back to it (contract 1 and
// Query::ToString), and matching and selection over a few resources must
// keep contract 3.
#include <set>
#include <vector>

#include "core/exnode/query.h"
#include "fuzz/fuzz_util.h"

using namespace tessera;

namespace {

std::vector<Resource> Resources() {
  std::vector<Resource> out;
  const char* tiers[] = {"FAST", "SLOW", "fastest"};
  for (int i = 0; i < 6; i++) {
    out.push_back(Resource{.id = "vdev" + std::to_string(i),
                           .attrs = {{"tier", tiers[i % 3]},
                                     {"name", "vdev" + std::to_string(i)},
                                     {"host", "host" + std::to_string(i / 2)},
                                     {"kind", i % 2 ? "ssd" : "hdd"}}});
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  auto query = ParseQuery(fuzz::AsText({data, size}));
  if (!query) return 0;
  auto again = ParseQuery(query->ToString());
  FUZZ_CHECK(again && *again == *query);
  static const std::vector<Resource> resources = Resources();
  for (const Resource& r : resources) (void)Matches(*query, r);
  for (size_t count : {size_t{0}, size_t{1}, size_t{3}}) {
    auto picked = Select(*query, resources, count, size);
    if (!picked) {
      FUZZ_CHECK(picked.error().code() == Code::kNoSpace);
      continue;
    }
    FUZZ_CHECK(picked->size() == count);
    std::set<size_t> distinct(picked->begin(), picked->end());
    FUZZ_CHECK(distinct.size() == count);
    for (size_t i : *picked) FUZZ_CHECK(i < resources.size() && Matches(*query, resources[i]));
  }
  return 0;
}
