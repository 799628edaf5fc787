#include "admin/cli.h"

#include <gtest/gtest.h>

#include "core/control/protocol.h"
#include "core/control/server.h"
#include "core/volume/storage.h"
#include "tests/unit/admin/cli_test_util.h"

namespace tessera {
namespace {

TEST_F(CliTest, HelpWorksOnEveryCommand) {
  const std::vector<std::vector<std::string>> commands = {{},
                                                          {"pool"},
                                                          {"pool", "create"},
                                                          {"pool", "status"},
                                                          {"pool", "check"},
                                                          {"volume"},
                                                          {"volume", "create"},
                                                          {"volume", "list"},
                                                          {"volume", "info"},
                                                          {"volume", "resize"},
                                                          {"volume", "delete"},
                                                          {"exnode", "show"},
                                                          {"serve"},
                                                          {"attach"},
                                                          {"detach"}};
  for (auto args : commands) {
    args.push_back("--help");
    CliRun run = Tessera(args);
    EXPECT_EQ(run.code, 0) << args.front();
    EXPECT_NE(run.out.find("Usage"), std::string::npos) << run.out;
  }
  CliRun create_help = Tessera({"pool", "create", "--help"});
  EXPECT_NE(create_help.out.find("--vdev"), std::string::npos);
  EXPECT_NE(create_help.out.find("--pool"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwoAndChangeNothing) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"pool"},
      {"pool", "create", "--vdevs", "0"},
      {"pool", "create", "--vdevs", "2000"},
      {"pool", "create", "--size", "huge"},
      {"pool", "create", "--size", "1M"},
      {"pool", "create", "--vdevs", "2", "--vdev", "path=a,size=1G"},
      {"pool", "create", "--vdev", "path=a"},
      {"pool", "create", "--vdev", "tier=warm,path=a,size=1G"},
      {"pool", "create", "--vdev", "path=a,size=1G", "--vdev", "path=a,size=1G"},
      {"pool", "create", "--bogus"},
      {"volume", "create", "v"},
      {"volume", "create", "--size", "1G"},
      {"volume", "create", "v", "--size", "1Q"},
      {"volume", "create", "v", "--size", "0"},
      {"volume", "create", "v", "--size", "1G", "--layout", "stripe:0"},
      {"volume", "create", "v", "--size", "1G", "--tier", "warm"},
      {"volume", "resize", "v"},
      {"volume", "resize", "v", "big"},
      {"volume", "info"},
      {"volume", "list", "extra"},
      {"exnode", "show"},
      {"serve", "--listen", "127.0.0.1:70000"},
      {"serve", "--listen", "127.0.0.1:http"},
      {"serve", "--listen", "10809"},
      {"serve", "--listen", "::1:10809"},
      {"serve", "--listen", "127.0.0.1:0", "--tls-psk", "k", "--insecure"},
      {"serve", "--listen", "127.0.0.1:0", "--tls-psk", "k", "--tls-certificates", "d"},
      {"serve", "--listen", "127.0.0.1:0", "--tls-psk", "k", "--tls-verify-peer"},
      {"attach"},
  };
  for (auto args : bad) {
    args.push_back("--pool");
    args.push_back(dir_);
    CliRun run = Tessera(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(run.code, 2) << joined << "\n" << run.err;
    EXPECT_FALSE(run.err.empty()) << joined;
    EXPECT_FALSE(fs::exists(dir_)) << joined;
  }
}

TEST_F(CliTest, PoolAndVolumeLifecycle) {
  CliRun created = Tessera({"pool", "create", "--pool", dir_, "--vdevs", "2", "--size", "128M"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_NE(created.out.find("vdev0.img"), std::string::npos) << created.out;
  EXPECT_NE(created.out.find("vdev1.img"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir_ + "/pool.conf"));

  CliRun again = Tessera({"pool", "create", "--pool", dir_, "--size", "128M"});
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;

  CliRun vol = InPool({"volume", "create", "vol1", "--size", "64M", "--tier", "fastest"});
  ASSERT_EQ(vol.code, 0) << vol.err;
  EXPECT_NE(vol.out.find("created volume vol1"), std::string::npos);

  CliRun list = InPool({"volume", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  auto volumes = ListFromJson<VolumeInfo>(Json::parse(list.out));
  ASSERT_TRUE(volumes) << list.out;
  ASSERT_EQ(volumes->size(), 1u);
  EXPECT_EQ((*volumes)[0].size, 64u << 20);
  CliRun table = InPool({"volume", "list"});
  EXPECT_EQ(table.out.rfind("NAME", 0), 0u) << table.out;

  EXPECT_EQ(InPool({"volume", "resize", "vol1", "128M"}).code, 0);
  CliRun shrink = InPool({"volume", "resize", "vol1", "64M"});
  EXPECT_NE(shrink.code, 0);
  EXPECT_FALSE(shrink.err.empty());
  CliRun info = InPool({"volume", "info", "vol1", "--json"});
  ASSERT_EQ(info.code, 0);
  EXPECT_EQ(Json::parse(info.out)["size"], 128u << 20);
  EXPECT_EQ(InPool({"volume", "resize", "vol1", "64M", "--force"}).code, 0);

  CliRun exnode = InPool({"exnode", "show", "vol1"});
  ASSERT_EQ(exnode.code, 0) << exnode.err;
  EXPECT_NE(exnode.out.find("[exnode]"), std::string::npos);

  CliRun status = InPool({"pool", "status", "--json"});
  ASSERT_EQ(status.code, 0) << status.err;
  auto pool_status = FromJson<PoolStatus>(Json::parse(status.out));
  ASSERT_TRUE(pool_status);
  EXPECT_EQ(pool_status->vdevs.size(), 2u);
  EXPECT_EQ(pool_status->volumes, 1u);

  CliRun check = InPool({"pool", "check"});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("pool is clean"), std::string::npos);
  CliRun check_json = InPool({"pool", "check", "--json"});
  EXPECT_EQ(Json::parse(check_json.out)["clean"], true);

  CliRun missing = InPool({"volume", "info", "ghost"});
  EXPECT_EQ(missing.code, 3);
  EXPECT_NE(missing.err.find("tessera: error:"), std::string::npos);

  EXPECT_EQ(InPool({"volume", "delete", "vol1"}).code, 0);
  EXPECT_EQ(InPool({"volume", "list"}).out, "no volumes\n");
}

TEST_F(CliTest, VdevSpecsBuildTheirPool) {
  CliRun created = Tessera({"pool", "create", "--pool", dir_, "--vdev",
                            "tier=fastest,path=meta.img,size=64M,host=h1", "--vdev",
                            "tier=slow,path=data.img,size=256M,name=data"});
  ASSERT_EQ(created.code, 0) << created.err;
  CliRun status = InPool({"pool", "status", "--json"});
  ASSERT_EQ(status.code, 0) << status.err;
  Json json = Json::parse(status.out);
  ASSERT_EQ(json["vdevs"].size(), 2u);
  EXPECT_EQ(json["vdevs"][0]["attrs"]["host"], "h1");
  EXPECT_EQ(json["vdevs"][1]["name"], "data");
  EXPECT_EQ(json["vdevs"][1]["tier"], "slow");
}

TEST_F(CliTest, NoPoolIsAClearError) {
  CliRun run = InPool({"volume", "list"});
  EXPECT_EQ(run.code, 3);
  EXPECT_NE(run.err.find("no pool at " + dir_), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(CliTest, TalksToARunningServerElseSaysThePoolIsBusy) {
  CreatePool();
  auto storage = Storage::Open(dir_);
  ASSERT_TRUE(storage) << storage.error().ToString();

  CliRun busy = InPool({"volume", "list"});
  EXPECT_EQ(busy.code, 4);
  EXPECT_NE(busy.err.find("in use by another process"), std::string::npos) << busy.err;

  auto server = ControlServer::Start(**storage, dir_ + "/control.sock");
  ASSERT_TRUE(server) << server.error().ToString();
  CliRun created = InPool({"volume", "create", "remote", "--size", "32M"});
  ASSERT_EQ(created.code, 0) << created.err;
  EXPECT_TRUE((*storage)->GetVolumeInfo("remote"));  // made by the server's Storage
  CliRun list = InPool({"volume", "list", "--json"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(Json::parse(list.out)[0]["name"], "remote");
  (*server)->Stop();
  ASSERT_TRUE((*storage)->Close());
}

}  // namespace
}  // namespace tessera
