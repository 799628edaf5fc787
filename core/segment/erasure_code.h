// ErasureCode: K data + M coding chunks through Jerasure and GF-Complete.
//
// Methods and their constraints (checked by Create, InvalidArgument naming
// the rule that failed):
//
//   method           kind       m      w                       k
//   reed_sol_van     matrix     >= 1   8, 16 or 32             k + m <= 2^w
//   reed_sol_r6_op   matrix     2      8, 16 or 32             k + 2 <= 2^w
//   cauchy_orig      bitmatrix  >= 1   2..32                   k + m <= 2^w
//   cauchy_good      bitmatrix  >= 1   2..32                   k + m <= 2^w
//   liberation       bitmatrix  2      prime, 3..31            k <= w
//   blaum_roth       bitmatrix  2      w + 1 prime, 4..30      k <= w
//   liber8tion       bitmatrix  2      8                       k <= 8
//
//  - Matrix methods ignore `packet_size` (packet_size() reports 0).
//  - Bitmatrix methods split each chunk into w packets of `packet_size`
//    bytes per coding word; packet_size must be a positive multiple of
//    sizeof(long) (Jerasure XORs long words).
//
// Chunk sizes (CheckChunkBytes): a positive multiple of ChunkAlignment(),
// at most INT_MAX (Jerasure counts bytes in int):
//  - matrix methods: 16 (Jerasure needs sizeof(long); 16 keeps chunks laid
//    end to end in one buffer aligned, see below);
//  - bitmatrix methods: w * packet_size.
// (Jerasure's example programs round to sizeof(long) * w * packet_size;
// that is only a convenience, w * packet_size is what the library needs.)
// Every buffer must be aligned to kErasureBufferAlignment (16): GF-Complete's
// SIMD region multiply asserts (aborts) unless source and destination are
// aligned alike modulo 16.
//
// Contract
//  1. Encode and Decode are const and thread-safe: the matrices, bitmatrix
//     and encoding schedule are built once in Create and only read after.
//     Create serializes itself with a process-wide lock and warms up
//     Jerasure's lazily initialized Galois-field tables and RAID-6 constants
//     before returning, so that concurrent coding never races on them.
//     (Jerasure's byte counters for jerasure_get_stats are updated without
//     a lock; we never read them.)
//  2. Decode takes Jerasure's erasure indices: 0..k-1 are data chunks,
//     k..k+m-1 coding chunks. Duplicates are ignored; the -1 terminator is
//     added here. It rebuilds every listed chunk (data and coding) in place
//     from the others; the contents of listed buffers on entry are ignored.
//     More than m distinct erasures is InvalidArgument and writes nothing.
//  3. Nothing here does I/O, so nothing here is IOError or Corruption: bad
//     parameters and bad buffers are InvalidArgument. Jerasure's own checks
//     (which print and exit(1)) are never reached.
//  4. The destructor frees what Jerasure malloc'd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/util/status.h"

namespace tessera {

inline constexpr size_t kErasureBufferAlignment = 16;

enum class ErasureMethod : uint32_t {
  kReedSolVan = 1,
  kReedSolR6Op = 2,
  kCauchyOrig = 3,
  kCauchyGood = 4,
  kLiberation = 5,
  kBlaumRoth = 6,
  kLiber8tion = 7,
};

// "reed_sol_van", "reed_sol_r6_op", "cauchy_orig", "cauchy_good",
// "liberation", "blaum_roth", "liber8tion".
std::string_view ErasureMethodName(ErasureMethod method);
// InvalidArgument "unknown erasure method 'x' (expected reed_sol_van, ...)".
Result<ErasureMethod> ParseErasureMethod(std::string_view name);
// Every method, in enum order.
std::span<const ErasureMethod> AllErasureMethods();
// True for the methods coded with a bitmatrix (all but reed_sol_*).
bool IsBitmatrixMethod(ErasureMethod method);

class ErasureCode {
 public:
  static Result<std::unique_ptr<ErasureCode>> Create(ErasureMethod method, int k, int m, int w,
                                                     size_t packet_size);
  ~ErasureCode();
  ErasureCode(const ErasureCode&) = delete;
  ErasureCode& operator=(const ErasureCode&) = delete;

  ErasureMethod method() const { return method_; }
  int k() const { return k_; }
  int m() const { return m_; }
  int w() const { return w_; }
  size_t packet_size() const { return packet_size_; }
  // Chunk sizes must be multiples of this (see the header comment).
  size_t ChunkAlignment() const;
  Status CheckChunkBytes(size_t chunk_bytes) const;

  // Computes the m coding chunks from the k data chunks. `data` has k
  // pointers, `coding` m; each names chunk_bytes bytes, 16-byte aligned.
  Status Encode(std::span<const std::byte* const> data, std::span<std::byte* const> coding,
                size_t chunk_bytes) const;
  // Rebuilds the chunks listed in `erasures` (contract 2).
  Status Decode(std::span<std::byte* const> data, std::span<std::byte* const> coding,
                std::span<const int> erasures, size_t chunk_bytes) const;

 private:
  ErasureCode(ErasureMethod method, int k, int m, int w, size_t packet_size)
      : method_(method), k_(k), m_(m), w_(w), packet_size_(packet_size) {}
  Status Build();
  Status WarmUp() const;
  Status CheckBuffers(size_t data_count, size_t coding_count, const void* const* data,
                      const void* const* coding, size_t chunk_bytes) const;

  const ErasureMethod method_;
  const int k_;
  const int m_;
  const int w_;
  const size_t packet_size_;
  int* matrix_ = nullptr;     // m x k over GF(2^w); matrix methods (and cauchy's source)
  int* bitmatrix_ = nullptr;  // mw x kw over GF(2); bitmatrix methods
  int** schedule_ = nullptr;  // smart encoding schedule of bitmatrix_
};

}  // namespace tessera
