// Degraded open of the database when a vdev of the fastest tier (the
// metadata tier) is lost, and offline of such a vdev (database.h contract 6).
// The pools here are the default shape: every vdev in the fastest tier.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "core/util/aligned_buffer.h"
#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

std::string Key(int i) { return fmt::format("key{:06}", i); }

// A dataset with a snapshot and later changes, committed.
Model Populate(Database& db) {
  Model m;
  Tree& t = (*db.CreateDataset("a"))->tree();
  for (int i = 0; i < 2000; i++) {
    std::string v(30 + i % 40, static_cast<char>('a' + i % 26));
    EXPECT_TRUE(t.Insert(Key(i), v));
    m[Key(i)] = v;
  }
  EXPECT_TRUE(db.CreateSnapshot("a", "s"));
  for (int i = 0; i < 2000; i += 5) {
    EXPECT_TRUE(t.Insert(Key(i), "changed"));
    m[Key(i)] = "changed";
  }
  EXPECT_TRUE(db.Commit());
  return m;
}

// How a vdev is lost before the open.
enum class Loss { kMissing, kOffline, kBadLabel, kDead };

std::string LossName(Loss loss) {
  switch (loss) {
    case Loss::kMissing: return "missing";
    case Loss::kOffline: return "offline";
    case Loss::kBadLabel: return "bad label";
    case Loss::kDead: return "dead";
  }
  return "";
}

// Opens `tp` with the vdevs in `lost` lost as `loss` says.
Result<std::unique_ptr<Database>> OpenWithout(TestPool& tp, const std::set<size_t>& lost, Loss loss) {
  tp.Reboot();
  PoolConfig config = tp.config;
  auto devices = tp.Devices();
  AlignedBuffer zero(kBlockSize);
  std::memset(zero.data(), 0, kBlockSize);
  for (size_t i : lost) {
    switch (loss) {
      case Loss::kMissing: devices[i] = nullptr; break;
      case Loss::kOffline:
        devices[i] = nullptr;
        config.vdevs[i].offline = true;
        break;
      case Loss::kBadLabel:  // readable, but both labels are gone
        EXPECT_TRUE(tp.media[i]->Write(BlockNo{0}, zero.span()));
        EXPECT_TRUE(tp.media[i]->Write(BlockNo{tp.media[i]->Size().value - 1}, zero.span()));
        break;
      case Loss::kDead: tp.faults[i]->FailNth(1, /*persistent=*/true); break;
    }
  }
  auto pool = Pool::Open(config, devices);
  if (!pool) return Err(pool.error());
  return Database::Open(std::move(*pool), TestPool::SmallOptions());
}

// The default 2-vdev pool loses either vdev, in each way a vdev can be lost,
// and still opens, reads, checks clean and commits.
TEST(DegradedOpen, TwoVdevDefaultPoolLosesEitherVdev) {
  for (Loss loss : {Loss::kMissing, Loss::kOffline, Loss::kBadLabel, Loss::kDead}) {
    for (size_t victim : {0u, 1u}) {
      SCOPED_TRACE(fmt::format("vdev {} {}", victim, LossName(loss)));
      TestPool tp(2);
      Model m;
      {
        auto db = std::move(*tp.Create());
        m = Populate(*db);
      }
      auto db = OpenWithout(tp, {victim}, loss);
      ASSERT_TRUE(db) << db.error().ToString();
      EXPECT_TRUE((*db)->pool().vdevs()[victim].faulted());
      EXPECT_TRUE(ReadAll((*(*db)->OpenDataset("a"))->tree()) == m);
      auto snap = (*db)->OpenSnapshot("a", "s");
      ASSERT_TRUE(snap) << snap.error().ToString();
      ExpectClean(**db);
      Tree& t = (*(*db)->OpenDataset("a"))->tree();
      ASSERT_TRUE(t.Insert("after", "loss"));
      m["after"] = "loss";
      ASSERT_TRUE((*db)->Commit());
      db->reset();
      // Reopen still degraded: the commit made while degraded is there.
      auto again = OpenWithout(tp, {victim}, loss == Loss::kBadLabel ? Loss::kMissing : loss);
      ASSERT_TRUE(again) << again.error().ToString();
      EXPECT_TRUE(ReadAll((*(*again)->OpenDataset("a"))->tree()) == m);
    }
  }
}

// Some node has both of its copies on vdevs 0 and 1 of a 3-vdev pool: losing
// those two loses that node, and the open refuses, naming them.
TEST(DegradedOpen, PoolWhoseMetadataIsGoneRefusesClearly) {
  TestPool tp(3);
  {
    auto db = std::move(*tp.Create());
    Populate(*db);
    size_t on_both = 0;
    ASSERT_TRUE((*db->OpenDataset("a"))->tree().ForEachNode([&](const BlockPtr& p, uint32_t) -> Status {
      std::set<uint32_t> vdevs;
      for (uint64_t a : p.CopyAddresses()) vdevs.insert(DiskAddress{a}.vdev());
      if (vdevs == std::set<uint32_t>{0, 1}) on_both++;
      return Ok();
    }));
    ASSERT_GT(on_both, 0u) << "the test needs a node whose copies are all on vdevs 0 and 1";
  }
  for (Loss loss : {Loss::kMissing, Loss::kDead}) {
    SCOPED_TRACE(LossName(loss));
    auto db = OpenWithout(tp, {0, 1}, loss);
    ASSERT_FALSE(db);
    const std::string message = db.error().ToString();
    EXPECT_NE(message.find("metadata is not complete without vdev(s) 'v0'"), std::string::npos) << message;
    EXPECT_NE(message.find("'v1'"), std::string::npos) << message;
  }
  // Nothing was written by the failed opens: the whole pool still opens.
  tp.Reboot();
  auto db = tp.Open();
  ASSERT_TRUE(db) << db.error().ToString();
  ExpectClean(**db);
}

// A vdev of the metadata tier goes offline while every node keeps a copy
// elsewhere; the last vdev holding copies may not.
TEST(DegradedOpen, OfflineOfAMetadataVdevIsCheckedByTheDatabase) {
  TestPool tp(2);
  auto db = std::move(*tp.Create());
  Model m = Populate(*db);
  ASSERT_TRUE(db->OfflineVdev("v0"));
  EXPECT_TRUE(db->pool().vdevs()[0].faulted());
  EXPECT_TRUE(db->pool().config().vdevs[0].offline);
  auto refused = db->OfflineVdev("v1");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.error().message().find("only"), std::string::npos) << refused.error().ToString();
  EXPECT_FALSE(db->pool().vdevs()[1].faulted());
  EXPECT_TRUE(ReadAll((*db->OpenDataset("a"))->tree()) == m);
  ASSERT_TRUE((*db->OpenDataset("a"))->tree().Insert("while", "offline"));
  ASSERT_TRUE(db->Commit());
  EXPECT_EQ(db->OfflineVdev("nope").error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace tessera::testing
