#include "core/control/metrics_file.h"

#include "core/control/metrics_text.h"
#include "core/util/atomic_file.h"
#include "core/util/log.h"

namespace tessera {

Result<std::unique_ptr<MetricsFile>> MetricsFile::Start(PoolApi& pool, std::string path,
                                                        std::chrono::milliseconds interval) {
  std::unique_ptr<MetricsFile> file(new MetricsFile(pool, std::move(path), interval));
  TRY_STATUS(file->WriteOnce());  // contract 2
  file->thread_ = std::thread([raw = file.get()] { raw->Loop(); });
  return file;
}

MetricsFile::~MetricsFile() { Stop(); }

void MetricsFile::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (Status last = WriteOnce(); !last) Log(LogLevel::kWarn, "{}", last.error().ToString());
}

Status MetricsFile::WriteOnce() {
  PoolIoReport report = TRY(pool_.GetIoReport());
  auto written = WriteFileAtomically(path_, FormatPrometheus(report), 0644);
  if (!written) return Err(written.error().WithContext(fmt::format("metrics file {}", path_)));
  return Ok();
}

void MetricsFile::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    if (Status written = WriteOnce(); !written) Log(LogLevel::kWarn, "{}", written.error().ToString());
    lock.lock();
  }
}

}  // namespace tessera
