#include "admin/output.h"

#include <gtest/gtest.h>

#include "admin/attach_state.h"

namespace tessera {
namespace {

TEST(Table, AlignsColumnsWithoutTrailingSpaces) {
  Table table({{"NAME"}, {"SIZE", Table::Align::kRight}, {"NOTE"}});
  table.AddRow({"a", "10G", ""});
  table.AddRow({"longer-name", "512", "x"});
  table.AddRow({"short"});
  EXPECT_EQ(table.Render(),
            "NAME         SIZE  NOTE\n"
            "a             10G\n"
            "longer-name   512  x\n"
            "short\n");
}

TEST(Output, VolumeTableAndInfo) {
  std::vector<VolumeInfo> volumes = {{.name = "vol1",
                                      .id = 1,
                                      .size = 1ull << 30,
                                      .layout = "simple",
                                      .tier = "fastest",
                                      .mapped_bytes = 4096,
                                      .allocated_bytes = 32ull << 20,
                                      .open = true}};
  std::string table = FormatVolumeTable(volumes);
  EXPECT_EQ(table.substr(0, table.find('\n')),
            "NAME  SIZE  LAYOUT  TIER     MAPPED  ALLOCATED  OPEN");
  EXPECT_NE(table.find("vol1    1G  simple  fastest      4K        32M  yes"), std::string::npos)
      << table;
  EXPECT_EQ(FormatVolumeTable({}), "no volumes\n");
  std::string info = FormatVolumeInfo(volumes[0]);
  EXPECT_NE(info.find("size:       1G (1073741824 bytes)"), std::string::npos) << info;
  EXPECT_NE(info.find("open:       yes"), std::string::npos);
}

TEST(Output, PoolStatusListsVdevs) {
  PoolStatus status{.name = "default",
                    .uuid = "u",
                    .txg = 9,
                    .size_bytes = 2ull << 30,
                    .vdevs = {{.name = "vdev0",
                               .path = "/p/vdev0.img",
                               .tier = "fastest",
                               .size_bytes = 1ull << 30,
                               .state = "online",
                               .attrs = {{"host", "h"}}}}};
  std::string text = FormatPoolStatus(status);
  EXPECT_NE(text.find("txg:      9"), std::string::npos);
  EXPECT_NE(text.find("vdev0  fastest      0    1G     0  online      0/0/0  /p/vdev0.img  host=h"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("health:   online"), std::string::npos) << text;
  EXPECT_EQ(text.find("not online"), std::string::npos) << text;

  status.metadata_copies = status.metadata_copies_written = 3;
  text = FormatPoolStatus(status);
  EXPECT_NE(text.find("metadata: 3 copies of each tree node\n"), std::string::npos) << text;
  status.metadata_copies_written = 2;
  text = FormatPoolStatus(status);
  EXPECT_NE(text.find("metadata: 3 copies of each tree node (new nodes get 2: too few metadata vdevs online)"),
            std::string::npos)
      << text;

  status.health = "degraded";
  status.vdevs[0].state = "missing";
  status.vdevs[0].checksum_errors = 3;
  status.degraded_volumes = {{.name = "vol0", .state = "degraded", .rows = 2, .vdevs = {"vdev0"}}};
  text = FormatPoolStatus(status);
  EXPECT_NE(text.find("missing      0/0/3"), std::string::npos) << text;
  EXPECT_NE(text.find("vol0    degraded     2  vdev0"), std::string::npos) << text;
}

TEST(Output, CheckReportListsEveryProblem) {
  CheckReport report;
  EXPECT_NE(FormatCheckReport(report).find("pool is clean"), std::string::npos);
  report.leaks = {"fastest:0:9"};
  report.checksum_failures = {"node fastest:0:3"};
  std::string text = FormatCheckReport(report);
  EXPECT_NE(text.find("  leak: fastest:0:9\n"), std::string::npos);
  EXPECT_NE(text.find("  checksum failure: node fastest:0:3\n"), std::string::npos);
  EXPECT_NE(text.find("pool has 2 problems"), std::string::npos);
}

TEST(Output, JsonIsPrettyAndEndsInANewline) {
  EXPECT_EQ(FormatJson(Json{{"a", 1}}), "{\n  \"a\": 1\n}\n");
}

TEST(AttachState, RoundTripsAndRejectsBadRecords) {
  AttachState state{.name = "v",
                    .method = "nbdfuse",
                    .device = "/dev/loop3",
                    .socket = "/p/nbd.sock",
                    .mountpoint = "/p/mnt/v",
                    .pid = 1234};
  auto back = AttachStateFromJson(AttachStateToJson(state));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, state);
  Json bad = AttachStateToJson(state);
  bad["method"] = "teleport";
  EXPECT_FALSE(AttachStateFromJson(bad));
  bad = AttachStateToJson(state);
  bad.erase("device");
  EXPECT_FALSE(AttachStateFromJson(bad));
  bad = AttachStateToJson(state);
  bad["pid"] = -5;
  EXPECT_FALSE(AttachStateFromJson(bad));
}

TEST(AttachState, FileSafeNamesAreOneDistinctComponent) {
  EXPECT_EQ(FileSafeName("vol-1_a.b"), "vol-1_a.b");
  EXPECT_EQ(FileSafeName(".."), "%2E.");
  EXPECT_EQ(FileSafeName("."), "%2E");
  EXPECT_EQ(FileSafeName("a/b"), "a%2Fb");
  EXPECT_EQ(FileSafeName(""), "%");
  EXPECT_NE(FileSafeName("a b"), FileSafeName("a%20b"));
  std::string long1(300, 'x'), long2 = long1;
  long2.back() = 'y';
  EXPECT_LE(FileSafeName(long1).size(), 200u);
  EXPECT_NE(FileSafeName(long1), FileSafeName(long2));
}

}  // namespace
}  // namespace tessera
