#include "core/volume/open_table.h"

#include "core/volume/volume_impl.h"

namespace tessera {

std::shared_ptr<VolumeImpl> OpenTable::NewHandle(Entry& entry) {
  auto holder = std::make_shared<std::shared_ptr<VolumeImpl>>(entry.object);
  std::shared_ptr<VolumeImpl> handle(holder, holder->get());
  entry.handle = handle;
  return handle;
}

std::shared_ptr<VolumeImpl> OpenTable::Acquire(const std::string& name) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = entries_.find(name);
    if (it == entries_.end()) return nullptr;
    if (it->second.closing) {
      closed_.wait(lock);
      continue;
    }
    if (auto handle = it->second.handle.lock()) return handle;
    return NewHandle(it->second);
  }
}

bool OpenTable::InUse(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  return it != entries_.end() && !it->second.closing && !it->second.handle.expired();
}

std::shared_ptr<VolumeImpl> OpenTable::Add(const std::string& name, std::shared_ptr<VolumeImpl> object) {
  std::lock_guard lock(mu_);
  Entry& entry = entries_[name];
  entry.object = std::move(object);
  return NewHandle(entry);
}

Status OpenTable::Finish(const std::string& name) {
  std::unique_lock lock(mu_);
  for (;;) {
    auto it = entries_.find(name);
    if (it == entries_.end()) return Ok();
    if (it->second.closing) {
      closed_.wait(lock);
      continue;
    }
    if (!it->second.handle.expired()) return Ok();
    return CloseLocked(lock, name);
  }
}

Status OpenTable::FinishIdle() {
  Status first = Ok();
  for (const std::string& name : Names()) {
    Status status = Finish(name);
    if (!status && first) first = status;
  }
  return first;
}

Status OpenTable::CloseLocked(std::unique_lock<std::mutex>& lock, const std::string& name) {
  Entry& entry = entries_.at(name);
  entry.closing = true;
  VolumeImpl* object = entry.object.get();  // the entry keeps it alive until erased
  lock.unlock();
  Status status = object->Close();
  lock.lock();
  EraseLocked(lock, name);
  closed_.notify_all();
  return status;
}

void OpenTable::EraseLocked(std::unique_lock<std::mutex>& lock, const std::string& name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return;
  std::shared_ptr<VolumeImpl> object = std::move(it->second.object);
  entries_.erase(it);
  lock.unlock();
  object.reset();  // contract 4
  lock.lock();
}

void OpenTable::Forget(const std::string& name) {
  std::unique_lock lock(mu_);
  EraseLocked(lock, name);
  closed_.notify_all();
}

std::vector<std::shared_ptr<VolumeImpl>> OpenTable::Objects() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<VolumeImpl>> out;
  for (auto& [name, entry] : entries_) out.push_back(entry.object);
  return out;
}

std::vector<std::string> OpenTable::Names() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

}  // namespace tessera
