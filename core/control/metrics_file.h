// MetricsFile: keeps a file holding a pool's I/O counters in the Prometheus
// text format (metrics_text.h), rewritten every interval, for node
// exporter's textfile collector (`tessera serve --metrics-file PATH`).
//
// Contract
//  1. Each rewrite is atomic (a temporary file renamed over PATH, mode
//     0644): a reader sees a whole old or a whole new file.
//  2. Start writes the file once before it returns (an unwritable PATH is an
//     error then), then a thread rewrites it every `interval`; a later
//     failure is logged and retried at the next interval.
//  3. Stop (or the destructor) ends the thread and writes the file a last
//     time; the `pool` must outlive the MetricsFile.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/volume/pool_api.h"

namespace tessera {

class MetricsFile {
 public:
  static Result<std::unique_ptr<MetricsFile>> Start(PoolApi& pool, std::string path,
                                                    std::chrono::milliseconds interval);
  ~MetricsFile();
  void Stop();

 private:
  MetricsFile(PoolApi& pool, std::string path, std::chrono::milliseconds interval)
      : pool_(pool), path_(std::move(path)), interval_(interval) {}
  Status WriteOnce();
  void Loop();

  PoolApi& pool_;
  const std::string path_;
  const std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace tessera
