// RowPlacement: the vdevs new data rows must stay off while a vdev replace
// copies them (storage_vdevs.cc, design note 6). Internal to core/volume.
//
// Contract
//  1. A volume chooses and allocates each new row while it holds Choose()'s
//     lock (shared), so Avoid returns only once no choice is in progress,
//     and every row chosen after it sees the vdev avoided.
//  2. A vdev stays avoided while any Avoidance of it lives.
#pragma once

#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>

namespace tessera {

class RowPlacement {
 public:
  class Choice {
   public:
    explicit Choice(const RowPlacement& placement) : placement_(placement), lock_(placement.mu_) {}
    bool Avoided(const std::string& vdev) const { return placement_.avoided_.contains(vdev); }

   private:
    const RowPlacement& placement_;
    std::shared_lock<std::shared_mutex> lock_;
  };

  class Avoidance {
   public:
    Avoidance(RowPlacement& placement, std::string vdev) : placement_(placement), vdev_(std::move(vdev)) {
      std::unique_lock lock(placement_.mu_);
      placement_.avoided_[vdev_]++;
    }
    ~Avoidance() {
      std::unique_lock lock(placement_.mu_);
      if (--placement_.avoided_[vdev_] == 0) placement_.avoided_.erase(vdev_);
    }
    Avoidance(const Avoidance&) = delete;
    Avoidance& operator=(const Avoidance&) = delete;

   private:
    RowPlacement& placement_;
    std::string vdev_;
  };

  Choice Choose() const { return Choice(*this); }

 private:
  mutable std::shared_mutex mu_;
  std::map<std::string, int> avoided_;  // GUARDED_BY(mu_)
};

}  // namespace tessera
