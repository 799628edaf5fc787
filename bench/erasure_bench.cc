// erasure_bench: encode throughput of every ErasureCode method with K=4,
// M=2 over 64 KiB .. 1 MiB chunks, against memcpy of the same data bytes, in
// one run; single-threaded, so MB/s are per core. Also: decode of two lost
// data chunks, and a packet-size sweep for cauchy_good (how
// JerasureSegment::kMaxPacketSize was chosen); and 1 MiB writes and reads
// through a JerasureSegment (rs:4+2) against a plain stripe:4 lun, healthy
// and with two vdevs lost, over memory vdevs.
//
//   erasure_bench [Google Benchmark flags, e.g. --benchmark_min_time=0.2]
//
// After the Google Benchmark output it prints one table: per method and
// chunk size, encode MB/s (data bytes encoded per CPU second), memcpy MB/s
// of the same K chunks, and the ratio encode/memcpy.
#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/segment/erasure_code.h"
#include "core/segment/jerasure_segment.h"
#include "core/util/aligned_buffer.h"
#include "core/vdev/fault_vdev.h"
#include "core/vdev/memory_vdev.h"

namespace tessera {
namespace {

constexpr int kK = 4, kM = 2;

struct Method {
  ErasureMethod method;
  int w;
};
const Method kMethods[] = {
    {ErasureMethod::kReedSolVan, 8}, {ErasureMethod::kReedSolR6Op, 8},
    {ErasureMethod::kCauchyOrig, 8}, {ErasureMethod::kCauchyGood, 8},
    {ErasureMethod::kLiberation, 7}, {ErasureMethod::kBlaumRoth, 4},
    {ErasureMethod::kLiber8tion, 8},
};
const size_t kChunkSizes[] = {64 << 10, 256 << 10, 1 << 20};

// K + M chunks of `bytes`, random data.
struct Buffers {
  explicit Buffers(size_t bytes) : bytes(bytes), buffer(bytes * (kK + kM) + bytes * kK) {
    std::mt19937_64 rng(42);
    for (size_t i = 0; i + 8 <= buffer.size(); i += 8) {
      uint64_t v = rng();
      std::memcpy(buffer.data() + i, &v, 8);
    }
    for (int i = 0; i < kK + kM; i++) ptrs.push_back(buffer.data() + bytes * i);
    copy_target = buffer.data() + bytes * (kK + kM);
  }
  std::vector<const std::byte*> Data() const { return {ptrs.begin(), ptrs.begin() + kK}; }
  std::span<std::byte* const> Coding() const { return std::span(ptrs).subspan(kK); }
  size_t bytes;
  AlignedBuffer buffer;
  std::vector<std::byte*> ptrs;
  std::byte* copy_target;
};

// The chunk size actually used: `target` rounded down to what the method
// accepts (liberation's w = 7 does not divide powers of two), and the packet
// size JerasureSegment would derive for it.
std::pair<size_t, uint32_t> Fit(const Method& m, size_t target) {
  size_t unit =
      IsBitmatrixMethod(m.method) ? static_cast<size_t>(m.w) * JerasureSegment::kMaxPacketSize : 16;
  size_t bytes = target / unit * unit;
  auto packet = JerasureSegment::PacketSizeFor(m.method, static_cast<uint32_t>(m.w), bytes);
  return {bytes, packet ? *packet : 0};
}

std::string Name(std::string_view what, const Method& m, size_t target) {
  return fmt::format("{}/{}/{}K", what, ErasureMethodName(m.method), target >> 10);
}

void Encode(benchmark::State& state, Method m, size_t target, uint32_t packet_override) {
  auto [bytes, packet] = Fit(m, target);
  if (packet_override != 0) packet = packet_override;
  auto code = ErasureCode::Create(m.method, kK, kM, m.w, packet);
  if (!code) {
    state.SkipWithError(code.error().ToString().c_str());
    return;
  }
  Buffers b(bytes);
  for (auto _ : state) {
    Status s = (*code)->Encode(b.Data(), b.Coding(), bytes);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kK * bytes));
  state.counters["chunk"] = static_cast<double>(bytes);
  state.counters["packet"] = packet;
}

void Decode(benchmark::State& state, Method m, size_t target) {
  auto [bytes, packet] = Fit(m, target);
  auto code = ErasureCode::Create(m.method, kK, kM, m.w, packet);
  if (!code) {
    state.SkipWithError(code.error().ToString().c_str());
    return;
  }
  Buffers b(bytes);
  if (!(*code)->Encode(b.Data(), b.Coding(), bytes)) state.SkipWithError("encode failed");
  const int erasures[] = {0, 2};
  for (auto _ : state) {
    Status s = (*code)->Decode(std::span(b.ptrs).first(kK), b.Coding(), erasures, bytes);
    benchmark::DoNotOptimize(s);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kK * bytes));
}

