#include "admin/args.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace tessera {
namespace {

TEST(ResolvePoolDir, FlagThenEnvironmentThenDefaultAllAbsolute) {
  EXPECT_EQ(ResolvePoolDir("/a/b/", "/env"), "/a/b/");
  EXPECT_EQ(ResolvePoolDir("/a/./b", nullptr), "/a/b");
  EXPECT_EQ(ResolvePoolDir("", "/env/pool"), "/env/pool");
  EXPECT_EQ(ResolvePoolDir("", ""), (std::filesystem::current_path() / "var/pool").string());
  EXPECT_EQ(ResolvePoolDir("rel", nullptr), (std::filesystem::current_path() / "rel").string());
}

TEST(ParseVdevSpec, ReadsEveryKey) {
  auto vdev =
      ParseVdevSpec("tier=slow,path=disks/a.img,size=64M,host=h1,kind=hdd,name=big", "/pool", 3);
  ASSERT_TRUE(vdev) << vdev.error().ToString();
  EXPECT_EQ(vdev->tier, Tier::kSlow);
  EXPECT_EQ(vdev->path, "/pool/disks/a.img");
  EXPECT_EQ(vdev->size_bytes, 64u << 20);
  EXPECT_EQ(vdev->name, "big");
  EXPECT_EQ(vdev->attrs.at("host"), "h1");
  EXPECT_EQ(vdev->attrs.at("kind"), "hdd");
  EXPECT_EQ(vdev->attrs.size(), 2u);

  auto defaults = ParseVdevSpec("path=/abs/x.img,size=1G", "/pool", 2);
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->tier, Tier::kFastest);
  EXPECT_EQ(defaults->path, "/abs/x.img");
  EXPECT_EQ(defaults->name, "vdev2");
}

TEST(ParseVdevAddSpec, LeavesTheNameToThePool) {
  auto unnamed = ParseVdevAddSpec("tier=slow,path=d.img,size=64M", "/pool");
  ASSERT_TRUE(unnamed) << unnamed.error().ToString();
  EXPECT_EQ(unnamed->name, "");
  EXPECT_EQ(unnamed->path, "/pool/d.img");
  EXPECT_EQ(unnamed->tier, Tier::kSlow);
  auto named = ParseVdevAddSpec("path=d.img,size=64M,name=d9", "/pool");
  ASSERT_TRUE(named);
  EXPECT_EQ(named->name, "d9");
  EXPECT_FALSE(ParseVdevAddSpec("path=d.img,size=1M", "/pool"));
}

// Without size=, the size is 0: a block device's own, which the pool looks
// up where it opens the path (core/pool/file_vdev_kind.h, FileVdevSize).
TEST(ParseVdevSpec, LeavesTheSizeToABlockDevice) {
  auto vdev = ParseVdevSpec("tier=fast,path=/dev/sdx", "/pool", 2);
  ASSERT_TRUE(vdev) << vdev.error().ToString();
  EXPECT_EQ(vdev->size_bytes, 0u);
  EXPECT_EQ(vdev->path, "/dev/sdx");
  EXPECT_EQ(vdev->name, "vdev2");
}

TEST(ParseVdevSpec, RejectsBadSpecsNamingTheProblem) {
  struct Case {
    const char* spec;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{{"", "not key=value"},
                                         {"tier=fast,size=1G", "path=P (or uri=U) is required"},
                                         {"tier=medium,path=a,size=1G", "unknown tier 'medium'"},
                                         {"path=a,size=1Q", "--vdev"},
                                         {"path=a,size=1M", "below the minimum"},
                                         {"path=a,size=1G,path=b", "given twice"},
                                         {"path=a,size=1G,=x", "not key=value"},
                                         {"path=a,size=1G,host=", "empty"},
                                         {"path=a;b,size=1G", "out of place"},
                                         {"path=a,size=1G,bad key=1", "bad key"},
                                         {"path=a,size=1G,name=x]y", "out of place"},
                                         {"path=a,size=1G,name=a/b", "only letters"},
                                         {"path=a,size=1G,novalue", "not key=value"}}) {
    auto vdev = ParseVdevSpec(c.spec, "/pool", 0);
    ASSERT_FALSE(vdev) << c.spec;
    EXPECT_EQ(vdev.error().code(), Code::kInvalidArgument) << c.spec;
    EXPECT_NE(vdev.error().message().find(c.says), std::string::npos)
        << c.spec << " -> " << vdev.error().message();
  }
}

