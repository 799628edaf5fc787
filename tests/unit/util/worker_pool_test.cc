#include "core/util/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <latch>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

namespace tessera {
namespace {

// The tasks of one RunAll run at the same time: each waits at a latch that
// opens only when all of them have arrived, which one thread alone could
// never do.
TEST(WorkerPool, RunsAGroupSideBySide) {
  WorkerPool pool(3);
  std::latch all_arrived(4);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::vector<std::function<void()>> tasks;
  for (int i = 0; i < 4; i++) {
    tasks.push_back([&] {
      all_arrived.arrive_and_wait();
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
    });
  }
  pool.RunAll(tasks);
  EXPECT_EQ(threads.size(), 4u);
  EXPECT_TRUE(threads.count(std::this_thread::get_id())) << "the first task runs in the caller";
}

// More tasks than workers, and several callers at once: every task runs
// exactly once and RunAll returns only after all of its own.
TEST(WorkerPool, EveryTaskRunsOnceUnderLoad) {
  WorkerPool pool(2);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; c++) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; round++) {
        std::vector<int> ran(10, 0);
        std::vector<std::function<void()>> tasks;
        for (int i = 0; i < 10; i++) tasks.push_back([&ran, &total, i] { ran[i]++; total++; });
        pool.RunAll(tasks);
        for (int i = 0; i < 10; i++) ASSERT_EQ(ran[i], 1) << "task " << i;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4 * 50 * 10);
}

// A child forked after the pool ran tasks gets workers of its own: its
// RunAll still runs tasks side by side, and its exit does not wait for the
// parent's threads.
TEST(WorkerPool, AForkedChildStartsItsOwnWorkers) {
  WorkerPool pool(2);
  std::vector<std::function<void()>> warm(3, [] {});
  pool.RunAll(warm);  // the parent's workers exist now
  // Let them settle into their wait (holding no lock) before forking.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::latch all_arrived(3);
    std::vector<std::function<void()>> tasks(3, [&] { all_arrived.arrive_and_wait(); });
    pool.RunAll(tasks);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(WorkerPool, NoWorkersRunsEverythingInTheCaller) {
  WorkerPool pool(0);
  int ran = 0;
  std::vector<std::function<void()>> tasks(3, [&] { ran++; });
  pool.RunAll(tasks);
  EXPECT_EQ(ran, 3);
}

}  // namespace
}  // namespace tessera
