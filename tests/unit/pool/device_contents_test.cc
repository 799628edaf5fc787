// What a device holds before it becomes a vdev (device_contents.h), on
// image files that mkfs.ext4, sfdisk and Pool::Create wrote: libblkid and
// the label check read a regular file as they read a block device. The
// tools come with scripts/install-deps.sh (e2fsprogs) and
// scripts/install-test-deps.sh (fdisk); a missing one fails the test.
#include "core/pool/device_contents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "core/pool/pool.h"
#include "core/util/aligned_buffer.h"
#include "core/vdev/file_vdev.h"
#include "tests/unit/pool/pool_test_util.h"

namespace tessera {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint64_t kImageBytes = 64ull << 20;

class DeviceContentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/image";
    ASSERT_TRUE(FileVdev::Open(path_, {.create = true, .create_size = BlockCount{kImageBytes / kBlockSize}}));
  }

  // Runs a shell command with the system tools' directories on PATH.
  void Run(const std::string& command) {
    std::string line = "PATH=/usr/sbin:/sbin:/usr/bin:/bin " + command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(line.c_str()), 0) << line << " failed (is its package installed?)";
  }

  std::shared_ptr<FileVdev> Open() {
    auto device = FileVdev::Open(path_, {.use_direct = false, .use_io_uring = false});
    EXPECT_TRUE(device) << device.error().ToString();
    return device ? std::shared_ptr<FileVdev>(std::move(*device)) : nullptr;
  }

  std::vector<std::string> Contents() {
    auto device = Open();
    if (!device) return {"<no device>"};
    auto found = DeviceContents(*device, path_);
    EXPECT_TRUE(found) << found.error().ToString();
    return found ? *found : std::vector<std::string>{"<error>"};
  }

  // A one-vdev pool over the image, as pool create makes it: labels at
  // block 0 and at the last block. Returns the pool's uuid.
  std::string MakePool() {
    auto device = Open();
    PoolConfig config{.vdevs = {VdevConfig{.name = "d0", .path = path_, .size_bytes = kImageBytes}}};
    auto pool = Pool::Create(config, {device});
    EXPECT_TRUE(pool) << pool.error().ToString();
    return pool ? UuidToString((*pool)->uuid()) : "";
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(DeviceContentsTest, FindsNothingOnZeros) { EXPECT_THAT(Contents(), IsEmpty()); }

TEST_F(DeviceContentsTest, NamesAnExt4Filesystem) {
  Run("mkfs.ext4 -q -F " + path_);
  EXPECT_THAT(Contents(), ElementsAre("an ext4 filesystem"));
}

TEST_F(DeviceContentsTest, NamesAPartitionTable) {
  Run("sh -c \"echo ',,L' | sfdisk -q " + path_ + "\"");
  EXPECT_THAT(Contents(), ElementsAre("a dos partition table"));
}

TEST_F(DeviceContentsTest, NamesAGptPartitionTable) {
  Run("sh -c \"echo ',,L' | sfdisk -q -X gpt " + path_ + "\"");
  EXPECT_THAT(Contents(), ElementsAre("a gpt partition table"));
}

TEST_F(DeviceContentsTest, NamesAnotherPoolsLabel) {
  std::string uuid = MakePool();
  ASSERT_FALSE(uuid.empty());
  EXPECT_THAT(Contents(), ElementsAre("a Tessera vdev label of pool " + uuid + " (vdev 'd0')"));
}

// Either copy of the label counts: a device whose first block was wiped is
// still a vdev by its end label.
TEST_F(DeviceContentsTest, FindsTheEndLabelAlone) {
  std::string uuid = MakePool();
  auto device = Open();
  ASSERT_TRUE(device);
  const std::vector<std::byte> zeros(kBlockSize);
  ASSERT_TRUE(device->Write(BlockNo{0}, zeros));
  auto found = DeviceContents(*device, path_);
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_THAT(*found, ElementsAre(HasSubstr(uuid)));
}

// ClearLabels takes the labels off and nothing else.
TEST_F(DeviceContentsTest, ClearLabelsLeavesEverythingElse) {
  MakePool();
  auto device = Open();
  ASSERT_TRUE(device);
  AlignedBuffer data(kBlockSize), back(kBlockSize);
  std::memset(data.data(), 0x5a, kBlockSize);
  ASSERT_TRUE(device->Write(BlockNo{7}, data.span()));
  ClearLabels(*device);
  EXPECT_THAT(Contents(), IsEmpty());
  ASSERT_TRUE(device->Read(BlockNo{7}, back.span()));
  EXPECT_EQ(std::memcmp(data.data(), back.data(), kBlockSize), 0);
}

TEST_F(DeviceContentsTest, ClearLabelsKeepsAFilesystem) {
  Run("mkfs.ext4 -q -F " + path_);
  auto device = Open();
  ASSERT_TRUE(device);
  ClearLabels(*device);
  EXPECT_THAT(Contents(), ElementsAre("an ext4 filesystem"));
}

}  // namespace
}  // namespace tessera
