// PoolApi contract 1: every call answers alike through both implementations,
// a Storage used directly and a PoolClient on a server's control socket.
// Two equal pools get the same calls; each result is compared whole (its
// JSON, less the fields that name the pool itself or its random ids) and
// each error by code and message.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <set>

#include "control_test_util.h"
#include "core/control/ops.h"
#include "core/control/pool_client.h"
#include "core/control/server.h"

namespace tessera {
namespace {

using std::chrono::milliseconds;
using testing::TempPool;

// Fields that differ between two equal pools: identities, times, and space
// that depends on how often each committed (a server commits when a client
// leaves).
const std::set<std::string> kPoolOwnFields = {"uuid", "guid", "created_unix", "txg", "used_bytes",
                                              "free_bytes", "referenced_bytes", "unique_bytes",
                                              "dead_pinned_bytes", "path"};

// `json` without kPoolOwnFields; in its text the pool's directory reads POOL
// and random identifiers (the exNode's segment and block ids, ten digits or
// more) read ID.
Json Canonical(Json json, const std::string& dir) {
  if (json.is_object()) {
    Json out = Json::object();
    for (auto& [key, value] : json.items()) {
      if (!kPoolOwnFields.contains(key)) out[key] = Canonical(value, dir);
    }
    return out;
  }
  if (json.is_array()) {
    for (auto& item : json) item = Canonical(item, dir);
  }
  if (json.is_string()) {
    std::string text = json.get<std::string>();
    for (size_t at; (at = text.find(dir)) != std::string::npos;) text.replace(at, dir.size(), "POOL");
    return std::regex_replace(text, std::regex("[0-9]{10,}"), "ID");
  }
  return json;
}

class PoolApiParityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto local = local_pool_.Create();
    ASSERT_TRUE(local) << local.error().ToString();
    local_ = std::move(*local);
    auto served = served_pool_.Create();
    ASSERT_TRUE(served) << served.error().ToString();
    served_ = std::move(*served);
    auto server = ControlServer::Start(*served_, served_pool_.socket());
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    auto remote = ConnectOrOpen(served_pool_.dir());
    ASSERT_TRUE(remote) << remote.error().ToString();
    remote_ = std::move(*remote);
    ASSERT_TRUE(remote_->remote());
    ASSERT_FALSE(local_->remote());
  }
  void TearDown() override {
    for (const char* name : {"full.tds", "empty"}) {
      std::filesystem::remove(Outside(local_pool_, name));
      std::filesystem::remove(Outside(served_pool_, name));
    }
  }
  static std::string Outside(const TempPool& pool, const std::string& name) { return pool.dir() + "." + name; }

  std::string Message(const Error& error, const TempPool& pool) const {
    return Canonical(error.message(), pool.dir()).get<std::string>();
  }

  // Runs `call` on both PoolApis and expects the same outcome; returns the
  // local result.
  template <typename Call>
  auto Both(std::string_view what, Call call) {
    auto local = call(*local_, local_pool_);
    auto remote = call(*remote_, served_pool_);
    EXPECT_EQ(local.has_value(), remote.has_value())
        << what << ": local " << (local ? "ok" : local.error().ToString()) << ", remote "
        << (remote ? "ok" : remote.error().ToString());
    if (!local && !remote) {
      EXPECT_EQ(local.error().code(), remote.error().code()) << what;
      EXPECT_EQ(Message(local.error(), local_pool_), Message(remote.error(), served_pool_)) << what;
    }
    if constexpr (!std::is_void_v<typename decltype(local)::value_type>) {
      if (local && remote) {
        EXPECT_EQ(Canonical(ReplyToJson(*local), local_pool_.dir()),
                  Canonical(ReplyToJson(*remote), served_pool_.dir()))
            << what;
      }
    }
    return local;
  }
  // As Both, expecting an error of `code`.
  template <typename Call>
  void BothFail(std::string_view what, Code code, Call call) {
    auto local = Both(what, call);
    ASSERT_FALSE(local) << what;
    EXPECT_EQ(local.error().code(), code) << what << ": " << local.error().ToString();
  }

