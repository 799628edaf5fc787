// The limits of `tessera serve` (serve_limits.h).
//
// Design notes
//  1. Only request buffers grow with clients (serve_limits.h contract 1):
//     the caches have their budget, and a connection without requests in
//     flight costs a thread and a few KiB. So the default number of clients
//     is what half the machine's memory leaves for request buffers once the
//     caches have theirs; the other half stays for the kernel's page cache
//     (vdevs read through it by default) and everything else.
//  2. The floor of kMinDefaultConnections keeps a small machine, or a cache
//     budget above half its memory, usable; the bound printed then says
//     what it costs, and more than the machine's memory is said so.
#include "admin/serve_limits.h"

#include <algorithm>

#include "core/util/memory_budget.h"
#include "core/util/size.h"

namespace tessera {

std::string ServeLimits::Describe() const {
  std::string out = fmt::format("{}: caches {} + request buffers of {} clients x {} threads x {}",
                                FormatSize(WorstCaseBytes()), FormatSize(cache_bytes), max_connections,
                                threads, FormatSize(kNbdkitMaxRequestBytes));
  if (machine_bytes != 0 && WorstCaseBytes() > machine_bytes) {
    out += fmt::format(" (more than this machine's {})", FormatSize(machine_bytes));
  }
  return out;
}

Result<ServeLimits> PlanServeLimits(uint32_t max_connections, uint32_t threads, uint64_t memory_bytes,
                                    const PoolConfig& config, uint64_t machine_bytes) {
  if (max_connections > kMaxServeConnections) {
    return Err(Code::kInvalidArgument, "--max-connections {} is above the maximum of {}", max_connections,
               kMaxServeConnections);
  }
  if (threads > kMaxServeThreads) {
    return Err(Code::kInvalidArgument, "--threads {} is above the maximum of {}", threads, kMaxServeThreads);
  }
  ServeLimits limits{.machine_bytes = machine_bytes};
  limits.cache_bytes = memory_bytes       ? memory_bytes
                       : config.memory_bytes ? config.memory_bytes
                                             : DefaultMemoryBudgetBytes();
  limits.threads = threads ? threads : config.threads ? config.threads : kDefaultServeThreads;
  limits.max_connections = max_connections ? max_connections : config.max_connections;
  if (limits.max_connections == 0) {  // design note 1
    const uint64_t half = machine_bytes / 2;
    const uint64_t room = half > limits.cache_bytes ? half - limits.cache_bytes : 0;
    const uint64_t fit = room / (uint64_t{limits.threads} * kNbdkitMaxRequestBytes);
    limits.max_connections = static_cast<uint32_t>(
        std::clamp<uint64_t>(fit, kMinDefaultConnections, kMaxServeConnections));
  }
  return limits;
}

}  // namespace tessera