void Memcpy(benchmark::State& state, size_t bytes) {
  Buffers b(bytes);
  for (auto _ : state) {
    std::memcpy(b.copy_target, b.ptrs[0], kK * bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kK * bytes));
}

// --- Segments over memory vdevs: 1 MiB stripes of rs:4+2 against a plain
// stripe:4 lun with the same 1 MiB rows, and degraded reads (2 vdevs
// failing every read) against healthy ones. Measures the segment's own CPU
// and copy overhead; no device latency.

class BumpSource final : public LunBlockSource {
 public:
  explicit BumpSource(Pool* pool) : pool_(pool) {}
  Result<std::vector<LunBlock>> AllocateRow(uint32_t n, uint64_t bytes,
                                            const std::string&) override {
    std::vector<LunBlock> row;
    for (uint32_t i = 0; i < n; i++) {
      const PoolVdev& v = pool_->vdevs()[i];
      row.push_back({.id = ++id_,
                     .address = DiskAddress::Make(v.config.tier, v.config.index, next_),
                     .size = bytes,
                     .vdev = v.config.name});
    }
    next_ += bytes / kBlockSize;
    return row;
  }

 private:
  Pool* pool_;
  uint64_t next_ = kFirstUsableBlock;
  uint64_t id_ = 0;
};

constexpr uint64_t kStripeData = 1 << 20;  // 1 MiB: K * D for rs, the row stripe for stripe:4
constexpr uint64_t kSegmentBytes = 64ull << 20;

struct SegmentRig {
  // rs = false: a stripe:4 lun of 256 KiB chunks; true: rs:4+2 with
  // C = 260 KiB (D = 256 KiB). `faulty` puts FaultVdevs over the media.
  SegmentRig(bool rs, bool faulty) {
    uint32_t n = rs ? 6 : 4;
    uint64_t chunk = rs ? (256 << 10) + 4096 : 256 << 10;
    uint64_t block = chunk * 64;
    PoolConfig config;
    std::vector<std::shared_ptr<Vdev>> devices;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t blocks = block / kBlockSize + 1024;
      config.vdevs.push_back({.name = fmt::format("m{}", i),
                              .path = fmt::format("/mem/{}", i),
                              .size_bytes = blocks * kBlockSize,
                              .tier = Tier::kFastest,
                              .index = i});
      auto media = std::make_shared<MemoryVdev>(BlockCount{blocks});
      if (faulty) faults.push_back(std::make_shared<FaultVdev>(media));
      devices.push_back(faulty ? std::shared_ptr<Vdev>(faults.back()) : media);
    }
    pool = std::move(*Pool::Create(config, devices));
    source = std::make_unique<BumpSource>(pool.get());
    lun = std::make_shared<LunSegment>(
        1, LunOptions{.n_devices = n, .chunk_size = chunk, .max_block_size = block}, pool.get(),
        source.get());
    (void)lun->Grow();
    top = lun;
    if (rs) {
      top = std::shared_ptr<Segment>(std::move(*JerasureSegment::Create(
          2, {.n_data_devs = 4, .n_parity_devs = 2, .w = 8, .method = ErasureMethod::kCauchyGood},
          lun, pool.get())));
    }
    data = AlignedBuffer(kStripeData);
    std::memset(data.data(), 0x5a, kStripeData);
  }
  std::vector<std::shared_ptr<FaultVdev>> faults;
  std::unique_ptr<Pool> pool;
  std::unique_ptr<BumpSource> source;
  std::shared_ptr<LunSegment> lun;
  std::shared_ptr<Segment> top;
  AlignedBuffer data;
};

void SegmentWrite(benchmark::State& state, bool rs) {
  SegmentRig rig(rs, false);
  uint64_t off = 0;
  for (auto _ : state) {
    if (!rig.top->Write(off, rig.data.span(), kWriteNone)) state.SkipWithError("write failed");
    off = (off + kStripeData) % kSegmentBytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kStripeData));
}

