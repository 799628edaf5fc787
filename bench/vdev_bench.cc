// vdev_bench: 4 KiB random writes at queue depth 32 through FileVdev
// (io_uring + O_DIRECT, AsyncQueue), then the same workload from fio's
// io_uring engine on the same preallocated file, in one run. Prints both IOPS
// and the ratio tessera/fio.
//
//   vdev_bench [--path=FILE] [--size-mib=1024] [--seconds=10] [--depth=32]
//              [--rounds=1] [--keep]
//
// Both sides see the same file, fully written beforehand, so neither measures
// block allocation. Each round runs tessera then fio; the totals are summed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/util/aligned_buffer.h"
#include "core/vdev/file_vdev.h"

namespace tessera {
namespace {

struct Args {
  std::string path;
  uint64_t size_mib = 1024;
  uint64_t seconds = 10;
  unsigned depth = 32;
  unsigned rounds = 1;
  bool keep = false;
};

bool ParseArgs(int argc, char** argv, Args& args) {
  const char* tmp = std::getenv("TMPDIR");
  args.path = std::string(tmp && *tmp ? tmp : "/tmp") + "/tessera-vdev-bench.img";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* key) -> const char* {
      size_t n = std::strlen(key);
      return a.compare(0, n, key) == 0 ? a.c_str() + n : nullptr;
    };
    if (const char* v = value("--path=")) {
      args.path = v;
    } else if (const char* v = value("--size-mib=")) {
      args.size_mib = std::strtoull(v, nullptr, 10);
    } else if (const char* v = value("--seconds=")) {
      args.seconds = std::strtoull(v, nullptr, 10);
    } else if (const char* v = value("--depth=")) {
      args.depth = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
    } else if (const char* v = value("--rounds=")) {
      args.rounds = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
    } else if (a == "--keep") {
      args.keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--path=FILE] [--size-mib=N] [--seconds=N] [--depth=N] "
                   "[--rounds=N] [--keep]\n",
                   argv[0]);
      return false;
    }
  }
  return args.size_mib > 0 && args.seconds > 0 && args.depth > 0 && args.rounds > 0;
}

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void FillRandom(AlignedBuffer& buf, uint64_t seed) {
  for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
    uint64_t v = SplitMix(seed);
    std::memcpy(buf.data() + i, &v, 8);
  }
}

// Writes every block once (non-zero data) and syncs.
Status Preallocate(FileVdev& vdev) {
  constexpr uint64_t kChunkBlocks = 256;  // 1 MiB per request, 16 per batch.
  AlignedBuffer chunk(kChunkBlocks * kBlockSize);
  FillRandom(chunk, 1);
  for (uint64_t block = 0; block < vdev.Size().value;) {
    std::vector<IoRequest> batch;
    for (int i = 0; i < 16 && block < vdev.Size().value; ++i) {
      uint64_t n = std::min(kChunkBlocks, vdev.Size().value - block);
      batch.push_back({.op = IoOp::kWrite, .block = BlockNo{block},
                       .buffer = chunk.span().subspan(0, n * kBlockSize)});
      block += n;
    }
    TRY_STATUS(vdev.SubmitBatch(batch));
  }
  return vdev.Flush();
}