TEST(BuildPoolConfig, DefaultsToEqualFastestFileVdevs) {
  PoolCreateArgs args;
  args.vdev_count = 3;
  args.vdev_size = "64M";
  auto config = BuildPoolConfig(args, "/pool");
  ASSERT_TRUE(config) << config.error().ToString();
  ASSERT_EQ(config->vdevs.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(config->vdevs[i].path, fmt::format("/pool/vdev{}.img", i));
    EXPECT_EQ(config->vdevs[i].size_bytes, 64u << 20);
    EXPECT_EQ(config->vdevs[i].tier, Tier::kFastest);
    EXPECT_EQ(config->vdevs[i].index, i);
  }
  EXPECT_EQ(BuildPoolConfig(PoolCreateArgs{}, "/pool")->vdevs.at(0).size_bytes, 4ull << 30);
}

TEST(BuildPoolConfig, SpecsGetPerTierIndexesAndMustBeDistinct) {
  PoolCreateArgs args;
  args.vdev_specs = {"tier=fastest,path=f0,size=32M", "tier=slow,path=s0,size=1G",
                     "tier=fastest,path=f1,size=32M", "tier=slow,path=s1,size=1G"};
  auto config = BuildPoolConfig(args, "/pool");
  ASSERT_TRUE(config) << config.error().ToString();
  std::vector<uint32_t> indexes;
  for (const auto& v : config->vdevs) indexes.push_back(v.index);
  EXPECT_EQ(indexes, (std::vector<uint32_t>{0, 0, 1, 1}));
  EXPECT_EQ(config->vdevs[3].name, "vdev3");

  args.vdev_specs = {"path=a,size=32M", "path=./a,size=32M"};
  auto same_path = BuildPoolConfig(args, "/pool");
  ASSERT_FALSE(same_path);
  EXPECT_NE(same_path.error().message().find("used twice"), std::string::npos);
  args.vdev_specs = {"path=a,size=32M,name=x", "path=b,size=32M,name=x"};
  EXPECT_FALSE(BuildPoolConfig(args, "/pool"));

  PoolCreateArgs bad;
  bad.vdev_count = 0;
  EXPECT_FALSE(BuildPoolConfig(bad, "/pool"));
  bad.vdev_count = 1;
  bad.vdev_size = "1M";
  EXPECT_FALSE(BuildPoolConfig(bad, "/pool"));
  bad.vdev_size = "lots";
  EXPECT_FALSE(BuildPoolConfig(bad, "/pool"));
}

TEST(Arguments, SizesAndLayouts) {
  EXPECT_EQ(*ParseSizeArg("10G"), 10ull << 30);
  EXPECT_EQ(*ParseSizeArg("4096"), 4096u);
  EXPECT_FALSE(ParseSizeArg("0"));
  EXPECT_FALSE(ParseSizeArg("-1G"));
  EXPECT_FALSE(ParseSizeArg("ten"));
  for (const char* good : {"simple", "stripe:1", "stripe:4", "stripe:64", "rs:4+2", "rs:1+1", "rs:32+8",
                           "mirror:2", "mirror:9"}) {
    EXPECT_TRUE(ValidateLayout(good)) << good;
  }
  for (const char* bad : {"", "Simple", "stripe", "stripe:", "stripe:0", "stripe:65", "stripe:x",
                          "stripe:-1", "mirror", "mirror:1", "mirror:10", "mirror:", "stripe:00000001", "rs:4", "rs:4+0", "rs:0+2",
                          "rs:33+1", "rs:4+9", "rs:+2"}) {
    EXPECT_FALSE(ValidateLayout(bad)) << bad;
  }
}

TEST(Arguments, NbdUrisAreEncoded) {
  EXPECT_EQ(NbdUnixUri("/p/nbd.sock", "vol1"), "nbd+unix:///vol1?socket=/p/nbd.sock");
  EXPECT_EQ(NbdUnixUri("/p/nbd.sock", ""), "nbd+unix:///?socket=/p/nbd.sock");
  EXPECT_EQ(NbdUnixUri("/my pool/s", "a b?&"), "nbd+unix:///a%20b%3F%26?socket=/my%20pool/s");
  EXPECT_EQ(NbdTcpUri("127.0.0.1", 10809, "v/1"), "nbd://127.0.0.1:10809/v%2F1");
}

TEST(Arguments, PluginIsLookedForNextToTheBinaryOrWhereTheEnvironmentSays) {
  EXPECT_EQ(PluginCandidates("/b/admin/tessera", "/x/p.so"), std::vector<std::string>{"/x/p.so"});
  auto candidates = PluginCandidates("/b/admin/tessera", nullptr);
  ASSERT_EQ(candidates.size(), 3u);
  EXPECT_EQ(candidates[0], "/b/admin/nbdkit-tessera-plugin.so");
  EXPECT_EQ(candidates[1], "/b/plugin/nbdkit-tessera-plugin.so");
  EXPECT_EQ(candidates[2], "/b/lib/nbdkit/plugins/nbdkit-tessera-plugin.so");
}

}  // namespace
}  // namespace tessera
