// mirror:N volumes (core/volume/layout.h): N copies of each row on N
// distinct vdevs. Self-healing, scrub and replace run for mirror:3 in
// self_healing_test.cc (SelfHealingLayouts).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

// Whole file contents.
std::vector<char> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Each 4 KiB block written to a mirror:3 volume over three vdevs lies, byte
// for byte, on every one of them: copies, not coded parity.
TEST(Mirror, EveryVdevOfARowHoldsACopyOfEachBlock) {
  PoolDir pd(3, 64ull << 20);
  const auto data = Pattern(256 << 10, 9);  // random bytes: no block repeats
  {
    auto storage = std::move(*pd.Create());
    auto info = storage->CreateVolume({.name = "m", .size = 8 << 20, .layout = "mirror:3"});
    ASSERT_TRUE(info) << info.error().ToString();
    EXPECT_EQ(info->layout, "mirror:3");
    auto volume = std::move(*storage->OpenVolume("m"));
    ASSERT_TRUE(volume->Write(0, data, false));
    ASSERT_TRUE(volume->Flush());
    volume.reset();
    ASSERT_TRUE(storage->Close());
  }
  for (uint32_t v = 0; v < 3; v++) {
    SCOPED_TRACE(fmt::format("vdev{}", v));
    std::vector<char> file = ReadFile(fmt::format("{}/vdev{}.img", pd.dir(), v));
    ASSERT_FALSE(file.empty());
    for (size_t at = 0; at < data.size(); at += 4096) {
      const char* block = reinterpret_cast<const char*>(data.data()) + at;
      auto found = std::search(file.begin(), file.end(), block, block + 4096);
      ASSERT_NE(found, file.end()) << "block at " << at << " has no copy on this vdev";
    }
  }
}

// A mirror needs N distinct vdevs in its tier, as rs:K+M needs K+M.
TEST(Mirror, NeedsAsManyVdevsAsCopies) {
  PoolDir pd(2, 64ull << 20);
  auto storage = std::move(*pd.Create());
  ASSERT_TRUE(storage->CreateVolume({.name = "two", .size = 4 << 20, .layout = "mirror:2"}));
  auto three = storage->CreateVolume({.name = "three", .size = 4 << 20, .layout = "mirror:3"});
  ASSERT_FALSE(three);
  EXPECT_EQ(three.error().code(), Code::kInvalidArgument) << three.error().ToString();
  EXPECT_EQ(storage->GetVolumeInfo("three").error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace tessera::testing