void SegmentRead(benchmark::State& state, bool rs, int failed_vdevs) {
  SegmentRig rig(rs, /*faulty=*/true);  // the same FaultVdev layer for every read run
  for (uint64_t off = 0; off < kSegmentBytes; off += kStripeData)
    (void)rig.top->Write(off, rig.data.span(), 0);
  (void)rig.top->Flush();  // drops the FaultVdevs' undo records
  // Lost devices: every operation fails, so repairs fail too (counted).
  for (int v = 0; v < failed_vdevs; v++) rig.faults[v]->FailNth(1, /*persistent=*/true);
  AlignedBuffer out(kStripeData);
  uint64_t off = 0;
  for (auto _ : state) {
    if (!rig.top->Read(off, out.span())) state.SkipWithError("read failed");
    off = (off + kStripeData) % kSegmentBytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kStripeData));
}

// Keeps bytes/s of every run, by name, for the ratio table.
class Recorder : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      auto it = run.counters.find("bytes_per_second");
      if (it != run.counters.end() && !run.error_occurred) {
        mbps[run.benchmark_name()] = it->second.value / 1e6;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> mbps;
};

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) {
  using namespace tessera;
  for (size_t target : kChunkSizes) {
    benchmark::RegisterBenchmark(fmt::format("memcpy/{}K", target >> 10).c_str(), Memcpy, target);
    for (const Method& m : kMethods) {
      benchmark::RegisterBenchmark(Name("encode", m, target).c_str(), Encode, m, target, 0u);
    }
  }
  for (const Method& m : kMethods) {
    benchmark::RegisterBenchmark(Name("decode2", m, 256 << 10).c_str(), Decode, m,
                                 size_t{256 << 10});
  }
  for (uint32_t packet : {512u, 1024u, 2048u, 4096u, 8192u, 16384u}) {
    Method cg{ErasureMethod::kCauchyGood, 8};
    benchmark::RegisterBenchmark(fmt::format("packet/cauchy_good/256K/{}", packet).c_str(), Encode,
                                 cg, size_t{256 << 10}, packet);
  }
  benchmark::RegisterBenchmark("segment/write/stripe4", SegmentWrite, false);
  benchmark::RegisterBenchmark("segment/write/rs4+2", SegmentWrite, true);
  benchmark::RegisterBenchmark("segment/read/stripe4", SegmentRead, false, 0);
  benchmark::RegisterBenchmark("segment/read/rs4+2", SegmentRead, true, 0);
  benchmark::RegisterBenchmark("segment/read/rs4+2-2lost", SegmentRead, true, 2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  Recorder recorder;
  benchmark::RunSpecifiedBenchmarks(&recorder);
  benchmark::Shutdown();

  fmt::print("\nencode, K={} M={}, one core: data MB/s (1 MB = 10^6 bytes) and ratio to memcpy\n",
             kK, kM);
  fmt::print("{:<16} {:>6} {:>11} {:>11} {:>7} {:>13}\n", "method", "chunk", "encode", "memcpy",
             "ratio", "decode 2 lost");
  for (const Method& m : kMethods) {
    for (size_t target : kChunkSizes) {
      auto enc = recorder.mbps.find(Name("encode", m, target));
      auto cpy = recorder.mbps.find(fmt::format("memcpy/{}K", target >> 10));
      auto dec = recorder.mbps.find(Name("decode2", m, target));
      if (enc == recorder.mbps.end() || cpy == recorder.mbps.end()) continue;
      fmt::print("{:<16} {:>5}K {:>11.0f} {:>11.0f} {:>6.2f}x {:>13}\n",
                 ErasureMethodName(m.method), Fit(m, target).first >> 10, enc->second, cpy->second,
                 enc->second / cpy->second,
                 dec == recorder.mbps.end() ? "" : fmt::format("{:.0f}", dec->second));
    }
  }
  auto ratio = [&](const char* what, const std::string& a, const std::string& b) {
    auto x = recorder.mbps.find(a), y = recorder.mbps.find(b);
    if (x == recorder.mbps.end() || y == recorder.mbps.end()) return;
    fmt::print("{:<34} {:>8.0f} MB/s vs {:>8.0f} MB/s  {:.2f}x\n", what, x->second, y->second,
               x->second / y->second);
  };
  fmt::print("\nsegments over memory vdevs, 1 MiB requests, one thread\n");
  ratio("write rs:4+2 vs stripe:4", "segment/write/rs4+2", "segment/write/stripe4");
  ratio("read rs:4+2 vs stripe:4", "segment/read/rs4+2", "segment/read/stripe4");
  ratio("read rs:4+2, 2 vdevs lost vs healthy", "segment/read/rs4+2-2lost", "segment/read/rs4+2");
  return 0;
}
