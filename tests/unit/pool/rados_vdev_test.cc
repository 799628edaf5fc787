// RadosVdev and the `rados` vdev kind. What needs no cluster runs always:
// the kind's attributes, and a cluster that is not there (librados against
// a monitor address nothing listens on). What needs one runs when
// TESSERA_CEPH_CONF names a running cluster's ceph.conf with a pool
// TESSERA_CEPH_POOL (default "tessera"): scripts/test-ceph.sh starts one and
// runs these tests against it. Without it they are skipped, saying so.
#include "core/vdev/rados_vdev.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/pool/rados_vdev_kind.h"
#include "tests/unit/pool/pool_test_util.h"
#include "tests/unit/vdev/vdev_test_util.h"

namespace tessera {
namespace {

using namespace std::chrono_literals;
using testing::AllZero;
using testing::Pattern;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

VdevConfig RadosConfig(std::map<std::string, std::string> attrs, uint64_t size = 64 << 20) {
  attrs.emplace("kind", "rados");
  std::string uri = attrs.count("uri") != 0 ? attrs["uri"] : "";
  return VdevConfig{.name = "r0", .path = uri, .size_bytes = size, .attrs = std::move(attrs)};
}

TEST(RadosVdevKind, IsBuiltIn) {
  auto kinds = KnownVdevKinds();
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "rados"), kinds.end());
}

TEST(RadosVdevKind, BadAttributesAreRefusedNamingTheVdev) {
  struct Case {
    VdevConfig vdev;
    std::string message;
  };
  const Case cases[] = {
      {RadosConfig({}), "needs uri=rados://POOL/PREFIX"},
      {RadosConfig({{"uri", "nbd://host/e"}}), "needs uri=rados://POOL/PREFIX"},
      {RadosConfig({{"uri", "rados://pool"}}), "needs uri=rados://POOL/PREFIX"},
      {RadosConfig({{"uri", "rados://pool/"}}), "needs uri=rados://POOL/PREFIX"},
      {RadosConfig({{"uri", "rados:///prefix"}}), "needs uri=rados://POOL/PREFIX"},
      {RadosConfig({{"uri", "rados://p/x"}}, 0), "needs size=S"},
      {RadosConfig({{"uri", "rados://p/x"}, {"object_size", "6K"}}), "not a multiple of 4 KiB"},
      {RadosConfig({{"uri", "rados://p/x"}, {"object_size", "256M"}}), "up to 128 MiB"},
      {RadosConfig({{"uri", "rados://p/x"}, {"object_size", "lots"}}), "object_size"},
      {RadosConfig({{"uri", "rados://p/x"}, {"timeout", "0"}}), "timeout"},
      {RadosConfig({{"uri", "rados://p/x"}, {"conf", "/nonexistent/ceph.conf"}}),
       "/nonexistent/ceph.conf"},
  };
  for (const Case& c : cases) {
    auto opened = OpenRadosVdevKind(c.vdev, {});
    ASSERT_FALSE(opened) << c.message;
    EXPECT_EQ(opened.error().code(), Code::kInvalidArgument) << opened.error().ToString();
    EXPECT_TRUE(Contains(opened.error().message(), c.message)) << opened.error().ToString();
    EXPECT_TRUE(Contains(opened.error().message(), "r0")) << opened.error().ToString();
  }
}

TEST(RadosVdevKind, ACephClusterThatIsNotThereIsMissingWithinTheTimeout) {
  TempDir dir;
  const std::string conf = dir.path() + "/ceph.conf";
  // Port 1 on loopback: nothing listens, so the monitor never answers.
  std::ofstream(conf) << "[global]\nmon_host = 127.0.0.1:1\nauth_cluster_required = none\n"
                         "auth_service_required = none\nauth_client_required = none\n";
  auto start = std::chrono::steady_clock::now();
  auto opened = OpenRadosVdevKind(
      RadosConfig({{"uri", "rados://tessera/x"}, {"conf", conf}, {"timeout", "1"}}), {});
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code(), Code::kNotFound) << opened.error().ToString();
  EXPECT_TRUE(Contains(opened.error().message(), "is unreachable")) << opened.error().ToString();
  // Bounded, not timed: without the timeout librados waits five minutes.
  EXPECT_LT(took, 60s);
}

// --- Against a running cluster (scripts/test-ceph.sh) ---

class RadosCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* conf = std::getenv("TESSERA_CEPH_CONF");
    if (conf == nullptr || *conf == '\0')
      GTEST_SKIP() << "no Ceph cluster: TESSERA_CEPH_CONF is not set";
    conf_ = conf;
    const char* pool = std::getenv("TESSERA_CEPH_POOL");
    pool_ = pool != nullptr && *pool != '\0' ? pool : "tessera";
    prefix_ = fmt::format("unit-{:016x}", RandomU64());
  }

  RadosVdevOptions Options(uint64_t blocks, uint64_t object_size) const {
    return {.conf = conf_,
            .pool = pool_,
            .prefix = prefix_,
            .size = BlockCount{blocks},
            .object_size = object_size,
            .timeout = 10s};
  }

  std::unique_ptr<RadosVdev> OpenOrFail(uint64_t blocks, uint64_t object_size) {
    auto vdev = RadosVdev::Open(Options(blocks, object_size));
    EXPECT_TRUE(vdev) << (vdev ? "" : vdev.error().ToString());
    return vdev ? std::move(*vdev) : nullptr;
  }

  // Removes what a test wrote: a discard of the whole vdev removes its objects.
  static void RemoveAll(RadosVdev& vdev) { EXPECT_TRUE(vdev.Discard(BlockNo{0}, vdev.Size())); }

  std::string conf_, pool_, prefix_;
};

TEST_F(RadosCluster, SmallObjectsPassTheModelTest) {
  auto vdev = OpenOrFail(256, 4 * kBlockSize);  // requests cross object boundaries
  ASSERT_TRUE(vdev);
  testing::RunModelTest(*vdev, testing::TestSeed(), 300);
  EXPECT_TRUE(vdev->Flush());
  RemoveAll(*vdev);
}

TEST_F(RadosCluster, DataOutlivesTheConnectionAndDiscardRemovesObjects) {
  const uint64_t object = 8 * kBlockSize;
  // Blocks 6 to 17: the end of object 0, all of object 1, the start of object 2.
  const AlignedBuffer data = Pattern(12, 6, 1);
  {
    auto vdev = OpenOrFail(64, object);
    ASSERT_TRUE(vdev);
    ASSERT_TRUE(vdev->Write(BlockNo{6}, data.span()));
    ASSERT_TRUE(vdev->Flush());
  }
  auto vdev = OpenOrFail(64, object);
  ASSERT_TRUE(vdev);
  AlignedBuffer back(12 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{6}, back.span()));
  EXPECT_EQ(std::memcmp(back.data(), data.data(), back.size()), 0);
  // Never written: zeros, from a missing object and past a short one's end.
  AlignedBuffer none(8 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{40}, none.span()));
  EXPECT_TRUE(AllZero(none.span()));
  AlignedBuffer tail(6 * kBlockSize);
  ASSERT_TRUE(vdev->Read(BlockNo{18}, tail.span()));
  EXPECT_TRUE(AllZero(tail.span()));
  // A discard of blocks 7 to 16 zeroes part of objects 0 and 2 and removes 1.
  ASSERT_TRUE(vdev->Discard(BlockNo{7}, BlockCount{10}));
  ASSERT_TRUE(vdev->Read(BlockNo{6}, back.span()));
  EXPECT_EQ(std::memcmp(back.data(), data.data(), kBlockSize), 0);
  EXPECT_TRUE(AllZero(back.span().subspan(kBlockSize, 10 * kBlockSize)));
  EXPECT_EQ(std::memcmp(back.data() + 11 * kBlockSize, data.data() + 11 * kBlockSize, kBlockSize),
            0);
  RemoveAll(*vdev);
}

TEST_F(RadosCluster, APoolTheClusterLacksIsMissing) {
  RadosVdevOptions options = Options(64, 4 << 20);
  options.pool = "no-such-pool-" + prefix_;
  auto vdev = RadosVdev::Open(options);
  ASSERT_FALSE(vdev);
  EXPECT_EQ(vdev.error().code(), Code::kNotFound) << vdev.error().ToString();
  EXPECT_TRUE(Contains(vdev.error().message(), "has no pool")) << vdev.error().ToString();
}

TEST_F(RadosCluster, CreateRefusesAPrefixThatHoldsALabel) {
  VdevConfig vc =
      RadosConfig({{"uri", fmt::format("rados://{}/{}", pool_, prefix_)}, {"conf", conf_}});
  auto opened = OpenRadosVdevKind(vc, {.create = true});
  ASSERT_TRUE(opened) << opened.error().ToString();
  PoolConfig config{.vdevs = {vc}};
  std::vector<std::shared_ptr<Vdev>> devices{opened->device};
  auto pool = Pool::Create(config, devices);
  ASSERT_TRUE(pool) << pool.error().ToString();
  pool->reset();
  auto again = OpenRadosVdevKind(vc, {.create = true});
  ASSERT_FALSE(again);
  EXPECT_TRUE(Contains(again.error().message(), "already holds the label"))
      << again.error().ToString();
  // Opening (not creating) takes it.
  auto reopened = OpenRadosVdevKind(vc, {});
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  ASSERT_TRUE(reopened->device->Discard(BlockNo{0}, reopened->device->Size()));
}

}  // namespace
}  // namespace tessera
