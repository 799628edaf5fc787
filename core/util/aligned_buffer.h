// A heap buffer aligned to 4 KiB, suitable for O_DIRECT I/O. Owns its memory.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>

#include "core/util/units.h"

namespace tessera {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Zero-filled.
  explicit AlignedBuffer(size_t size) : AlignedBuffer(size, Uninitialized{}) {
    if (size > 0) std::memset(data_.get(), 0, size);
  }
  // Contents undefined: for a buffer the caller fills completely at once.
  struct Uninitialized {};
  AlignedBuffer(size_t size, Uninitialized) : size_(size) {
    if (size > 0) {
      void* p = std::aligned_alloc(kBlockSize, (size + kBlockSize - 1) / kBlockSize * kBlockSize);
      data_.reset(static_cast<std::byte*>(p));
    }
  }
  // Adopts `data` (size bytes, 4 KiB-aligned), given back with `release`
  // (a page of PagePool, for one).
  AlignedBuffer(std::byte* data, size_t size, void (*release)(std::byte*)) : data_(data, Free{release}), size_(size) {}
  std::byte* data() { return data_.get(); }
  const std::byte* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<std::byte> span() { return {data_.get(), size_}; }
  std::span<const std::byte> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    Free() noexcept : release(nullptr) {}
    explicit Free(void (*r)(std::byte*)) noexcept : release(r) {}
    void (*release)(std::byte*);  // null: std::free
    void operator()(std::byte* p) const {
      if (release != nullptr) release(p);
      else std::free(p);
    }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t size_ = 0;
};

}  // namespace tessera
