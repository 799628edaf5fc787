#include "core/pool/pool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "core/pool/vdev_kinds.h"
#include "core/util/aligned_buffer.h"
#include "core/util/size.h"
#include "core/vdev/file_vdev.h"
#include "core/vdev/fault_vdev.h"
#include "core/vdev/memory_vdev.h"
#include "tests/unit/pool/pool_test_util.h"

namespace tessera {
namespace {

constexpr char kTwoVdevs[] = R"(
[pool]
name = test
[vdev a]
path = a.img
size = 16M
tier = fastest
host = h1
[vdev b]
path = b.img
size = 32M
tier = slow
)";

TEST(PoolConfig, ParsesVdevsAttributesAndIndexes) {
  auto config = ParsePoolConfig(kTwoVdevs, "/base");
  ASSERT_TRUE(config) << config.error().ToString();
  ASSERT_EQ(config->vdevs.size(), 2u);
  EXPECT_EQ(config->name, "test");
  EXPECT_EQ(config->vdevs[0].path, "/base/a.img");
  EXPECT_EQ(config->vdevs[0].size_bytes, 16u << 20);
  EXPECT_EQ(config->vdevs[0].attrs.at("host"), "h1");
  EXPECT_EQ(config->vdevs[1].tier, Tier::kSlow);
  EXPECT_EQ(config->vdevs[1].index, 0u);
  auto again = ParsePoolConfig(SerializePoolConfig(*config), "/elsewhere");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->vdevs[1].path, "/base/b.img");
}

// [pool]'s server settings (memory, max-connections, threads) are read and
// written back.
TEST(PoolConfig, ServerSettingsRoundTrip) {
  auto config = ParsePoolConfig(
      "[pool]\nmemory = 64M\nmax-connections = 12\nthreads = 2\n[vdev a]\npath=x\nsize=16M\n", "/base");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->memory_bytes, 64u << 20);
  EXPECT_EQ(config->max_connections, 12u);
  EXPECT_EQ(config->threads, 2u);
  auto again = ParsePoolConfig(SerializePoolConfig(*config), "/base");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->max_connections, 12u);
  EXPECT_EQ(again->threads, 2u);
  auto unset = ParsePoolConfig(kTwoVdevs, "/base");
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->max_connections, 0u);
  EXPECT_EQ(SerializePoolConfig(*unset).find("threads"), std::string::npos);
}

// [pool]'s tiering settings are read and written back; left out, tiering
// is off and the defaults apply.
TEST(PoolConfig, TieringSettingsRoundTrip) {
  auto config = ParsePoolConfig(
      "[pool]\ntiering = on\ntiering-limit = 75%\ntiering-half-life = 30s\n[vdev a]\npath=x\nsize=16M\n",
      "/base");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_TRUE(config->tiering);
  EXPECT_EQ(config->tiering_limit_percent, 75u);
  EXPECT_EQ(config->tiering_half_life_s, 30u);
  auto again = ParsePoolConfig(SerializePoolConfig(*config), "/base");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->tiering);
  EXPECT_EQ(again->tiering_limit_percent, 75u);
  EXPECT_EQ(again->tiering_half_life_s, 30u);
  auto bare = ParsePoolConfig("[pool]\ntiering-limit = 50\ntiering-half-life = 600\n[vdev a]\npath=x\nsize=16M\n",
                              "/base");
  ASSERT_TRUE(bare) << bare.error().ToString();
  EXPECT_EQ(bare->tiering_limit_percent, 50u);
  EXPECT_EQ(bare->tiering_half_life_s, 600u);
  EXPECT_FALSE(bare->tiering);
  auto unset = ParsePoolConfig(kTwoVdevs, "/base");
  ASSERT_TRUE(unset);
  EXPECT_FALSE(unset->tiering);
  EXPECT_EQ(SerializePoolConfig(*unset).find("tiering"), std::string::npos);
}

struct BadConfig {
  const char* text;
  const char* expect;
};

