// Degraded open and device management of the pool (pool.h contracts 1a, 3,
// 5).
#include <gtest/gtest.h>

#include <cstring>

#include "core/pool/pool.h"
#include "core/util/aligned_buffer.h"
#include "core/vdev/fault_vdev.h"
#include "core/vdev/memory_vdev.h"

namespace tessera {
namespace {

constexpr char kThreeVdevs[] = R"(
[pool]
name = test
[vdev meta]
path = meta.img
size = 16M
tier = fastest
[vdev d0]
path = d0.img
size = 16M
tier = slow
[vdev d1]
path = d1.img
size = 16M
tier = slow
)";

PoolConfig Config() { return *ParsePoolConfig(kThreeVdevs, "/mem"); }

std::vector<std::shared_ptr<Vdev>> Devices() {
  std::vector<std::shared_ptr<Vdev>> out;
  for (int i = 0; i < 3; i++) out.push_back(std::make_shared<MemoryVdev>(BlockCount{4096}));
  return out;
}

const DiskAddress kD0Block = DiskAddress::Make(Tier::kSlow, 0, 100);

TEST(PoolDevices, MissingVdevOfAnyTierOpensDegraded) {
  auto devices = Devices();
  ASSERT_TRUE(Pool::Create(Config(), devices));
  auto degraded = Pool::Open(Config(), {devices[0], nullptr, devices[2]});
  ASSERT_TRUE(degraded) << degraded.error().ToString();
  EXPECT_FALSE((*degraded)->Healthy());
  EXPECT_EQ((*degraded)->FindByName("d0")->device->state(), VdevState::kMissing);
  EXPECT_EQ((*degraded)->FindByName("d1")->device->state(), VdevState::kOnline);
  AlignedBuffer block(kBlockSize);
  auto read = (*degraded)->Read(kD0Block, block.span());
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), Code::kIOError);
  EXPECT_NE(read.error().message().find("missing"), std::string::npos) << read.error().message();

  // The metadata tier too: whether the metadata survives is the database's
  // call (database.h contract 6), not the pool's.
  auto no_meta = Pool::Open(Config(), {nullptr, devices[1], devices[2]});
  ASSERT_TRUE(no_meta) << no_meta.error().ToString();
  EXPECT_EQ((*no_meta)->FindByName("meta")->device->state(), VdevState::kMissing);
  PoolConfig offline = Config();
  offline.vdevs[0].offline = true;
  auto meta_offline = Pool::Open(offline, {nullptr, devices[1], devices[2]});
  ASSERT_TRUE(meta_offline) << meta_offline.error().ToString();
  EXPECT_EQ((*meta_offline)->FindByName("meta")->device->state(), VdevState::kOffline);

  auto none = Pool::Open(Config(), {nullptr, nullptr, nullptr});
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message().find("no vdev"), std::string::npos) << none.error().message();
}

TEST(PoolDevices, OfflineOnlineKeepsTheSlotAndChecksTheLabel) {
  auto devices = Devices();
  auto pool = Pool::Create(Config(), devices);
  ASSERT_TRUE(pool);
  Pool& p = **pool;
  AlignedBuffer block(kBlockSize);
  std::memset(block.data(), 0x42, kBlockSize);
  ASSERT_TRUE(p.Write(kD0Block, block.span()));

  EXPECT_EQ(p.Offline("nope").error().code(), Code::kNotFound);
  ASSERT_TRUE(p.Offline("d0"));
  EXPECT_TRUE(p.config().vdevs[1].offline);
  EXPECT_FALSE(p.Read(kD0Block, block.span()));

  // Another vdev's device is not d0.
  auto wrong = p.Online("d0", devices[2]);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("is not vdev 'd0'"), std::string::npos) << wrong.error().message();
  EXPECT_FALSE(p.FindByName("d0")->device->online());

  ASSERT_TRUE(p.Online("d0", devices[1]));
  EXPECT_TRUE(p.Healthy());
  // Any tier goes offline at the pool level (the database checks first that
  // its metadata survives: Database::OfflineVdev).
  ASSERT_TRUE(p.Offline("meta"));
  EXPECT_TRUE(p.FindByName("meta")->faulted());
  ASSERT_TRUE(p.Online("meta", devices[0]));
  EXPECT_FALSE(p.config().vdevs[1].offline);
  std::memset(block.data(), 0, kBlockSize);
  ASSERT_TRUE(p.Read(kD0Block, block.span()));
  EXPECT_EQ(block.data()[0], std::byte{0x42});
}

