#include "core/db/lock_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace tessera {
namespace {

using namespace std::chrono_literals;

TEST(LockManager, CompatibilityMatrix) {
  EXPECT_TRUE(LockModesCompatible(LockMode::kRead, LockMode::kReadSharedWriteExclusive));
  EXPECT_TRUE(LockModesCompatible(LockMode::kReadSharedWriteShared, LockMode::kReadSharedWriteShared));
  EXPECT_FALSE(LockModesCompatible(LockMode::kReadSharedWriteExclusive, LockMode::kReadSharedWriteExclusive));
  EXPECT_FALSE(LockModesCompatible(LockMode::kReadSharedWriteExclusive, LockMode::kReadSharedWriteShared));
  EXPECT_FALSE(LockModesCompatible(LockMode::kReadExclusiveWriteExclusive, LockMode::kRead));
  // Symmetric.
  for (int a = 0; a < 5; a++) {
    for (int b = 0; b < 5; b++) {
      EXPECT_EQ(LockModesCompatible(LockMode(a), LockMode(b)), LockModesCompatible(LockMode(b), LockMode(a)));
    }
  }
}

TEST(LockManager, ExportExcludesSecondWriterButAllowsReaders) {
  LockManager lm;
  TxnId exporter = lm.BeginTransaction("export vol0");
  TxnId reader = lm.BeginTransaction("snapshot reader");
  TxnId rollback = lm.BeginTransaction("rollback vol0");
  ASSERT_TRUE(lm.Acquire(exporter, "vol0", LockMode::kReadSharedWriteExclusive));
  EXPECT_TRUE(lm.Acquire(reader, "vol0", LockMode::kRead));
  auto refused = lm.Acquire(rollback, "vol0", LockMode::kReadExclusiveWriteExclusive);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Code::kBusy);
  EXPECT_NE(refused.error().message().find("export vol0"), std::string::npos) << refused.error().message();
  EXPECT_TRUE(lm.Acquire(rollback, "vol1", LockMode::kReadExclusiveWriteExclusive));
  EXPECT_EQ(lm.Holders("vol0").size(), 2u);
}

TEST(LockManager, DatabaseExclusiveExcludesEverything) {
  LockManager lm;
  TxnId a = lm.BeginTransaction("a");
  TxnId b = lm.BeginTransaction("b");
  ASSERT_TRUE(lm.Acquire(a, "vol0", LockMode::kRead));
  EXPECT_FALSE(lm.Acquire(b, std::string(kDatabaseResource), LockMode::kDatabaseExclusive));
  lm.EndTransaction(a);
  ASSERT_TRUE(lm.Acquire(b, std::string(kDatabaseResource), LockMode::kDatabaseExclusive));
  TxnId c = lm.BeginTransaction("c");
  EXPECT_FALSE(lm.Acquire(c, "vol7", LockMode::kRead));
}

TEST(LockManager, TwoPhaseForbidsLockAfterUnlock) {
  LockManager lm;
  TxnId t = lm.BeginTransaction("t");
  ASSERT_TRUE(lm.Acquire(t, "a", LockMode::kRead));
  ASSERT_TRUE(lm.Release(t, "a"));
  auto again = lm.Acquire(t, "b", LockMode::kRead);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("two-phase"), std::string::npos);
  EXPECT_EQ(lm.Release(t, "a").error().code(), Code::kNotFound);
}

TEST(LockManager, WaiterIsWokenWhenHolderEnds) {
  LockManager lm;
  TxnId a = lm.BeginTransaction("a");
  TxnId b = lm.BeginTransaction("b");
  ASSERT_TRUE(lm.Acquire(a, "x", LockMode::kReadExclusiveWriteExclusive));
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = lm.Acquire(b, "x", LockMode::kRead, 10s).has_value(); });
  while (!lm.IsWaiting(b)) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(got);
  lm.EndTransaction(a);
  waiter.join();
  EXPECT_TRUE(got);
}

TEST(LockManager, DeadlockIsDetectedImmediately) {
  LockManager lm;
  TxnId a = lm.BeginTransaction("a");
  TxnId b = lm.BeginTransaction("b");
  ASSERT_TRUE(lm.Acquire(a, "x", LockMode::kReadExclusiveWriteExclusive));
  ASSERT_TRUE(lm.Acquire(b, "y", LockMode::kReadExclusiveWriteExclusive));
  std::atomic<int> a_result{-1};
  // a waits for y (held by b) ...
  std::thread ta([&] { a_result = lm.Acquire(a, "y", LockMode::kRead, 10s).has_value() ? 1 : 0; });
  while (!lm.IsWaiting(a)) std::this_thread::sleep_for(1ms);
  // ... so b asking for x would close the cycle: refused at once.
  auto cycle = lm.Acquire(b, "x", LockMode::kRead, 10s);
  ASSERT_FALSE(cycle);
  EXPECT_NE(cycle.error().message().find("deadlock"), std::string::npos) << cycle.error().message();
  lm.EndTransaction(b);  // b aborts; a proceeds
  ta.join();
  EXPECT_EQ(a_result, 1);
}

}  // namespace
}  // namespace tessera
