// What bounds a `tessera serve` server's memory: the cache budget, and the
// buffers nbdkit holds for requests, which only the number of clients and
// the worker threads each client gets can bound.
//
// Contract
//  1. nbdkit (1.32) reads a request's data into a per-thread buffer that it
//     allocates and zeroes in its protocol layer, before any filter or the
//     plugin sees the request, for any read or write of up to
//     kNbdkitMaxRequestBytes, whatever maximum the export advertises; the
//     buffer stays with the thread until its connection ends. So a server
//     holds at most max_connections x threads x kNbdkitMaxRequestBytes of
//     request buffers, and reaches that with clients that pipeline 64 MiB
//     reads and stop reading replies (tests/test-serve-limits.sh).
//  2. Each value comes from the command line, else pool.conf's [pool], else
//     the default: threads kDefaultServeThreads; max_connections as many as
//     keep caches plus request buffers within half the machine's memory, at
//     least kMinDefaultConnections; caches DefaultMemoryBudgetBytes().
//  3. PlanServeLimits never changes anything; a count above its maximum
//     is InvalidArgument naming it (the caller checks --memory's minimum).
#pragma once

#include <cstdint>
#include <string>

#include "core/pool/config.h"
#include "core/util/status.h"

namespace tessera {

// nbdkit's largest request (contract 1): the export advertises 32 MiB.
inline constexpr uint64_t kNbdkitMaxRequestBytes = 64ull << 20;
// nbdkit's own default is 16; 4 serves as fast here (docs/admin-guide.md,
// "Memory and hostile clients") with a quarter of the buffers.
inline constexpr uint32_t kDefaultServeThreads = 4;
inline constexpr uint32_t kMinDefaultConnections = 4;

struct ServeLimits {
  uint32_t max_connections = 0;
  uint32_t threads = 0;
  uint64_t cache_bytes = 0;
  uint64_t machine_bytes = 0;  // 0: unknown

  uint64_t RequestBufferBytes() const {
    return uint64_t{max_connections} * threads * kNbdkitMaxRequestBytes;
  }
  uint64_t WorstCaseBytes() const { return cache_bytes + RequestBufferBytes(); }
  // "12G: caches 2G + request buffers of 40 clients x 4 threads x 64M", and
  // "(more than this machine's 8G)" when it is.
  std::string Describe() const;
};

// The command line's values (0: not given) over `config`'s (contract 2);
// `machine_bytes` is the machine's memory (MachineMemoryBytes()).
Result<ServeLimits> PlanServeLimits(uint32_t max_connections, uint32_t threads, uint64_t memory_bytes,
                                    const PoolConfig& config, uint64_t machine_bytes);

}  // namespace tessera