  TempPool local_pool_;
  TempPool served_pool_;
  std::unique_ptr<Storage> local_;
  std::unique_ptr<Storage> served_;
  std::unique_ptr<ControlServer> server_;
  std::unique_ptr<PoolApi> remote_;
};

constexpr uint64_t kMiB = 1 << 20;

TEST_F(PoolApiParityTest, VolumeCallsAnswerAlike) {
  ASSERT_TRUE(Both("create", [](PoolApi& p, auto&) { return p.CreateVolume({.name = "a", .size = 32 * kMiB}); }));
  BothFail("create existing", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.CreateVolume({.name = "a", .size = 32 * kMiB}); });
  BothFail("create snapshot name", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.CreateVolume({.name = "a@s", .size = 32 * kMiB}); });
  BothFail("create unaligned", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.CreateVolume({.name = "b", .size = 1000}); });
  BothFail("create bad layout", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.CreateVolume({.name = "b", .size = kMiB, .layout = "rs:9+9"}); });
  ASSERT_TRUE(Both("list", [](PoolApi& p, auto&) { return p.ListVolumes(); }));
  ASSERT_TRUE(Both("info", [](PoolApi& p, auto&) { return p.GetVolumeInfo("a"); }));
  BothFail("info unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.GetVolumeInfo("nope"); });
  ASSERT_TRUE(Both("grow", [](PoolApi& p, auto&) { return p.ResizeVolume("a", 64 * kMiB, false); }));
  BothFail("shrink without force", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.ResizeVolume("a", 16 * kMiB, false); });
  BothFail("resize snapshot", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.ResizeVolume("a@s", 16 * kMiB, true); });
  ASSERT_TRUE(Both("exnode", [](PoolApi& p, auto&) { return p.ExnodeText("a"); }));
  BothFail("exnode unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.ExnodeText("nope"); });
  BothFail("delete unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.DeleteVolume("nope"); });
  ASSERT_TRUE(Both("delete", [](PoolApi& p, auto&) { return p.DeleteVolume("a"); }));
  ASSERT_TRUE(Both("list after", [](PoolApi& p, auto&) { return p.ListVolumes(); }));
  ASSERT_TRUE(Both("commit", [](PoolApi& p, auto&) { return p.Commit(); }));
}

TEST_F(PoolApiParityTest, SnapshotCloneAndDiffCallsAnswerAlike) {
  ASSERT_TRUE(Both("create", [](PoolApi& p, auto&) { return p.CreateVolume({.name = "a", .size = 16 * kMiB}); }));
  ASSERT_TRUE(Both("snapshot", [](PoolApi& p, auto&) { return p.CreateSnapshot("a", "s1"); }));
  BothFail("snapshot again", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.CreateSnapshot("a", "s1"); });
  BothFail("snapshot unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.CreateSnapshot("nope", "s"); });
  ASSERT_TRUE(Both("snapshots", [](PoolApi& p, auto&) { return p.ListSnapshots("a"); }));
  ASSERT_TRUE(Both("clone", [](PoolApi& p, auto&) { return p.CloneSnapshot("a", "s1", "c"); }));
  BothFail("delete cloned snapshot", Code::kBusy, [](PoolApi& p, auto&) { return p.DeleteSnapshot("a", "s1"); });
  BothFail("flatten non-clone", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.FlattenVolume("a", 0, kFlattenStepBytes); });
  for (uint64_t offset = 0;;) {
    auto step = Both("flatten", [&](PoolApi& p, auto&) { return p.FlattenVolume("c", offset, 4 * kMiB); });
    ASSERT_TRUE(step);
    if (step->done) break;
    offset = step->offset;
  }
  auto moved = Both("move to its own tier", [](PoolApi& p, auto&) { return p.MoveVolume("a", Tier::kFastest); });
  ASSERT_TRUE(moved);
  EXPECT_TRUE(moved->done);
  BothFail("move to a tier without vdevs", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.MoveVolume("a", Tier::kSlow); });
  BothFail("move a snapshot", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.MoveVolume("a@s1", Tier::kFastest); });
  ASSERT_TRUE(Both("diff", [](PoolApi& p, auto&) { return p.DiffVolume("a", "", "s1"); }));
  BothFail("diff unknown snapshot", Code::kNotFound, [](PoolApi& p, auto&) { return p.DiffVolume("a", "x", ""); });
  ASSERT_TRUE(Both("rollback", [](PoolApi& p, auto&) { return p.RollbackSnapshot("a", "s1", false); }));
  BothFail("rollback unknown", Code::kNotFound,
           [](PoolApi& p, auto&) { return p.RollbackSnapshot("a", "nope", false); });

  // Streams: a full stream of a@s1 applied to an unwritten twin.
  auto open = [&](const TempPool& pool, const char* name) {
    return ::open(Outside(pool, name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  };
  ASSERT_TRUE(Both("stream", [&](PoolApi& p, const TempPool& pool) {
    int fd = open(pool, "full.tds");
    auto info = p.WriteDiffStream("a", "", "s1", fd);
    ::close(fd);
    return info;
  }));
  ASSERT_TRUE(Both("twin", [](PoolApi& p, auto&) { return p.CreateVolume({.name = "b", .size = 16 * kMiB}); }));
  ASSERT_TRUE(Both("apply", [&](PoolApi& p, const TempPool& pool) {
    int fd = open(pool, "full.tds");
    auto info = p.ApplyDiffStream("b", fd);
    ::close(fd);
    return info;
  }));
  BothFail("apply empty stream", Code::kCorruption, [&](PoolApi& p, const TempPool& pool) {
    int fd = open(pool, "empty");
    auto info = p.ApplyDiffStream("b", fd);
    ::close(fd);
    return info;
  });
  ASSERT_TRUE(Both("snapshots of b", [](PoolApi& p, auto&) { return p.ListSnapshots("b"); }));
  ASSERT_TRUE(Both("delete snapshot", [](PoolApi& p, auto&) { return p.DeleteSnapshot("a", "s1"); }));
  BothFail("delete snapshot again", Code::kNotFound, [](PoolApi& p, auto&) { return p.DeleteSnapshot("a", "s1"); });
}

TEST_F(PoolApiParityTest, RenameAnswersAlikeAndSnapshotsFollow) {
  ASSERT_TRUE(Both("create a", [](PoolApi& p, auto&) { return p.CreateVolume({.name = "a", .size = 16 * kMiB}); }));
  ASSERT_TRUE(Both("create b", [](PoolApi& p, auto&) { return p.CreateVolume({.name = "b", .size = 16 * kMiB}); }));
  ASSERT_TRUE(Both("snapshot", [](PoolApi& p, auto&) { return p.CreateSnapshot("a", "s1"); }));
  BothFail("to a taken name", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.RenameVolume("a", "b"); });
  BothFail("a snapshot", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.RenameVolume("a@s1", "x"); });
  BothFail("to a snapshot name", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.RenameVolume("a", "x@s1"); });
  BothFail("to a bad name", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.RenameVolume("a", "x/y"); });
  BothFail("to nothing", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.RenameVolume("a", ""); });
  BothFail("unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.RenameVolume("nope", "x"); });

  // A clone names a@s1 as its base: a keeps its name; the clone renames.
  ASSERT_TRUE(Both("clone", [](PoolApi& p, auto&) { return p.CloneSnapshot("a", "s1", "c"); }));
  BothFail("with clones", Code::kBusy, [](PoolApi& p, auto&) { return p.RenameVolume("a", "x"); });
  ASSERT_TRUE(Both("rename clone", [](PoolApi& p, auto&) { return p.RenameVolume("c", "d"); }));
  auto clone = Both("clone info", [](PoolApi& p, auto&) { return p.GetVolumeInfo("d"); });
  ASSERT_TRUE(clone);
  EXPECT_EQ(clone->origin, "a@s1");
  ASSERT_TRUE(Both("delete clone", [](PoolApi& p, auto&) { return p.DeleteVolume("d"); }));

  // In use: the volume, or one of its snapshot exports.
  for (const char* name : {"a", "a@s1"}) {
    auto local = local_->OpenVolume(name);
    auto served = served_->OpenVolume(name);
    ASSERT_TRUE(local && served);
    BothFail("in use", Code::kBusy, [](PoolApi& p, auto&) { return p.RenameVolume("a", "x"); });
  }
  ASSERT_TRUE(Both("unchanged", [](PoolApi& p, auto&) { return p.ListVolumes(); }));
  ASSERT_TRUE(Both("rename", [](PoolApi& p, auto&) { return p.RenameVolume("a", "x"); }));
  BothFail("old name", Code::kNotFound, [](PoolApi& p, auto&) { return p.GetVolumeInfo("a"); });
  auto snapshots = Both("snapshots follow", [](PoolApi& p, auto&) { return p.ListSnapshots("x"); });
  ASSERT_TRUE(snapshots);
  ASSERT_EQ(snapshots->size(), 1u);
  auto exnode = Both("exnode", [](PoolApi& p, auto&) { return p.ExnodeText("x"); });
  ASSERT_TRUE(exnode);
  EXPECT_NE(exnode->find("name=x\n"), std::string::npos);
  ASSERT_TRUE(Both("snapshot export", [](PoolApi& p, auto&) { return p.CloneSnapshot("x", "s1", "e"); }));

  // Durable: the reopened pool has x with its snapshot, and checks clean.
  ASSERT_TRUE(local_->Close());
  local_.reset();
  auto reopened = local_pool_.Open();
  ASSERT_TRUE(reopened) << reopened.error().ToString();
  EXPECT_EQ((*reopened)->ListSnapshots("x")->size(), 1u);
  EXPECT_EQ((*reopened)->GetVolumeInfo("e")->origin, "x@s1");
  EXPECT_FALSE((*reopened)->GetVolumeInfo("a"));
  auto check = (*reopened)->Check();
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean()) << check->Summary();
}

