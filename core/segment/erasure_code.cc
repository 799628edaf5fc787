// ErasureCode over Jerasure 2 / GF-Complete.
//
// Design notes
//  1. Every parameter Jerasure would reject by printing and calling exit(1),
//     or by silently reading out of bounds (an erasure index past k+m, a
//     size that is not a multiple of w * packetsize, an unaligned pointer),
//     or that GF-Complete would assert on (buffers not aligned alike modulo
//     16), is checked here first and becomes InvalidArgument (contract 3).
//  2. Jerasure keeps global lazily initialized state: the GF(2^w) field
//     objects (galois.c; galois_region_xor uses the w=32 one) and the RAID-6
//     multiply-by-2 constants (reed_sol.c).
//     Initialization is not thread-safe, and in reed_sol.c a half-built
//     constant is visible to another thread. Create holds CreateMutex() while
//     it builds and then runs one encode and one decode (WarmUp), so every
//     such global is set before any ErasureCode can be shared. After that
//     Jerasure only reads them.
//  3. Which Jerasure call codes what:
//       reed_sol_van    matrix_encode            matrix_decode (row_k_ones=1)
//       reed_sol_r6_op  reed_sol_r6_encode       matrix_decode (row_k_ones=1)
//       bitmatrix       schedule_encode (smart)  schedule_decode_lazy (smart)
//     The first coding row of both RS matrices is all ones, which is what
//     row_k_ones=1 lets the decoder exploit.
//  4. Erasures are deduplicated and sorted before Jerasure sees them:
//     schedule_decode_lazy counts duplicates twice.
#include "core/segment/erasure_code.h"

// Jerasure's headers include "galois.h" unqualified, so its folder
// (/usr/include/jerasure) is on the include path (root CMakeLists.txt).
#include <cauchy.h>
#include <galois.h>
#include <jerasure.h>
#include <liberation.h>
#include <reed_sol.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/util/aligned_buffer.h"

namespace tessera {
namespace {

constexpr std::array<ErasureMethod, 7> kMethods = {
    ErasureMethod::kReedSolVan, ErasureMethod::kReedSolR6Op, ErasureMethod::kCauchyOrig,
    ErasureMethod::kCauchyGood, ErasureMethod::kLiberation,  ErasureMethod::kBlaumRoth,
    ErasureMethod::kLiber8tion,
};
constexpr std::array<std::string_view, 7> kMethodNames = {
    "reed_sol_van", "reed_sol_r6_op", "cauchy_orig", "cauchy_good",
    "liberation",   "blaum_roth",     "liber8tion",
};
constexpr int kMaxDevices = 1024;

std::mutex& CreateMutex() {
  static std::mutex mu;
  return mu;
}

bool IsPrime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; d++) {
    if (n % d == 0) return false;
  }
  return true;
}

// 2^w >= n, without overflowing for w up to 32.
bool FieldHolds(int w, int n) { return w >= 31 || (int64_t{1} << w) >= n; }

