// --json on every command that prints a result, and the exit status table
// (admin/cli.h; docs/admin-guide.md, "Output, errors and exit statuses").
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include "core/control/protocol.h"
#include "core/volume/storage.h"
#include "tests/unit/admin/cli_test_util.h"

namespace tessera {
namespace {

class CliJsonTest : public CliTest {
 protected:
  // Runs a command with --json; it must succeed and print one JSON document
  // on stdout (progress may go to stderr).
  Json Run(std::vector<std::string> args) {
    args.push_back("--json");
    std::string joined = fmt::format("{}", fmt::join(args, " "));
    CliRun run = InPool(std::move(args));
    EXPECT_EQ(run.code, 0) << joined << ": " << run.err;
    Json json = Json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << joined << " printed no JSON: " << run.out;
    return json;
  }
  // Runs a command with --json that must fail with `status`; returns its
  // error document (stderr), and checks stdout is empty.
  Json Fail(std::vector<std::string> args, int status) {
    args.push_back("--json");
    std::string joined = fmt::format("{}", fmt::join(args, " "));
    CliRun run = InPool(std::move(args));
    EXPECT_EQ(run.code, status) << joined << ": " << run.err;
    EXPECT_EQ(run.out, "") << joined;
    Json json = Json::parse(run.err, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(json.is_discarded()) << joined << " printed no JSON error: " << run.err;
    if (json.is_discarded()) return Json::object();
    EXPECT_EQ(json["error"]["exit_status"], status) << joined;
    EXPECT_FALSE(json["error"]["message"].get<std::string>().empty()) << joined;
    return json;
  }
};

TEST_F(CliJsonTest, EveryResultIsOneDocument) {
  Json pool = Run({"pool", "create", "--vdev", "tier=fastest,path=meta.img,size=64M", "--vdev",
                   "tier=slow,path=a.img,size=256M", "--vdev", "tier=slow,path=b.img,size=256M"});
  EXPECT_EQ(pool["vdevs"].size(), 3u);
  EXPECT_EQ(pool["volumes"], 0);

  Json created = Run({"volume", "create", "v", "--size", "32M", "--layout", "rs:1+1"});
  EXPECT_EQ(created["name"], "v");
  EXPECT_EQ(created["size"], 32 << 20);
  EXPECT_EQ(Run({"volume", "info", "v"})["name"], "v");
  EXPECT_EQ(Run({"volume", "resize", "v", "64M"})["size"], 64 << 20);
  EXPECT_EQ(Run({"volume", "rename", "v", "w"})["name"], "w");
  EXPECT_EQ(Run({"volume", "list"})[0]["name"], "w");
  Json exnode = Run({"exnode", "show", "w"});
  EXPECT_EQ(exnode["volume"], "w");
  EXPECT_NE(exnode["exnode"].get<std::string>().find("[exnode]"), std::string::npos);

  Json snapshot = Run({"snapshot", "create", "w@s"});
  EXPECT_EQ(snapshot["name"], "s");
  EXPECT_NE(snapshot["guid"], 0);
  EXPECT_EQ(Run({"snapshot", "list", "w"})[0]["name"], "s");
  EXPECT_EQ(Run({"clone", "w@s", "c"})["origin"], "w@s");
  Json flattened = Run({"volume", "flatten", "c"});
  EXPECT_EQ(flattened["name"], "c");
  EXPECT_EQ(flattened["origin"], "");
  EXPECT_TRUE(flattened.contains("copied_bytes"));
  EXPECT_EQ(Run({"snapshot", "rollback", "w@s"})["rolled_back_to"], "w@s");
  Run({"snapshot", "create", "w@newer"});
  EXPECT_EQ(Run({"snapshot", "rollback", "w@s"})["rolled_back_to"], "w@s");
  EXPECT_EQ(Run({"snapshot", "list", "w"}).size(), 2u) << "the newer snapshot was kept";
  EXPECT_EQ(Fail({"snapshot", "rollback", "w"}, 2)["error"]["code"], "InvalidArgument");
  EXPECT_EQ(Run({"snapshot", "rollback", "w@s", "-r"})["rolled_back_to"], "w@s");
  EXPECT_EQ(Run({"snapshot", "list", "w"}).size(), 1u) << "-r deleted the newer snapshot";
  EXPECT_TRUE(Run({"diff", "w@s"}).is_object());

  EXPECT_EQ(Run({"vdev", "list"}).size(), 3u);
  Json offline = Run({"vdev", "offline", "vdev1"});
  EXPECT_EQ(offline["name"], "vdev1");
  EXPECT_EQ(offline["state"], "offline");
  EXPECT_EQ(Run({"vdev", "online", "vdev1"})["state"], "online");

  EXPECT_TRUE(Run({"pool", "status"}).contains("vdevs"));
  EXPECT_EQ(Run({"pool", "check"})["clean"], true);
  EXPECT_TRUE(Run({"pool", "scrub"}).is_object());
  EXPECT_TRUE(Run({"volume", "inspect", "w"}).is_object());

  EXPECT_EQ(Run({"snapshot", "delete", "w@s"})["deleted"], "w@s");
  EXPECT_EQ(Run({"volume", "delete", "c"})["deleted"], "c");
  EXPECT_EQ(Run({"volume", "delete", "w"})["deleted"], "w");
}

TEST_F(CliJsonTest, ErrorsAreOneDocumentWithTheStatusOfTheirCode) {
  EXPECT_EQ(Fail({"volume", "list"}, 3)["error"]["code"], "NotFound");  // no pool yet
  CreatePool();
  EXPECT_EQ(Fail({"volume", "info", "ghost"}, 3)["error"]["code"], "NotFound");
  EXPECT_EQ(Fail({"snapshot", "delete", "ghost@s"}, 3)["error"]["code"], "NotFound");
  ASSERT_EQ(InPool({"volume", "create", "v", "--size", "16M"}).code, 0);
  EXPECT_EQ(Fail({"volume", "create", "v", "--size", "16M"}, 2)["error"]["code"],
            "InvalidArgument");
  EXPECT_EQ(Fail({"volume", "resize", "v@s", "32M"}, 2)["error"]["code"], "InvalidArgument");
  {
    auto storage = Storage::Open(dir_);  // the pool is now in use by "another process"
    ASSERT_TRUE(storage) << storage.error().ToString();
    EXPECT_EQ(Fail({"volume", "list"}, 4)["error"]["code"], "Busy");
    ASSERT_TRUE((*storage)->Close());
  }
  // Without --json the same error is one line on stderr.
  CliRun plain = InPool({"volume", "info", "ghost"});
  EXPECT_EQ(plain.code, 3);
  EXPECT_EQ(plain.out, "");
  EXPECT_TRUE(plain.err.starts_with("tessera: error: ")) << plain.err;
}

TEST(ExitStatus, EveryCodeHasItsOwnStatusButIOErrorAndCorruption) {
  EXPECT_EQ(ExitStatusOf(Code::kIOError), 1);
  EXPECT_EQ(ExitStatusOf(Code::kCorruption), 1);
  EXPECT_EQ(ExitStatusOf(Code::kInvalidArgument), 2);
  EXPECT_EQ(ExitStatusOf(Code::kNotFound), 3);
  EXPECT_EQ(ExitStatusOf(Code::kBusy), 4);
  EXPECT_EQ(ExitStatusOf(Code::kNoSpace), 5);
  EXPECT_EQ(ExitStatusOf(Code::kReadOnly), 6);
  EXPECT_EQ(ExitStatusOf(Code::kPermissionDenied), 7);
}

}  // namespace
}  // namespace tessera