TEST(PoolConfig, BadConfigsNameTheProblem) {
  const BadConfig cases[] = {
      {"[vdev a]\npath=x\nsize=16M\n[vdev a]\npath=y\nsize=16M\n", "line 4: duplicate vdev 'a'"},
      {"[vdev a]\npath=x\nsize=16M\n[vdev b]\npath=x\nsize=16M\n", "repeats path"},
      {"[vdev a]\npath=x\nsize=1M\n", "line 3: vdev 'a' size 1M is below the minimum"},
      {"[vdev a]\npath=x\nsize=16M\ntier=warp\n", "line 4: unknown tier 'warp'"},
      {"[vdev a]\npath=x\nsize=16M\nio=fast\n", "line 4: io = 'fast': use read-cache, direct or buffered"},
      {"[disk a]\npath=x\n", "line 1: unknown section [disk a]"},
      {"[vdev a]\nsize=16M\n", "has no path"},
      {"[vdev a]\npath=x\nsize=16Q\n", "unknown unit"},
      {"", "names no vdev"},
      {"[pool]\nmax-connections = 0\n", "line 2: max-connections = 0 is not a whole number from 1 to 65536"},
      {"[pool]\nmax-connections = -3\n", "line 2: max-connections = -3 is not a whole number"},
      {"[pool]\nmax-connections = 65537\n", "line 2: max-connections = 65537 is not"},
      {"[pool]\nthreads = 65\n", "line 2: threads = 65 is not a whole number from 1 to 64"},
      {"[pool]\nthreads = 4x\n", "line 2: threads = 4x is not"},
      {"[pool]\nthreads = 99999999999\n", "line 2: threads = 99999999999 is not"},
      {"[pool]\nclients = 4\n", "line 2: unknown key 'clients' in [pool]"},
      {"[pool]\ntiering = yes\n", "line 2: tiering = yes: expected on or off"},
      {"[pool]\ntiering-limit = 0%\n", "line 2: tiering-limit = 0 is not a whole number from 1 to 100"},
      {"[pool]\ntiering-limit = 101\n", "line 2: tiering-limit = 101 is not"},
      {"[pool]\ntiering-limit = 50s\n", "line 2: tiering-limit = 50s is not"},
      {"[pool]\ntiering-half-life = 1h\n", "line 2: tiering-half-life = 1h is not"},
      {"[pool]\ntiering-half-life = 604801\n", "line 2: tiering-half-life = 604801 is not a whole number from 1 "
                                                 "to 604800"},
  };
  for (const auto& c : cases) {
    auto config = ParsePoolConfig(c.text, "/base");
    ASSERT_FALSE(config) << c.text;
    EXPECT_EQ(config.error().code(), Code::kInvalidArgument);
    EXPECT_NE(config.error().message().find(c.expect), std::string::npos)
        << config.error().message() << " / expected: " << c.expect;
  }
}

TEST(Address, PacksTierVdevBlock) {
  auto a = DiskAddress::Make(Tier::kSlow, 1023, 12345);
  EXPECT_EQ(a.tier(), Tier::kSlow);
  EXPECT_EQ(a.vdev(), 1023u);
  EXPECT_EQ(a.block(), 12345u);
  EXPECT_EQ(a.ToString(), "slow:1023:12345");
  EXPECT_EQ(ParseTier("SLOWEST"), Tier::kSlowest);
  EXPECT_FALSE(ParseTier("warp"));
}

PoolConfig MemConfig() { return *ParsePoolConfig(kTwoVdevs, "/mem"); }

std::vector<std::shared_ptr<Vdev>> MemDevices(uint64_t a_blocks = 4096, uint64_t b_blocks = 8192) {
  return {std::make_shared<MemoryVdev>(BlockCount{a_blocks}),
          std::make_shared<MemoryVdev>(BlockCount{b_blocks})};
}

TEST(Pool, CreateThenOpenVerifiesLabels) {
  auto devices = MemDevices();
  auto pool = Pool::Create(MemConfig(), devices);
  ASSERT_TRUE(pool) << pool.error().ToString();
  auto opened = Pool::Open(MemConfig(), devices);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ((*opened)->uuid(), (*pool)->uuid());
  EXPECT_EQ((*opened)->vdevs()[1].label.size_blocks, 8192u);
  EXPECT_EQ((*opened)->FastestTierVdevs().size(), 1u);
}

TEST(Pool, OneCorruptLabelCopyIsTolerated) {
  auto devices = MemDevices();
  ASSERT_TRUE(Pool::Create(MemConfig(), devices));
  AlignedBuffer junk(kBlockSize);
  std::memset(junk.data(), 0x5a, kBlockSize);
  ASSERT_TRUE(devices[0]->Write(BlockNo{0}, junk.span()));
  EXPECT_TRUE(Pool::Open(MemConfig(), devices));
  // Both copies bad: the vdev is faulted (in any tier, the metadata tier
  // included; the database decides whether the pool can do without it).
  ASSERT_TRUE(devices[0]->Write(BlockNo{4095}, junk.span()));
  auto opened = Pool::Open(MemConfig(), devices);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ((*opened)->vdevs()[0].device->state(), VdevState::kFaulted);
  EXPECT_FALSE((*opened)->vdevs()[1].faulted());
}