// Random 4 KiB writes kept at `depth` in flight for `seconds`. Returns IOPS.
Result<double> RunTessera(FileVdev& vdev, unsigned depth, uint64_t seconds) {
  auto queue = TRY(vdev.NewAsyncQueue(depth));
  std::vector<AlignedBuffer> bufs;
  std::vector<IoRequest> reqs(depth);
  uint64_t rng = 42;
  const uint64_t blocks = vdev.Size().value;
  for (unsigned i = 0; i < depth; ++i) {
    bufs.emplace_back(kBlockSize);
    FillRandom(bufs.back(), i + 7);
    reqs[i] = {.op = IoOp::kWrite, .block = BlockNo{SplitMix(rng) % blocks},
               .buffer = bufs.back().span()};
    TRY_STATUS(queue->Submit(&reqs[i]));
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  uint64_t completed = 0;
  bool draining = false;
  while (queue->InFlight() > 0) {
    IoRequest* done = TRY(queue->WaitOne());
    TRY_STATUS(done->result);
    ++completed;
    if (!draining && (completed & 255) == 0 && Clock::now() >= deadline) draining = true;
    if (draining) continue;
    done->block = BlockNo{SplitMix(rng) % blocks};
    TRY_STATUS(queue->Submit(done));
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return completed / elapsed;
}

// Runs fio's io_uring engine with the same workload; returns its write IOPS.
Result<double> RunFio(const Args& args) {
  std::string cmd = fmt::format(
      "fio --name=peer --filename={} --ioengine=io_uring --direct=1 --rw=randwrite --bs=4k "
      "--iodepth={} --size={}M --runtime={} --time_based --norandommap --numjobs=1 "
      "--output-format=json 2>&1",
      args.path, args.depth, args.size_mib, args.seconds);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return Err(Code::kIOError, "popen fio: {}", std::strerror(errno));
  std::string out;
  char chunk[4096];
  for (size_t n; (n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;) out.append(chunk, n);
  int rc = ::pclose(pipe);
  size_t write = out.find("\"write\" : {");
  size_t iops = write == std::string::npos ? write : out.find("\"iops\" : ", write);
  if (rc != 0 || iops == std::string::npos) {
    return Err(Code::kIOError, "fio failed (status {}):\n{}", rc, out.substr(0, 2000));
  }
  return std::strtod(out.c_str() + iops + std::strlen("\"iops\" : "), nullptr);
}

int Main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, args)) return 2;
  auto vdev = FileVdev::Open(args.path, {.create = true,
                                         .create_size = BlockCount{args.size_mib << 8},
                                         .use_direct = true,
                                         .use_io_uring = true});
  if (!vdev) {
    std::fprintf(stderr, "vdev_bench: %s\n", vdev.error().ToString().c_str());
    return 1;
  }
  std::printf("vdev_bench: %s, %llu MiB, %llu s per run, QD%u, 4 KiB random writes, "
              "io_uring=%s O_DIRECT=%s\n",
              args.path.c_str(), static_cast<unsigned long long>(args.size_mib),
              static_cast<unsigned long long>(args.seconds), args.depth,
              (*vdev)->UsingIoUring() ? "yes" : "NO", (*vdev)->UsingDirectIo() ? "yes" : "NO");
  std::fflush(stdout);
  if (Status s = Preallocate(**vdev); !s) {
    std::fprintf(stderr, "vdev_bench: preallocate: %s\n", s.error().ToString().c_str());
    return 1;
  }
  double tessera_sum = 0, fio_sum = 0;
  for (unsigned round = 1; round <= args.rounds; ++round) {
    auto ours = RunTessera(**vdev, args.depth, args.seconds);
    if (!ours) {
      std::fprintf(stderr, "vdev_bench: tessera run: %s\n", ours.error().ToString().c_str());
      return 1;
    }
    auto peer = RunFio(args);
    if (!peer) {
      std::fprintf(stderr, "vdev_bench: %s\n", peer.error().ToString().c_str());
      return 1;
    }
    std::printf("round %u: tessera %.0f IOPS, fio %.0f IOPS, ratio %.3f\n", round, *ours, *peer,
                *ours / *peer);
    std::fflush(stdout);
    tessera_sum += *ours;
    fio_sum += *peer;
  }
  std::printf("tessera FileVdev (io_uring, O_DIRECT, QD%u): %.0f IOPS\n", args.depth,
              tessera_sum / args.rounds);
  std::printf("fio io_uring peer       (direct=1, QD%u): %.0f IOPS\n", args.depth,
              fio_sum / args.rounds);
  std::printf("ratio tessera/fio: %.3f (goal >= 0.9)\n", tessera_sum / fio_sum);
  vdev->reset();
  if (!args.keep) ::unlink(args.path.c_str());
  return 0;
}

}  // namespace
}  // namespace tessera

int main(int argc, char** argv) { return tessera::Main(argc, argv); }