TEST(PoolDevices, ReplaceLabelsTheNewDeviceAsTheVdev) {
  auto devices = Devices();
  auto config = Config();
  ASSERT_TRUE(Pool::Create(config, devices));
  auto degraded = Pool::Open(config, {devices[0], nullptr, devices[2]});
  ASSERT_TRUE(degraded);
  Pool& p = **degraded;
  auto small = std::make_shared<MemoryVdev>(BlockCount{2048});
  EXPECT_FALSE(p.Replace("d0", small, "/mem/small.img"));
  auto fresh = std::make_shared<MemoryVdev>(BlockCount{4096});
  ASSERT_TRUE(p.Replace("d0", fresh, "/mem/new.img"));
  EXPECT_TRUE(p.Healthy());
  EXPECT_EQ(p.config().vdevs[1].path, "/mem/new.img");
  AlignedBuffer block(kBlockSize);
  std::memset(block.data(), 0x17, kBlockSize);
  ASSERT_TRUE(p.Write(kD0Block, block.span()));

  // The new device opens as d0 of the same pool.
  config.vdevs[1].path = "/mem/new.img";
  auto reopened = Pool::Open(config, {devices[0], fresh, devices[2]});
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->uuid(), p.uuid());
  EXPECT_TRUE((*reopened)->Healthy());
  std::memset(block.data(), 0, kBlockSize);
  ASSERT_TRUE((*reopened)->Read(kD0Block, block.span()));
  EXPECT_EQ(block.data()[0], std::byte{0x17});
}

TEST(PoolDevices, AddedVdevIsLabelledThenPublishedAndReopens) {
  auto devices = Devices();
  auto config = Config();
  auto created = Pool::Create(config, devices);
  ASSERT_TRUE(created);
  Pool& p = **created;
  const PoolVdev* first = &p.vdevs()[0];
  VdevConfig d2{.name = "d2", .path = "/mem/d2.img", .size_bytes = 16 << 20, .tier = Tier::kSlow, .index = 2};
  auto fresh = std::make_shared<MemoryVdev>(BlockCount{4096});
  // Refused, changing nothing: a taken name or path, a wrong index, a
  // small device, a device without this pool's label.
  VdevConfig taken = d2;
  taken.name = "d1";
  EXPECT_FALSE(p.CheckNewVdev(taken));
  taken = d2;
  taken.path = "/mem/d0.img";
  EXPECT_FALSE(p.CheckNewVdev(taken));
  taken = d2;
  taken.index = 3;
  EXPECT_FALSE(p.CheckNewVdev(taken));
  EXPECT_FALSE(p.PrepareVdev(d2, *std::make_shared<MemoryVdev>(BlockCount{1024})));
  EXPECT_FALSE(p.AddVdev(d2, fresh));  // not labelled yet
  ASSERT_EQ(p.vdevs().size(), 3u);

  ASSERT_TRUE(p.PrepareVdev(d2, *fresh));
  EXPECT_EQ(p.vdevs().size(), 3u);  // labelled, not added
  bool hook_ran = false;
  EXPECT_FALSE(p.AddVdev(d2, fresh, [&](const PoolVdev&) -> Status {
    hook_ran = true;
    return Err(Code::kIOError, "the allocator said no");
  }));
  EXPECT_TRUE(hook_ran);
  EXPECT_EQ(p.vdevs().size(), 3u);
  EXPECT_EQ(p.config().vdevs.size(), 3u);
  ASSERT_TRUE(p.AddVdev(d2, fresh, [&](const PoolVdev& v) -> Status {
    EXPECT_EQ(v.config.name, "d2");
    EXPECT_EQ(p.vdevs().size(), 3u);  // published only after the hook
    return Ok();
  }));
  ASSERT_EQ(p.vdevs().size(), 4u);
  EXPECT_EQ(&p.vdevs()[0], first);  // nothing moved
  EXPECT_EQ(p.config().vdevs.back().name, "d2");
  const DiskAddress on_d2 = DiskAddress::Make(Tier::kSlow, 2, 100);
  AlignedBuffer block(kBlockSize);
  std::memset(block.data(), 0x5a, kBlockSize);
  ASSERT_TRUE(p.Write(on_d2, block.span()));

  // pool.conf with the section appended opens the vdev as slow index 2.
  config.vdevs.push_back(d2);
  auto text = SerializePoolConfig(config);
  auto parsed = ParsePoolConfig(text, "/mem");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->vdevs.back().index, 2u);
  auto reopened = Pool::Open(*parsed, {devices[0], devices[1], devices[2], fresh});
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_TRUE((*reopened)->Healthy());
  std::memset(block.data(), 0, kBlockSize);
  ASSERT_TRUE((*reopened)->Read(on_d2, block.span()));
  EXPECT_EQ(block.data()[0], std::byte{0x5a});
}