// A device that cannot be read at all opens as faulted (so redundant
// metadata can carry the pool); no I/O reaches it. All unreadable: an error.
TEST(Pool, UnreadableVdevOpensFaulted) {
  auto devices = MemDevices();
  ASSERT_TRUE(Pool::Create(MemConfig(), devices));
  auto dead = std::make_shared<FaultVdev>(devices[1]);
  dead->FailNth(1, /*persistent=*/true);
  auto opened = Pool::Open(MemConfig(), {devices[0], dead});
  ASSERT_TRUE(opened) << opened.error().ToString();
  const Pool& pool = **opened;
  EXPECT_FALSE(pool.vdevs()[0].faulted());
  EXPECT_TRUE(pool.vdevs()[1].faulted());
  EXPECT_EQ(pool.FaultedVdevCount(), 1u);
  EXPECT_EQ(pool.vdevs()[1].label.pool_uuid, pool.uuid());
  EXPECT_EQ(pool.vdevs()[1].label.size_blocks, 8192u);
  uint64_t before = dead->Counters().reads + dead->Counters().writes;
  AlignedBuffer buf(kBlockSize);
  DiskAddress on_dead = DiskAddress::Make(Tier::kSlow, 0, 100);
  EXPECT_TRUE(pool.IsFaulted(on_dead));
  auto read = (*opened)->Read(on_dead, buf.span());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
  EXPECT_FALSE((*opened)->Write(on_dead, buf.span()));
  EXPECT_TRUE((*opened)->FlushAll());
  EXPECT_EQ(dead->Counters().reads + dead->Counters().writes, before);

  auto dead0 = std::make_shared<FaultVdev>(devices[0]);
  dead0->FailNth(1, true);
  auto none = Pool::Open(MemConfig(), {dead0, dead});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), Code::kIOError);
}

// Requests that continue each other on a vdev and in memory reach it as one
// request; a gap on the device or in memory starts a new one. Every part
// gets the merged request's result, and the data lands where each part says.
TEST(Pool, SubmitMergesRequestsThatContinueEachOther) {
  auto devices = MemDevices();
  ASSERT_TRUE(Pool::Create(MemConfig(), devices));
  auto counted = std::make_shared<FaultVdev>(devices[0]);
  auto opened = Pool::Open(MemConfig(), {counted, devices[1]});
  ASSERT_TRUE(opened) << opened.error().ToString();
  Pool& pool = **opened;
  AlignedBuffer data(8 * kBlockSize);
  for (size_t i = 0; i < data.size(); i++) data.data()[i] = std::byte(i * 7 + i / kBlockSize);
  auto piece = [&](uint64_t block, size_t first, size_t count) {
    return PoolIo{.op = IoOp::kWrite,
                  .address = DiskAddress::Make(Tier::kFastest, 0, block),
                  .buffer = data.span().subspan(first * kBlockSize, count * kBlockSize)};
  };
  // Blocks 100..103 from buffer blocks 0..3 in three pieces (one request),
  // then 110..111 from 4..5 (a device gap), then 112 from 7 (a memory gap).
  std::vector<PoolIo> ios = {piece(100, 0, 1), piece(101, 1, 2), piece(103, 3, 1), piece(110, 4, 2),
                             piece(112, 7, 1)};
  uint64_t before = counted->Counters().writes;
  ASSERT_TRUE(pool.Submit(ios));
  EXPECT_EQ(counted->Counters().writes - before, 3u);
  for (const PoolIo& io : ios) EXPECT_TRUE(io.result);

  AlignedBuffer back(kBlockSize);
  std::vector<std::pair<uint64_t, size_t>> expect = {{100, 0}, {101, 1}, {102, 2}, {103, 3},
                                                     {110, 4}, {111, 5}, {112, 7}};
  for (auto [block, from] : expect) {
    ASSERT_TRUE(pool.Read(DiskAddress::Make(Tier::kFastest, 0, block), back.span()));
    EXPECT_EQ(std::memcmp(back.data(), data.data() + from * kBlockSize, kBlockSize), 0) << block;
  }

  // A failure of the merged request is every part's failure.
  counted->FailNth(1, /*persistent=*/false, FaultOpKind::kWrite);
  std::vector<PoolIo> again = {piece(200, 0, 1), piece(201, 1, 1)};
  EXPECT_FALSE(pool.Submit(again));
  EXPECT_FALSE(again[0].result);
  EXPECT_FALSE(again[1].result);
}

