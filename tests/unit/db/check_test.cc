// Database::Check against root-tree records that do not decode.
#include <gtest/gtest.h>

#include "tests/unit/db/db_test_util.h"

namespace tessera::testing {
namespace {

// The key of the first entry of the dataset's dead lists ("" if none).
std::string FirstDeadKey(Tree& root_tree, uint64_t dataset_id) {
  std::string prefix = DeadListsPrefix(dataset_id);
  std::string first;
  auto take_first = [&](std::string_view key, std::string_view) {
    first = std::string(key);
    return false;
  };
  EXPECT_TRUE(root_tree.Scan(prefix, PrefixEnd(prefix), take_first));
  return first;
}

TEST(Check, ReportsUndecodableDeadListEntry) {
  TestPool tp;
  auto db = std::move(*tp.Create());
  Dataset* ds = *db->CreateDataset("vol");
  for (int i = 0; i < 500; i++) ASSERT_TRUE(ds->tree().Insert(fmt::format("k{:04}", i), "a"));
  ASSERT_TRUE(db->CreateSnapshot("vol", "s"));
  for (int i = 0; i < 500; i++) ASSERT_TRUE(ds->tree().Insert(fmt::format("k{:04}", i), "b"));
  ASSERT_TRUE(db->Commit());
  ExpectClean(*db);

  Tree& root_tree = DatabaseTestPeer::RootTree(*db);
  std::string key = FirstDeadKey(root_tree, ds->id());
  ASSERT_FALSE(key.empty()) << "rewriting the tree after a snapshot leaves dead-list entries";
  ASSERT_TRUE(root_tree.Insert(key, "seven b"));  // an entry is 20 or more bytes

  auto report = db->Check();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->clean()) << report->Summary();
  ASSERT_EQ(report->checksum_failures.size(), 1u) << report->Summary();
  EXPECT_NE(report->checksum_failures[0].find("dead list entry"), std::string::npos)
      << report->checksum_failures[0];
}

}  // namespace
}  // namespace tessera::testing
