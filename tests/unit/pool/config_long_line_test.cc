// pool.conf lines longer than the INI reader's buffer (199 bytes): inih
// cut them silently, so a long vdev path named another file. They are an
// error naming the line now.
#include <gtest/gtest.h>

#include "core/pool/config.h"

namespace tessera {
namespace {

std::string Config(const std::string& path) {
  return "[pool]\nname = p\n[vdev a]\npath = " + path + "\nsize = 1G\n";
}

TEST(PoolConfigLongLine, LongPathIsAnErrorNamingTheLine) {
  std::string path = "/srv/" + std::string(240, 'd') + "/vdev0.img";
  auto config = ParsePoolConfig(Config(path), "/");
  ASSERT_FALSE(config) << "parsed path " << config->vdevs[0].path;
  EXPECT_EQ(config.error().code(), Code::kInvalidArgument);
  EXPECT_NE(config.error().message().find("line 4"), std::string::npos) << config.error().ToString();
  EXPECT_NE(config.error().message().find("longer than"), std::string::npos) << config.error().ToString();
}

TEST(PoolConfigLongLine, LongestAllowedLineKeepsItsWholePath) {
  // "path = " + 192 bytes = 199 bytes, with CRLF (the CR does not count).
  std::string path = "/" + std::string(186, 'd') + "/v.im";
  ASSERT_EQ(std::string("path = ").size() + path.size(), 199u);
  auto config = ParsePoolConfig("[vdev a]\r\npath = " + path + "\r\nsize = 1G\r\n", "/");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->vdevs[0].path, path);
}

TEST(PoolConfigLongLine, OneByteMoreIsRefused) {
  std::string path = "/" + std::string(187, 'd') + "/v.im";
  ASSERT_EQ(std::string("path = ").size() + path.size(), 200u);
  auto config = ParsePoolConfig("[vdev a]\npath = " + path + "\nsize = 1G\n", "/");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message().find("line 2"), std::string::npos) << config.error().ToString();
}

}  // namespace
}  // namespace tessera
