// RadosVdev (rados_vdev.h): requests become librados aio operations on one
// cluster handle and one I/O context.
//
// Design notes
//  1. A batch is cut into pieces at object boundaries; every piece is
//     submitted, then every piece waited for, and each request takes the
//     first failure of its pieces. Nothing is shared between batches but the
//     I/O context, which librados makes safe to use from many threads.
//  2. librados waits forever by default: Open sets client_mount_timeout,
//     rados_mon_op_timeout and rados_osd_op_timeout to the vdev's timeout
//     (rounded up to whole seconds, which is what they take), so a cluster
//     that is away fails requests with ETIMEDOUT (contract 5).
//  3. A discard of a whole object removes it, and one of a part zeroes that
//     part; either is a no-op on an object that does not exist (ENOENT is
//     taken as success), as a read of one is zeros (contract 4).
//  4. librados's own logging to stderr is turned off: its errors are the
//     return codes, which the vdev's errors carry.
//  5. Away (contract 5a) is two atomics, not a lock: a request that times
//     out sets away_; a request that finds it set claims probing_ and
//     starts one aio stat, whose callback (on a librados thread) clears
//     away_ unless the stat timed out, then probing_. The probe's
//     completion is kept until the next probe or the destructor releases
//     it (after waiting for it): librados's callback does not release its
//     own completion.
#include "core/vdev/rados_vdev.h"

#include <rados/librados.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/util/align.h"