Status CheckParameters(ErasureMethod method, int k, int m, int w, size_t packet_size) {
  std::string_view name = ErasureMethodName(method);
  auto fail = [&](std::string_view rule) {
    return Err(Code::kInvalidArgument, "{} k={} m={} w={} packet_size={}: {}", name, k, m, w,
               packet_size, rule);
  };
  if (k < 1 || m < 1 || k + m > kMaxDevices) return fail("need k >= 1, m >= 1, k + m <= 1024");
  switch (method) {
    case ErasureMethod::kReedSolVan:
      if (w != 8 && w != 16 && w != 32) return fail("w must be 8, 16 or 32");
      if (!FieldHolds(w, k + m)) return fail("k + m must be <= 2^w");
      return Ok();
    case ErasureMethod::kReedSolR6Op:
      if (m != 2) return fail("m must be 2 (RAID-6)");
      if (w != 8 && w != 16 && w != 32) return fail("w must be 8, 16 or 32");
      if (!FieldHolds(w, k + m)) return fail("k + m must be <= 2^w");
      return Ok();
    case ErasureMethod::kCauchyOrig:
    case ErasureMethod::kCauchyGood:
      if (w < 2 || w > 32) return fail("w must be 2..32");
      if (!FieldHolds(w, k + m)) return fail("k + m must be <= 2^w");
      break;
    case ErasureMethod::kLiberation:
      if (m != 2) return fail("m must be 2");
      if (w < 3 || w > 31 || !IsPrime(w)) return fail("w must be a prime in 3..31");
      if (k > w) return fail("k must be <= w");
      break;
    case ErasureMethod::kBlaumRoth:
      if (m != 2) return fail("m must be 2");
      if (w < 2 || w > 30 || !IsPrime(w + 1)) return fail("w + 1 must be prime (w in 2..30)");
      if (k > w) return fail("k must be <= w");
      break;
    case ErasureMethod::kLiber8tion:
      if (m != 2) return fail("m must be 2");
      if (w != 8) return fail("w must be 8");
      if (k > 8) return fail("k must be <= 8");
      break;
  }
  if (packet_size == 0 || packet_size % sizeof(long) != 0) {
    return fail("packet_size must be a positive multiple of sizeof(long)");
  }
  if (packet_size * static_cast<size_t>(w) > INT_MAX)
    return fail("w * packet_size must fit in int");
  return Ok();
}

}  // namespace

std::string_view ErasureMethodName(ErasureMethod method) {
  for (size_t i = 0; i < kMethods.size(); i++) {
    if (kMethods[i] == method) return kMethodNames[i];
  }
  return "unknown";
}

Result<ErasureMethod> ParseErasureMethod(std::string_view name) {
  for (size_t i = 0; i < kMethods.size(); i++) {
    if (kMethodNames[i] == name) return kMethods[i];
  }
  return Err(Code::kInvalidArgument,
             "unknown erasure method '{}' (expected reed_sol_van, reed_sol_r6_op, cauchy_orig, "
             "cauchy_good, liberation, blaum_roth or liber8tion)",
             name);
}

std::span<const ErasureMethod> AllErasureMethods() { return kMethods; }

bool IsBitmatrixMethod(ErasureMethod method) {
  return method != ErasureMethod::kReedSolVan && method != ErasureMethod::kReedSolR6Op;
}

Result<std::unique_ptr<ErasureCode>> ErasureCode::Create(ErasureMethod method, int k, int m, int w,
                                                         size_t packet_size) {
  if (ErasureMethodName(method) == "unknown") {
    return Err(Code::kInvalidArgument, "unknown erasure method {}", static_cast<uint32_t>(method));
  }
  TRY_STATUS(CheckParameters(method, k, m, w, packet_size));
  if (!IsBitmatrixMethod(method)) packet_size = 0;
  std::lock_guard lock(CreateMutex());
  std::unique_ptr<ErasureCode> code(new ErasureCode(method, k, m, w, packet_size));
  TRY_STATUS(code->Build());
  TRY_STATUS(code->WarmUp());
  return code;
}

ErasureCode::~ErasureCode() {
  if (schedule_ != nullptr) jerasure_free_schedule(schedule_);
  std::free(bitmatrix_);
  std::free(matrix_);
}