TEST(Pool, VdevOfAnotherPoolIsRefused) {
  auto first = MemDevices();
  auto second = MemDevices();
  ASSERT_TRUE(Pool::Create(MemConfig(), first));
  ASSERT_TRUE(Pool::Create(MemConfig(), second));
  std::vector<std::shared_ptr<Vdev>> mixed = {first[0], second[1]};
  auto opened = Pool::Open(MemConfig(), mixed);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message().find("belongs to another pool"), std::string::npos);
}

TEST(Pool, TruncatedVdevIsFaultedInEveryTier) {
  auto devices = MemDevices();
  ASSERT_TRUE(Pool::Create(MemConfig(), devices));
  // The same content on a shorter device: the end label is gone, the start
  // label says the device was larger.
  auto shorter = [&](size_t i, uint64_t blocks) {
    auto d = std::make_shared<MemoryVdev>(BlockCount{blocks});
    AlignedBuffer block(kBlockSize);
    EXPECT_TRUE(devices[i]->Read(BlockNo{0}, block.span()));
    EXPECT_TRUE(d->Write(BlockNo{0}, block.span()));
    return d;
  };
  // Vdev a is in the metadata tier: the pool opens with it faulted, and the
  // database decides whether the metadata survives (database.h contract 6).
  auto opened = Pool::Open(MemConfig(), {shorter(0, 3000), devices[1]});
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ((*opened)->vdevs()[0].device->state(), VdevState::kFaulted);

  // Vdev b (tier slow): the pool opens degraded.
  auto degraded = Pool::Open(MemConfig(), {devices[0], shorter(1, 6000)});
  ASSERT_TRUE(degraded) << degraded.error().ToString();
  EXPECT_FALSE((*degraded)->Healthy());
  EXPECT_EQ((*degraded)->vdevs()[1].device->state(), VdevState::kFaulted);
  AlignedBuffer block(kBlockSize);
  auto read = (*degraded)->Read(DiskAddress::Make(Tier::kSlow, 0, 100), block.span());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
}

TEST(Pool, SwappedConfigOrderIsRefused) {
  auto devices = MemDevices();
  ASSERT_TRUE(Pool::Create(MemConfig(), devices));
  auto config = MemConfig();
  std::swap(config.vdevs[0].tier, config.vdevs[1].tier);
  auto opened = Pool::Open(config, devices);
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message().find("label says tier"), std::string::npos);
}

TEST(Pool, FileDevicesMissingFileAndNoOverwrite) {
  TempDir dir;
  std::string conf = dir.path() + "/pool.conf";
  std::ofstream(conf) << kTwoVdevs;
  auto config = LoadPoolConfig(conf);
  ASSERT_TRUE(config) << config.error().ToString();
  auto missing = OpenVdevs(*config, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_NE(missing.error().message().find("a.img"), std::string::npos);
  auto created = OpenVdevs(*config, {.create = true});
  ASSERT_TRUE(created) << created.error().ToString();
  ASSERT_TRUE(Pool::Create(*config, *created));
  created->clear();
  auto again = OpenVdevs(*config, {.create = true});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("refusing to overwrite"), std::string::npos);
  auto devices = OpenVdevs(*config, {});
  ASSERT_TRUE(devices);
  auto pool = Pool::Open(*config, *devices);
  ASSERT_TRUE(pool) << pool.error().ToString();
  // Address I/O round trip.
  ExpectBlockRoundTrip(**pool, DiskAddress::Make(Tier::kSlow, 0, 100), 7);
  AlignedBuffer in(kBlockSize);
  EXPECT_FALSE((*pool)->Read(DiskAddress::Make(Tier::kFast, 0, 1), in.span()));
  EXPECT_FALSE((*pool)->Read(DiskAddress::Make(Tier::kSlow, 0, 8192), in.span()));
}