namespace tessera {

struct RadosVdev::Connection {
  rados_t cluster = nullptr;
  rados_ioctx_t io = nullptr;
  // Contract 5a's probe: its completion and what the stat fills in.
  rados_completion_t probe = nullptr;
  uint64_t probe_size = 0;
  time_t probe_mtime = 0;
  ~Connection() {
    if (probe != nullptr) {
      rados_aio_wait_for_complete_and_cb(probe);
      rados_aio_release(probe);
    }
    if (io != nullptr) rados_ioctx_destroy(io);
    if (cluster != nullptr) rados_shutdown(cluster);
  }
};

namespace {

std::string Reason(int rc) { return std::strerror(-rc); }

Status CheckOptions(const RadosVdevOptions& o, const std::string& what) {
  if (o.pool.empty() || o.prefix.empty()) {
    return Err(Code::kInvalidArgument, "{}: a rados vdev needs a pool and an object prefix", what);
  }
  if (o.object_size == 0 || !IsAligned(o.object_size, kBlockSize) ||
      o.object_size > kMaxRadosObjectBytes) {
    return Err(Code::kInvalidArgument,
               "{}: object size {} is not a multiple of 4 KiB up to 128 MiB", what, o.object_size);
  }
  if (o.size.value == 0) return Err(Code::kInvalidArgument, "{}: a rados vdev needs a size", what);
  return Ok();
}

// One piece of a request: a part of one object (note 1).
struct Piece {
  size_t request = 0;
  std::string object;
  uint64_t within = 0;  // offset in the object
  uint64_t length = 0;
  std::byte* data = nullptr;  // kRead, kWrite
  bool whole_object = false;
  rados_completion_t done = nullptr;
  rados_write_op_t zero = nullptr;
  int rc = 0;  // librados's result: bytes read, or 0, or -errno
};

}  // namespace

Result<std::unique_ptr<RadosVdev>> RadosVdev::Open(const RadosVdevOptions& options) {
  const std::string what = "rados:" + options.pool + "/" + options.prefix;
  TRY_STATUS(CheckOptions(options, what));
  auto c = std::make_unique<Connection>();
  int rc = rados_create(&c->cluster, options.client.c_str());
  if (rc < 0)
    return Err(Code::kInvalidArgument, "{}: cannot make a librados handle: {}", what, Reason(rc));
  rc = rados_conf_read_file(c->cluster, options.conf.empty() ? nullptr : options.conf.c_str());
  if (rc < 0) {
    return Err(Code::kInvalidArgument, "{}: cannot read the Ceph configuration {}: {}", what,
               options.conf.empty() ? "(CEPH_CONF or /etc/ceph/ceph.conf)" : options.conf,
               Reason(rc));
  }
  // Whole seconds: Ceph's timeouts take no fraction.
  const std::string seconds =
      std::to_string(std::max<int64_t>(1, (options.timeout.count() + 999) / 1000));
  for (const char* key : {"client_mount_timeout", "rados_mon_op_timeout", "rados_osd_op_timeout"}) {
    rc = rados_conf_set(c->cluster, key, seconds.c_str());
    if (rc < 0) return Err(Code::kInvalidArgument, "{}: cannot set {}: {}", what, key, Reason(rc));
  }
  for (const char* key : {"log_to_stderr", "err_to_stderr"})
    (void)rados_conf_set(c->cluster, key, "false");
  rc = rados_connect(c->cluster);
  if (rc < 0) {
    return Err(Code::kNotFound, "{}: cannot reach the Ceph cluster{}: {}", what,
               options.conf.empty() ? "" : " of " + options.conf, Reason(rc));
  }
  rc = rados_ioctx_create(c->cluster, options.pool.c_str(), &c->io);
  if (rc == -ENOENT)
    return Err(Code::kNotFound, "{}: the Ceph cluster has no pool '{}'", what, options.pool);
  if (rc < 0)
    return Err(Code::kIOError, "{}: cannot open pool '{}': {}", what, options.pool, Reason(rc));
  return std::unique_ptr<RadosVdev>(new RadosVdev(options, std::move(c)));
}

RadosVdev::RadosVdev(RadosVdevOptions options, std::unique_ptr<Connection> connection)
    : options_(std::move(options)), connection_(std::move(connection)) {}

RadosVdev::~RadosVdev() = default;

std::string RadosVdev::ObjectName(uint64_t offset) const {
  return fmt::format("{}.{:016x}", options_.prefix, offset / options_.object_size);
}

Status RadosVdev::RefuseWhileAway(std::span<IoRequest> batch) {
  if (!away_.load(std::memory_order_acquire)) return Ok();
  if (!probing_.exchange(true, std::memory_order_acq_rel)) {
    Connection& c = *connection_;
    if (c.probe != nullptr) {  // the last probe's, done (note 5)
      rados_aio_wait_for_complete_and_cb(c.probe);
      rados_aio_release(c.probe);
    }
    c.probe = nullptr;
    int rc = rados_aio_create_completion2(this, &RadosVdev::ProbeDone, &c.probe);
    if (rc >= 0) {
      rc = rados_aio_stat(c.io, ObjectName(0).c_str(), c.probe, &c.probe_size, &c.probe_mtime);
    }
    if (rc < 0) probing_.store(false, std::memory_order_release);
  }
  Status away = Err(Code::kIOError,
                    "{}: the Ceph cluster is not answering (a request timed out after {} ms); "
                    "requests fail at once until it answers again",
                    Describe(), options_.timeout.count());
  for (IoRequest& r : batch) r.result = away;
  return away;
}

void RadosVdev::ProbeDone(void* completion, void* vdev) {
  auto* self = static_cast<RadosVdev*>(vdev);
  if (rados_aio_get_return_value(static_cast<rados_completion_t>(completion)) != -ETIMEDOUT) {
    self->away_.store(false, std::memory_order_release);
  }
  self->probing_.store(false, std::memory_order_release);
}

Status RadosVdev::SubmitBatch(std::span<IoRequest> batch) {
  TRY_STATUS(CheckBatch(batch));
  TRY_STATUS(RefuseWhileAway(batch));
  rados_ioctx_t io = connection_->io;
  std::vector<Piece> pieces;
  for (size_t i = 0; i < batch.size(); i++) {
    IoRequest& r = batch[i];
    r.result = Ok();
    const uint64_t start = r.block.value * kBlockSize;
    const uint64_t length = r.op == IoOp::kDiscard ? r.discard_count.bytes() : r.buffer.size();
    for (uint64_t done = 0; done < length;) {
      const uint64_t at = start + done;
      const uint64_t within = at % options_.object_size;
      const uint64_t n = std::min(length - done, options_.object_size - within);
      pieces.push_back({.request = i,
                        .object = ObjectName(at),
                        .within = within,
                        .length = n,
                        .data = r.op == IoOp::kDiscard ? nullptr : r.buffer.data() + done,
                        .whole_object = n == options_.object_size});
      done += n;
    }
  }
  for (Piece& p : pieces) {
    p.rc = rados_aio_create_completion2(nullptr, nullptr, &p.done);
    if (p.rc < 0) {
      p.done = nullptr;
      continue;
    }
    const char* oid = p.object.c_str();
    switch (batch[p.request].op) {
      case IoOp::kRead:
        p.rc = rados_aio_read(io, oid, p.done, reinterpret_cast<char*>(p.data), p.length, p.within);
        break;
      case IoOp::kWrite:
        p.rc = rados_aio_write(io, oid, p.done, reinterpret_cast<const char*>(p.data), p.length,
                               p.within);
        break;
      case IoOp::kDiscard:
        if (p.whole_object) {
          p.rc = rados_aio_remove(io, oid, p.done);
        } else {
          p.zero = rados_create_write_op();
          rados_write_op_zero(p.zero, p.within, p.length);
          p.rc = rados_aio_write_op_operate(p.zero, io, p.done, oid, nullptr, 0);
        }
        break;
    }
  }
  for (Piece& p : pieces) {
    if (p.done == nullptr) continue;
    if (p.rc >= 0) {
      rados_aio_wait_for_complete(p.done);
      p.rc = rados_aio_get_return_value(p.done);
    }
    rados_aio_release(p.done);
    if (p.zero != nullptr) rados_release_write_op(p.zero);
  }
  if (std::any_of(pieces.begin(), pieces.end(),
                  [](const Piece& p) { return p.rc == -ETIMEDOUT; })) {
    away_.store(true, std::memory_order_release);
  }
  Status first = Ok();
  for (const Piece& p : pieces) {
    IoRequest& r = batch[p.request];
    int rc = p.rc;
    if (r.op == IoOp::kRead && rc >= 0) {  // a short object reads as zeros past its end
      const uint64_t got = std::min<uint64_t>(static_cast<uint64_t>(rc), p.length);
      std::memset(p.data + got, 0, p.length - got);
      continue;
    }
    if (rc == -ENOENT) {  // note 3: a missing object is zeros
      if (r.op == IoOp::kRead) std::memset(p.data, 0, p.length);
      if (r.op != IoOp::kWrite) continue;
    }
    if (rc >= 0 || !r.result) continue;
    r.result =
        Err(Code::kIOError, "{}: {} at block {} (+{} bytes in object {} at {}): {}", Describe(),
            IoOpName(r.op), r.block.value, p.length, p.object, p.within, Reason(rc));
    if (first) first = r.result;
  }
  return first;
}

Status RadosVdev::Flush() {
  // Contract 6: every completed write is durable already.
  int rc = rados_aio_flush(connection_->io);
  if (rc < 0) return Err(Code::kIOError, "{}: flush: {}", Describe(), Reason(rc));
  return Ok();
}

}  // namespace tessera