TEST(PoolDevices, AFailedFlushFaultsADataVdevButNotTheMetadataTier) {
  auto devices = Devices();
  auto meta = std::make_shared<FaultVdev>(devices[0]);
  auto d0 = std::make_shared<FaultVdev>(devices[1]);
  auto pool = Pool::Create(Config(), {meta, d0, devices[2]});
  ASSERT_TRUE(pool);
  d0->FailNth(1, /*persistent=*/true, FaultOpKind::kFlush);
  ASSERT_TRUE((*pool)->FlushAll());
  EXPECT_EQ((*pool)->FindByName("d0")->device->state(), VdevState::kFaulted);
  EXPECT_EQ((*pool)->FindByName("d0")->device->errors().flush_errors, 1u);
  meta->FailNth(1, /*persistent=*/false, FaultOpKind::kFlush);
  EXPECT_FALSE((*pool)->FlushAll());
  d0->ClearFailures();
  ASSERT_TRUE((*pool)->Online("d0", d0));
  EXPECT_TRUE((*pool)->Healthy());
}

TEST(PoolDevices, OfflineStateRoundTripsThroughTheConfigText) {
  auto config = Config();
  config.vdevs[2].offline = true;
  auto text = SerializePoolConfig(config);
  EXPECT_NE(text.find("state = offline"), std::string::npos);
  auto parsed = ParsePoolConfig(text, "/mem");
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_FALSE(parsed->vdevs[1].offline);
  EXPECT_TRUE(parsed->vdevs[2].offline);
  auto bad = ParsePoolConfig(std::string(kThreeVdevs) + "state = sleepy\n", "/mem");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("sleepy"), std::string::npos);
}

TEST(PoolDevices, ARemovedVdevKeepsItsPlaceAndOpensAsNothing) {  // contract 7
  auto devices = Devices();
  auto pool = Pool::Create(Config(), devices);
  ASSERT_TRUE(pool);
  Pool& p = **pool;
  ASSERT_TRUE(p.Remove("d0"));
  EXPECT_TRUE(p.FindByName("d0")->removed());
  EXPECT_TRUE(p.Healthy());
  EXPECT_EQ(p.FaultedVdevCount(), 0u);
  AlignedBuffer block(kBlockSize);
  EXPECT_FALSE(p.Read(kD0Block, block.span()));
  for (auto refused : {p.Offline("d0"), p.Remove("d0"), p.Online("d0", devices[1])}) {
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), Code::kInvalidArgument) << refused.error().ToString();
  }
  // pool.conf keeps the section, so d1 keeps index 1; d0's path is free.
  auto text = SerializePoolConfig(p.config());
  EXPECT_NE(text.find("state = removed"), std::string::npos);
  auto parsed = ParsePoolConfig(text + "[vdev d2]\npath = d0.img\nsize = 16M\ntier = slow\n", "/mem");
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_TRUE(parsed->vdevs[1].removed);
  EXPECT_EQ(parsed->vdevs[2].index, 1u);
  EXPECT_EQ(parsed->vdevs[3].index, 2u);
  // Reopened without a device for it, the pool has it removed, not missing.
  parsed->vdevs.pop_back();
  auto reopened = Pool::Open(*parsed, {devices[0], nullptr, devices[2]});
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->FindByName("d0")->device->state(), VdevState::kRemoved);
  EXPECT_TRUE((*reopened)->Healthy());
}

}  // namespace
}  // namespace tessera
