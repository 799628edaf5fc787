// A fixed set of worker threads that run groups of tasks side by side.
//
// RunAll(tasks) runs tasks[0] in the calling thread and the others on the
// workers, and returns when every task has finished. Used where one request
// fans out to several devices (Pool::Submit), so the devices work at the
// same time instead of one after another.
//
// Contract
//  1. RunAll never returns before all of its tasks finished; tasks may
//     reference the caller's stack.
//  2. Tasks must not throw and must not call RunAll on the same pool (a
//     worker waiting for workers could starve them all).
//  3. With every worker busy, a task waits in the queue; the caller helps
//     by running queued tasks of its own group while it waits, so RunAll
//     always makes progress.
//  4. The destructor finishes queued tasks, then joins the workers.
//  5. Workers start at the first RunAll that needs them, not in the
//     constructor: a process that forks after creating the pool (nbdkit
//     opens the pool, then daemonizes) loses no thread. Should a child still
//     inherit a started pool, it starts its own workers and never joins the
//     parent's, which do not exist in the child.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <sys/types.h>

namespace tessera {

class WorkerPool {
 public:
  explicit WorkerPool(size_t workers);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void RunAll(std::vector<std::function<void()>>& tasks);

 private:
  struct Group;
  struct Job {
    std::function<void()>* task;
    std::shared_ptr<Group> group;
  };
  void WorkerLoop();
  static void Run(const Job& job);
  // Contract 5: workers of this process, started now if need be.
  void EnsureWorkersLocked();

  const size_t worker_count_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Job> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  pid_t workers_pid_ = 0;  // GUARDED_BY(mu_): the process that started workers_
  std::vector<std::thread> workers_;  // GUARDED_BY(mu_)
};

}  // namespace tessera