// Called with CreateMutex() held (design note 2).
Status ErasureCode::Build() {
  // Initializes the GF(2^w) field before anything uses it (the
  // liberation family is pure XOR and needs none).
  bool uses_field = method_ == ErasureMethod::kReedSolVan ||
                    method_ == ErasureMethod::kReedSolR6Op ||
                    method_ == ErasureMethod::kCauchyOrig || method_ == ErasureMethod::kCauchyGood;
  if (uses_field) (void)galois_single_multiply(1, 1, w_);
  // galois_region_xor, which every method uses, runs on the w=32 field.
  (void)galois_single_multiply(1, 1, 32);
  switch (method_) {
    case ErasureMethod::kReedSolVan:
      matrix_ = reed_sol_vandermonde_coding_matrix(k_, m_, w_);
      break;
    case ErasureMethod::kReedSolR6Op:
      matrix_ = reed_sol_r6_coding_matrix(k_, w_);
      break;
    case ErasureMethod::kCauchyOrig:
      matrix_ = cauchy_original_coding_matrix(k_, m_, w_);
      break;
    case ErasureMethod::kCauchyGood:
      matrix_ = cauchy_good_general_coding_matrix(k_, m_, w_);
      break;
    case ErasureMethod::kLiberation:
      bitmatrix_ = liberation_coding_bitmatrix(k_, w_);
      break;
    case ErasureMethod::kBlaumRoth:
      bitmatrix_ = blaum_roth_coding_bitmatrix(k_, w_);
      break;
    case ErasureMethod::kLiber8tion:
      bitmatrix_ = liber8tion_coding_bitmatrix(k_);
      break;
  }
  if (method_ == ErasureMethod::kCauchyOrig || method_ == ErasureMethod::kCauchyGood) {
    if (matrix_ != nullptr) bitmatrix_ = jerasure_matrix_to_bitmatrix(k_, m_, w_, matrix_);
  }
  bool ok = IsBitmatrixMethod(method_) ? bitmatrix_ != nullptr : matrix_ != nullptr;
  if (ok && IsBitmatrixMethod(method_)) {
    schedule_ = jerasure_smart_bitmatrix_to_schedule(k_, m_, w_, bitmatrix_);
    ok = schedule_ != nullptr;
  }
  if (!ok) {
    return Err(Code::kInvalidArgument, "{} k={} m={} w={}: Jerasure could not build the code",
               ErasureMethodName(method_), k_, m_, w_);
  }
  return Ok();
}

// Called with CreateMutex() held (design note 2): one tiny encode and decode.
Status ErasureCode::WarmUp() const {
  size_t bytes = ChunkAlignment();
  size_t stride =
      (bytes + kErasureBufferAlignment - 1) / kErasureBufferAlignment * kErasureBufferAlignment;
  int n = k_ + m_;
  AlignedBuffer buffer(stride * static_cast<size_t>(n));
  std::vector<std::byte*> ptrs;
  for (int i = 0; i < n; i++) ptrs.push_back(buffer.data() + stride * static_cast<size_t>(i));
  std::vector<const std::byte*> data(ptrs.begin(), ptrs.begin() + k_);
  TRY_STATUS(Encode(data, std::span(ptrs).subspan(k_), bytes));
  int erasure = 0;
  return Decode(std::span(ptrs).first(k_), std::span(ptrs).subspan(k_), {&erasure, 1}, bytes);
}

size_t ErasureCode::ChunkAlignment() const {
  return IsBitmatrixMethod(method_) ? static_cast<size_t>(w_) * packet_size_
                                    : kErasureBufferAlignment;
}

Status ErasureCode::CheckChunkBytes(size_t chunk_bytes) const {
  size_t align = ChunkAlignment();
  if (chunk_bytes == 0 || chunk_bytes % align != 0 || chunk_bytes > INT_MAX) {
    return Err(Code::kInvalidArgument,
               "{} chunk of {} bytes: must be a positive multiple of {} ({}) and at most {}",
               ErasureMethodName(method_), chunk_bytes, align,
               IsBitmatrixMethod(method_) ? "w * packet_size" : "16", INT_MAX);
  }
  return Ok();
}

