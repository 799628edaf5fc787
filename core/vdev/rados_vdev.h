// RadosVdev: a Vdev on a set of RADOS objects of a Ceph pool, reached
// through librados's asynchronous API. The vdev's bytes are cut into
// objects of options.object_size: object i, named PREFIX.%016x, holds bytes
// [i * object_size, (i + 1) * object_size). Objects appear as they are
// written; an object never written reads as zeros.
//
// Contract
//  1. Open() connects to the cluster of options.conf (a ceph.conf) as
//     client options.client within options.timeout, and opens the RADOS
//     pool options.pool. A cluster that cannot be reached, or a pool it
//     does not have, is NotFound; a bad option (no pool or prefix, an
//     object size that is not a multiple of 4 KiB or above 128 MiB, a zero
//     size) or a configuration librados refuses is InvalidArgument. Errors
//     name the vdev ("rados:POOL/PREFIX").
//  2. Size() is options.size; RADOS pools have no size of their own.
//  3. SubmitBatch/Flush/Read/Write/Discard are thread-safe; every request of
//     a batch, cut at object boundaries, is in flight at once. An invalid
//     batch fails whole with InvalidArgument and sends nothing (vdev.h
//     contract 5).
//  4. Reads of a missing object, or past a short object's end, give zeros.
//     Discard makes the range read back as zeros: a whole object is removed,
//     a part of one is zeroed.
//  5. Failure: a request the cluster fails, or that does not complete
//     within options.timeout (an OSD or the cluster away), gets IOError
//     naming the vdev, the operation, the block and librados's reason; the
//     others of its batch still complete. No request waits much longer
//     than the timeout (librados's rados_osd_op_timeout). librados itself
//     reconnects to a cluster that comes back.
//  5a. A cluster that lets a request time out is taken to be away: from
//     then on every request fails at once with IOError "... is not
//     answering", instead of each waiting its timeout again, while one
//     probe at a time (a stat of the vdev's first object, started by a
//     request) asks the cluster in the background. The first probe that
//     gets an answer (any result but a timeout) ends it. So a read that
//     would wait for several chunks of a cluster that is gone fails within
//     about one timeout, and a cluster that is back serves again within one
//     timeout of the next request, as an nbd depot does.
//  6. Durability: Ceph completes a write only once every replica of the
//     object has it on stable storage, so a write is durable when its batch
//     returns Ok; Flush waits for nothing in flight and returns Ok. (A
//     crash cannot tear a completed write, but may tear one in flight:
//     vdev.h contract 3 holds.)
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/vdev/vdev.h"

namespace tessera {

struct RadosVdevOptions {
  // A ceph.conf naming the monitors (and keyring, when the cluster uses
  // cephx); empty: librados's search path (CEPH_CONF, /etc/ceph/ceph.conf).
  std::string conf;
  // The client's name without "client." (its key in the keyring).
  std::string client = "admin";
  std::string pool;
  std::string prefix;
  BlockCount size;
  uint64_t object_size = 4ull << 20;
  // Connecting, and each request; rounded up to whole seconds.
  std::chrono::milliseconds timeout{10000};
};

inline constexpr uint64_t kMaxRadosObjectBytes = 128ull << 20;

class RadosVdev final : public Vdev {
 public:
  static Result<std::unique_ptr<RadosVdev>> Open(const RadosVdevOptions& options);
  ~RadosVdev() override;
  RadosVdev(const RadosVdev&) = delete;
  RadosVdev& operator=(const RadosVdev&) = delete;

  BlockCount Size() const override { return options_.size; }
  std::string Describe() const override { return "rados:" + options_.pool + "/" + options_.prefix; }
  Status SubmitBatch(std::span<IoRequest> batch) override;
  Status Flush() override;

  // The object that holds byte `offset` of the vdev.
  std::string ObjectName(uint64_t offset) const;

 private:
  struct Connection;
  RadosVdev(RadosVdevOptions options, std::unique_ptr<Connection> connection);

  // Contract 5a: Ok when answering; else an error for every request of
  // the batch, and a probe started unless one runs.
  Status RefuseWhileAway(std::span<IoRequest> batch);
  static void ProbeDone(void* completion, void* vdev);

  const RadosVdevOptions options_;
  // Contract 5a. Before connection_, whose destructor waits for the probe
  // whose callback sets them.
  std::atomic<bool> away_{false};
  std::atomic<bool> probing_{false};
  const std::unique_ptr<Connection> connection_;
};

}  // namespace tessera