TEST(Size, ParseAndFormat) {
  EXPECT_EQ(ParseSize("4096").value(), 4096u);
  EXPECT_EQ(ParseSize("10G").value(), 10ull << 30);
  EXPECT_EQ(ParseSize("10GiB").value(), 10ull << 30);
  EXPECT_EQ(ParseSize("512m").value(), 512ull << 20);
  EXPECT_FALSE(ParseSize(""));
  EXPECT_FALSE(ParseSize("G"));
  EXPECT_FALSE(ParseSize("12X"));
  EXPECT_FALSE(ParseSize("99999999999999999999"));
  EXPECT_FALSE(ParseSize("99999999999T"));
  EXPECT_EQ(FormatSize(10ull << 30), "10G");
  EXPECT_EQ(FormatSize(1536), "1.5K");
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {

TEST(Pool, FailedCreateRemovesTheFilesItMade) {
  TempDir dir;
  PoolConfig config = *ParsePoolConfig(
      "[vdev a]\npath = a.img\nsize = 16M\n[vdev b]\npath = missing-dir/b.img\nsize = 16M\n", dir.path());
  auto devices = OpenVdevs(config, {.create = true});
  ASSERT_FALSE(devices);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/a.img"));
}

// File vdevs use O_DIRECT unless their `io` attribute asks for the page
// cache; allow_direct = false overrides the attribute.
TEST(Pool, FileDevicesIoModeFollowsTheIoAttribute) {
  TempDir dir;
  PoolConfig config = *ParsePoolConfig(
      "[vdev a]\npath = a.img\nsize = 16M\n[vdev b]\npath = b.img\nsize = 16M\nio = direct\n"
      "[vdev c]\npath = c.img\nsize = 16M\nio = buffered\n"
      "[vdev d]\npath = d.img\nsize = 16M\nio = read-cache\n",
      dir.path());
  auto file = [](const std::shared_ptr<Vdev>& v) -> FileVdev& { return dynamic_cast<FileVdev&>(*v); };
  {
    auto devices = OpenVdevs(config, {.create = true});
    ASSERT_TRUE(devices) << devices.error().ToString();
    EXPECT_FALSE(file((*devices)[2]).UsingDirectIo()) << "io = buffered";
    EXPECT_FALSE(file((*devices)[2]).CachingReads());
    // O_DIRECT falls back to buffered where the file system refuses it.
    FileVdevOptions probe{.create = true, .create_size = BlockCount{16}};
    auto direct_works = FileVdev::Open(dir.path() + "/probe.img", probe);
    ASSERT_TRUE(direct_works);
    bool direct = (*direct_works)->UsingDirectIo();
    EXPECT_EQ(file((*devices)[0]).UsingDirectIo(), direct) << "the default is read-cache";
    EXPECT_EQ(file((*devices)[0]).CachingReads(), direct);
    EXPECT_EQ(file((*devices)[1]).UsingDirectIo(), direct) << "io = direct";
    EXPECT_FALSE(file((*devices)[1]).CachingReads());
    EXPECT_EQ(file((*devices)[3]).UsingDirectIo(), direct) << "io = read-cache";
    EXPECT_EQ(file((*devices)[3]).CachingReads(), direct);
  }
  auto buffered = OpenVdevs(config, {.allow_direct = false});
  ASSERT_TRUE(buffered) << buffered.error().ToString();
  EXPECT_FALSE(file((*buffered)[1]).UsingDirectIo());
  EXPECT_FALSE(file((*buffered)[0]).CachingReads());
}

// preallocate = full writes zeros over the whole file at creation (no holes
// left); the default leaves it sparse; anything else is refused.
TEST(Pool, FileDevicesPreallocateFollowsTheAttribute) {
  TempDir dir;
  PoolConfig config = *ParsePoolConfig(
      "[vdev a]\npath = a.img\nsize = 16M\n[vdev b]\npath = b.img\nsize = 16M\npreallocate = full\n",
      dir.path());
  ASSERT_TRUE(OpenVdevs(config, {.create = true}));
  auto allocated = [&](const char* name) {
    struct stat st {};
    EXPECT_EQ(::stat((dir.path() + "/" + name).c_str(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  };
  EXPECT_LT(allocated("a.img"), 1u << 20);
  EXPECT_GE(allocated("b.img"), 16u << 20);
  auto bad = ParsePoolConfig("[vdev a]\npath = a.img\nsize = 16M\npreallocate = half\n", dir.path());
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("preallocate = 'half': use sparse or full"), std::string::npos)
      << bad.error().message();
}

}  // namespace
}  // namespace tessera