Status ErasureCode::CheckBuffers(size_t data_count, size_t coding_count, const void* const* data,
                                 const void* const* coding, size_t chunk_bytes) const {
  if (data_count != static_cast<size_t>(k_) || coding_count != static_cast<size_t>(m_)) {
    return Err(Code::kInvalidArgument, "{} chunks given for k={}, m={}: {} data and {} coding",
               ErasureMethodName(method_), k_, m_, data_count, coding_count);
  }
  TRY_STATUS(CheckChunkBytes(chunk_bytes));
  for (size_t i = 0; i < data_count + coding_count; i++) {
    const void* p = i < data_count ? data[i] : coding[i - data_count];
    if (p == nullptr || reinterpret_cast<uintptr_t>(p) % kErasureBufferAlignment != 0) {
      return Err(Code::kInvalidArgument, "chunk {} buffer is null or not {}-byte aligned", i,
                 kErasureBufferAlignment);
    }
  }
  return Ok();
}

Status ErasureCode::Encode(std::span<const std::byte* const> data,
                           std::span<std::byte* const> coding, size_t chunk_bytes) const {
  TRY_STATUS(CheckBuffers(data.size(), coding.size(),
                          reinterpret_cast<const void* const*>(data.data()),
                          reinterpret_cast<const void* const*>(coding.data()), chunk_bytes));
  // Jerasure takes char** but only reads the data chunks.
  std::vector<char*> d, c;
  for (const std::byte* p : data) d.push_back(reinterpret_cast<char*>(const_cast<std::byte*>(p)));
  for (std::byte* p : coding) c.push_back(reinterpret_cast<char*>(p));
  int size = static_cast<int>(chunk_bytes);
  switch (method_) {
    case ErasureMethod::kReedSolVan:
      jerasure_matrix_encode(k_, m_, w_, matrix_, d.data(), c.data(), size);
      return Ok();
    case ErasureMethod::kReedSolR6Op:
      if (reed_sol_r6_encode(k_, w_, d.data(), c.data(), size) != 1) {
        return Err(Code::kInvalidArgument, "reed_sol_r6_op encode failed (w={})", w_);
      }
      return Ok();
    default:
      jerasure_schedule_encode(k_, m_, w_, schedule_, d.data(), c.data(), size,
                               static_cast<int>(packet_size_));
      return Ok();
  }
}

Status ErasureCode::Decode(std::span<std::byte* const> data, std::span<std::byte* const> coding,
                           std::span<const int> erasures, size_t chunk_bytes) const {
  TRY_STATUS(CheckBuffers(data.size(), coding.size(),
                          reinterpret_cast<const void* const*>(data.data()),
                          reinterpret_cast<const void* const*>(coding.data()), chunk_bytes));
  std::vector<int> list(erasures.begin(), erasures.end());
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  for (int e : list) {
    if (e < 0 || e >= k_ + m_) {
      return Err(Code::kInvalidArgument, "erasure index {} is outside 0..{}", e, k_ + m_ - 1);
    }
  }
  if (list.size() > static_cast<size_t>(m_)) {
    return Err(Code::kInvalidArgument, "{} erasures: {} can rebuild at most {}", list.size(),
               ErasureMethodName(method_), m_);
  }
  if (list.empty()) return Ok();
  list.push_back(-1);
  std::vector<char*> d, c;
  for (std::byte* p : data) d.push_back(reinterpret_cast<char*>(p));
  for (std::byte* p : coding) c.push_back(reinterpret_cast<char*>(p));
  int size = static_cast<int>(chunk_bytes);
  int rc =
      IsBitmatrixMethod(method_)
          ? jerasure_schedule_decode_lazy(k_, m_, w_, bitmatrix_, list.data(), d.data(), c.data(),
                                          size, static_cast<int>(packet_size_), 1)
          : jerasure_matrix_decode(k_, m_, w_, matrix_, 1, list.data(), d.data(), c.data(), size);
  if (rc != 0) {
    return Err(Code::kInvalidArgument, "{} could not decode {} erasures",
               ErasureMethodName(method_), list.size() - 1);
  }
  return Ok();
}

}  // namespace tessera
