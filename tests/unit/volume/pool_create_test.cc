// pool create stopped half-way (Storage design note 5): what a crash leaves
// is either run over by the next create or named in its error. And the
// modes of what it makes: the owner's alone.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "tests/unit/volume/volume_test_util.h"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

TEST(PoolCreate, VdevFilesWithoutPoolConfNameWhatToRemove) {
  PoolDir pd;
  fs::create_directories(pd.dir());
  // What a create that stopped after its vdev files leaves.
  std::string leftover = pd.dir() + "/vdev1.img";
  std::ofstream(leftover) << "half-made";
  auto refused = pd.Create();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("vdev1.img"), std::string::npos) << refused.error().message();
  EXPECT_NE(refused.error().message().find("remove its vdev files"), std::string::npos) << refused.error().message();
  // Nothing changed: the leftover is untouched, no pool.conf and no other vdev.
  EXPECT_EQ(fs::file_size(leftover), 9u);
  EXPECT_FALSE(fs::exists(pd.dir() + "/pool.conf"));
  EXPECT_FALSE(fs::exists(pd.dir() + "/vdev0.img"));
  fs::remove(leftover);
  auto storage = pd.Create();
  ASSERT_TRUE(storage) << storage.error().ToString();
}

TEST(PoolCreate, StaleTemporaryConfigIsRunOver) {
  PoolDir pd;
  fs::create_directories(pd.dir());
  std::ofstream(pd.dir() + "/pool.conf.tmp") << "[pool\ngarbage";
  {
    auto storage = pd.Create();
    ASSERT_TRUE(storage) << storage.error().ToString();
    ASSERT_TRUE((*storage)->CreateVolume({.name = "v", .size = 4 << 20}));
  }
  EXPECT_FALSE(fs::exists(pd.dir() + "/pool.conf.tmp"));
  auto storage = pd.Open();
  ASSERT_TRUE(storage) << storage.error().ToString();
  EXPECT_EQ((*storage)->ListVolumes()->size(), 1u);
}

}  // namespace
}  // namespace tessera::testing

namespace tessera::testing {
namespace {

uint32_t ModeOf(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The pool's directory and files, and diff streams, are the owner's alone.
TEST(PoolCreate, PoolFilesAndStreamsAreTheOwnersAlone) {
  PoolDir pd;
  std::filesystem::create_directories(pd.dir());
  std::filesystem::permissions(pd.dir(), std::filesystem::perms(0755));
  auto storage = std::move(*pd.Create());
  EXPECT_EQ(ModeOf(pd.dir()), 0700u);
  for (const char* file : {"pool.conf", "lock", "vdev0.img", "vdev1.img"}) {
    EXPECT_EQ(ModeOf(pd.dir() + "/" + file), 0600u) << file;
  }
  ASSERT_TRUE(storage->CreateVolume({.name = "v", .size = 4 << 20}));
  ASSERT_TRUE(storage->CreateSnapshot("v", "s"));
  std::string stream = pd.dir() + "/../" + std::filesystem::path(pd.dir()).filename().string() + ".tds";
  std::ofstream(stream) << "an older file";
  std::filesystem::permissions(stream, std::filesystem::perms(0644));
  ASSERT_TRUE(storage->WriteDiffStream("v", "", "s", StreamOut(stream)));
  EXPECT_EQ(ModeOf(stream), 0600u);
  std::filesystem::remove(stream);
}

}  // namespace
}  // namespace tessera::testing