TEST_F(PoolApiParityTest, PoolAndVdevCallsAnswerAlike) {
  ASSERT_TRUE(Both("create", [](PoolApi& p, auto&) {
    return p.CreateVolume({.name = "a", .size = 16 * kMiB, .layout = "stripe:2"});
  }));
  ASSERT_TRUE(Both("status", [](PoolApi& p, auto&) { return p.GetPoolStatus(); }));
  ASSERT_TRUE(Both("check", [](PoolApi& p, auto&) { return p.Check(); }));
  for (InspectDepth depth : {InspectDepth::kQuick, InspectDepth::kScan, InspectDepth::kFull}) {
    ASSERT_TRUE(Both("inspect", [&](PoolApi& p, auto&) { return p.InspectVolume("a", depth, false); }));
  }
  BothFail("inspect unknown", Code::kNotFound,
           [](PoolApi& p, auto&) { return p.InspectVolume("nope", InspectDepth::kQuick, false); });
  int reports = 0;
  ASSERT_TRUE(Both("scrub", [&](PoolApi& p, auto&) { return p.Scrub([&](const Progress&) { reports++; }); }));
  EXPECT_GT(reports, 0);
  ASSERT_TRUE(Both("vdevs", [](PoolApi& p, auto&) { return p.ListVdevs(); }));
  BothFail("offline unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.OfflineVdev("nope"); });
  BothFail("online unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.OnlineVdev("nope"); });
  ASSERT_TRUE(Both("online online", [](PoolApi& p, auto&) { return p.OnlineVdev("vdev0"); }));
  BothFail("replace unknown", Code::kNotFound,
           [](PoolApi& p, auto&) { return p.ReplaceVdev("nope", "/nonexistent/new.img"); });
  ASSERT_TRUE(Both("close", [](PoolApi& p, auto&) { return p.Close(); }));
}

TEST_F(PoolApiParityTest, VdevAddAnswersAlike) {
  BothFail("taken name", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.AddVdev({.name = "vdev0", .path = "n.img", .size = 32 * kMiB}); });
  BothFail("taken path", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.AddVdev({.name = "x", .path = "vdev1.img", .size = 32 * kMiB}); });
  BothFail("unknown tier", Code::kInvalidArgument, [](PoolApi& p, auto&) {
    return p.AddVdev({.name = "x", .path = "n.img", .size = 32 * kMiB, .tier = "warm"});
  });
  BothFail("too small", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.AddVdev({.name = "x", .path = "n.img", .size = kMiB}); });
  BothFail("bad attribute", Code::kInvalidArgument, [](PoolApi& p, auto&) {
    return p.AddVdev({.name = "x", .path = "n.img", .size = 32 * kMiB, .attrs = {{"io", "fast"}}});
  });
  auto added = Both("add", [](PoolApi& p, auto&) {
    return p.AddVdev({.name = "d2", .path = "d2.img", .size = 32 * kMiB, .tier = "slow", .attrs = {{"host", "n1"}}});
  });
  ASSERT_TRUE(added);
  EXPECT_EQ(added->tier, "slow");
  EXPECT_EQ(added->attrs.at("host"), "n1");
  auto named = Both("default name", [](PoolApi& p, auto&) { return p.AddVdev({.path = "d3.img", .size = 32 * kMiB}); });
  ASSERT_TRUE(named);
  EXPECT_EQ(named->name, "vdev3");
  BothFail("again", Code::kInvalidArgument,
           [](PoolApi& p, auto&) { return p.AddVdev({.name = "d2", .path = "d4.img", .size = 32 * kMiB}); });
  BothFail("grow unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.GrowVdev("nope", 64 * kMiB); });
  BothFail("grow smaller", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.GrowVdev("d2", 16 * kMiB); });
  auto grown = Both("grow", [](PoolApi& p, auto&) { return p.GrowVdev("d2", 48 * kMiB); });
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->size_bytes, 48 * kMiB);
  // The new slow vdev is the data tier now: a new volume lands on it.
  ASSERT_TRUE(Both("volume on it", [](PoolApi& p, auto&) { return p.CreateVolume({.name = "s", .size = 16 * kMiB}); }));
  auto vdevs = Both("vdevs", [](PoolApi& p, auto&) { return p.ListVdevs(); });
  ASSERT_TRUE(vdevs);
  ASSERT_EQ(vdevs->size(), 4u);
  auto check = Both("check", [](PoolApi& p, auto&) { return p.Check(); });
  ASSERT_TRUE(check);
  EXPECT_TRUE(check->clean()) << check->Summary();
  // Remove: the steps (their count may differ with the server's background
  // commits), then the same answer for a removed vdev.
  BothFail("remove unknown", Code::kNotFound, [](PoolApi& p, auto&) { return p.RemoveVdev("nope"); });
  for (PoolApi* p : std::array<PoolApi*, 2>{local_.get(), remote_.get()}) {
    for (int step = 0;; step++) {
      auto removed = p->RemoveVdev("vdev3");
      ASSERT_TRUE(removed) << removed.error().ToString();
      if (removed->done) break;
      ASSERT_LT(step, 100);
    }
  }
  auto removed = Both("removed", [](PoolApi& p, auto&) { return p.RemoveVdev("vdev3"); });
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->phase, "removed");
  BothFail("offline removed", Code::kInvalidArgument, [](PoolApi& p, auto&) { return p.OfflineVdev("vdev3"); });
  // Rebalance: the steps, then the same answer once nothing is left to do.
  for (PoolApi* p : std::array<PoolApi*, 2>{local_.get(), remote_.get()}) {
    for (int step = 0;; step++) {
      auto rebalanced = p->RebalancePool();
      ASSERT_TRUE(rebalanced) << rebalanced.error().ToString();
      if (rebalanced->done) break;
      ASSERT_LT(step, 100);
    }
  }
  auto balanced = Both("balanced", [](PoolApi& p, auto&) { return p.RebalancePool(); });
  ASSERT_TRUE(balanced);
  EXPECT_TRUE(balanced->done);
  EXPECT_EQ(balanced->moved_bytes, 0u);
}

}  // namespace
}  // namespace tessera
