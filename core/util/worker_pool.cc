// WorkerPool: see worker_pool.h.
//
// Design notes
//  1. A group counts its unfinished tasks under its own mutex; the caller
//     waits on the group's condition variable, not on the pool's.
//  2. While waiting, the caller takes its own group's tasks back from the
//     queue (contract 3), so a full pool delays a group but never stalls it.
#include "core/util/worker_pool.h"

#include <unistd.h>

#include <algorithm>

namespace tessera {

struct WorkerPool::Group {
  std::mutex mu;
  std::condition_variable done_cv;
  size_t pending = 0;  // GUARDED_BY(mu)
};

WorkerPool::WorkerPool(size_t workers) : worker_count_(workers) {}

WorkerPool::~WorkerPool() {
  std::vector<std::thread> mine;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (workers_pid_ == ::getpid()) {
      mine = std::move(workers_);
    } else {
      for (auto& t : workers_) t.detach();  // a parent's threads (contract 5)
    }
  }
  work_cv_.notify_all();
  for (auto& t : mine) t.join();
}

void WorkerPool::EnsureWorkersLocked() {
  const pid_t pid = ::getpid();
  if (workers_pid_ == pid) return;
  for (auto& t : workers_) t.detach();  // started by the parent before a fork
  workers_.clear();
  workers_pid_ = pid;
  for (size_t i = 0; i < worker_count_; i++) workers_.emplace_back([this] { WorkerLoop(); });
}

void WorkerPool::Run(const Job& job) {
  (*job.task)();
  std::lock_guard lock(job.group->mu);
  if (--job.group->pending == 0) job.group->done_cv.notify_all();
}

void WorkerPool::WorkerLoop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(job);
  }
}

void WorkerPool::RunAll(std::vector<std::function<void()>>& tasks) {
  if (tasks.empty()) return;
  if (tasks.size() == 1 || worker_count_ == 0) {
    for (auto& task : tasks) task();
    return;
  }
  auto group = std::make_shared<Group>();
  group->pending = tasks.size() - 1;
  {
    std::lock_guard lock(mu_);
    EnsureWorkersLocked();
    for (size_t i = 1; i < tasks.size(); i++) queue_.push_back(Job{&tasks[i], group});
  }
  work_cv_.notify_all();
  tasks[0]();
  // Design note 2: run our own tasks that no worker has taken yet.
  for (;;) {
    Job mine;
    {
      std::lock_guard lock(mu_);
      auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Job& j) { return j.group == group; });
      if (it == queue_.end()) break;
      mine = std::move(*it);
      queue_.erase(it);
    }
    Run(mine);
  }
  std::unique_lock lock(group->mu);
  group->done_cv.wait(lock, [&] { return group->pending == 0; });
}

}  // namespace tessera
