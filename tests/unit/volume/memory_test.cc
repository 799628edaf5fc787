// A server's memory budget (StorageOptions::memory_bytes) against volumes
// made under another: a volume opens and works under a budget smaller than
// the one it was created with (its exNode's cache bounds are capped by the
// server's).
#include <gtest/gtest.h>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

TEST(Memory, AVolumeOpensUnderASmallerBudgetThanItWasCreatedWith) {
  PoolDir pd;
  const auto data = Pattern(1 << 20, 3);
  {
    auto storage = std::move(*pd.Create());  // the default budget
    ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 16 << 20}));
    auto volume = std::move(*storage->OpenVolume("v"));
    ASSERT_TRUE(volume->Write(0, data, false));
    ASSERT_TRUE(volume->Flush());
    volume.reset();
    ASSERT_TRUE(storage->Close());
  }
  StorageOptions small = pd.Options();
  small.memory_bytes = 32ull << 20;  // a data cache of 24 MiB: below the 64 MiB dirty bound
  auto storage = Storage::Open(pd.dir(), small);
  ASSERT_TRUE(storage) << storage.error().ToString();
  auto volume = (*storage)->OpenVolume("v");
  ASSERT_TRUE(volume) << volume.error().ToString();
  std::vector<std::byte> got(data.size());
  ASSERT_TRUE((*volume)->Read(0, got));
  EXPECT_TRUE(got == data);
  const auto more = Pattern(8 << 20, 4);
  ASSERT_TRUE((*volume)->Write(2 << 20, more, false));
  ASSERT_TRUE((*volume)->Flush());
  volume->reset();
  ExpectClean(**storage);
}

}  // namespace
}  // namespace tessera::testing
