// PoolClient: the Storage management calls, typed, over either transport:
//  - a running server's control socket (SocketTransport), or
//  - a pool this process opened itself (LocalTransport, which owns the
//    Storage and so holds the pool's exclusive lock).
// Both go through the same JSON requests and DispatchRequest, so a command
// behaves identically with and without a server.
//
// Contract
//  1. ConnectOrOpen(dir) prefers the server: if DIR/control.sock accepts a
//     connection it is used; otherwise the pool is opened with
//     Storage::Open. If the pool is locked but no control socket answers
//     (a server still starting, or another CLI command), it retries the
//     socket briefly, then returns Busy "pool DIR is in use by another
//     process".
//  2. Close() of a LocalTransport is Storage::Close (flush + commit); its
//     error is returned. The destructor closes too, ignoring errors.
//  3. Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/control/client.h"
#include "core/control/ops.h"
#include "core/control/protocol.h"
#include "core/volume/storage.h"

namespace tessera {

class ControlTransport {
 public:
  virtual ~ControlTransport() = default;
  // The result of the request, or the Error it failed with. `progress`
  // receives the progress of a request that asked for it; `passed_fd`, when
  // >= 0, goes with the request (dispatch.h contract 4).
  virtual Result<Json> Call(const Json& request, const ProgressFn& progress = {},
                            int passed_fd = -1) = 0;
  virtual Status Close() = 0;
  // True when talking to a running server.
  virtual bool remote() const = 0;
};

class LocalTransport final : public ControlTransport {
 public:
  explicit LocalTransport(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}
  ~LocalTransport() override;
  Result<Json> Call(const Json& request, const ProgressFn& progress = {},
                    int passed_fd = -1) override;
  Status Close() override;
  bool remote() const override { return false; }

 private:
  std::unique_ptr<Storage> storage_;
};

class SocketTransport final : public ControlTransport {
 public:
  SocketTransport(std::unique_ptr<ControlClient> client, std::chrono::milliseconds timeout)
      : client_(std::move(client)), timeout_(timeout) {}
  Result<Json> Call(const Json& request, const ProgressFn& progress = {},
                    int passed_fd = -1) override;
  Status Close() override;
  bool remote() const override { return true; }

 private:
  std::unique_ptr<ControlClient> client_;
  std::chrono::milliseconds timeout_;
};

struct ConnectOptions {
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds call_timeout{600'000};  // pool.check may scan a large pool
  std::chrono::milliseconds busy_retry{2'000};      // contract 1
  StorageOptions storage;
};

Result<std::unique_ptr<ControlTransport>> ConnectOrOpen(const std::string& pool_dir,
                                                        const ConnectOptions& options = {});

// The typed calls. Each op goes through Call<Op> (ops.h): its request is
// built from the op's Fields, its result decoded as the op's Reply. A
// result the server sent that does not decode is IOError ("malformed result
// from the pool"), not a bad argument of the caller's.
class PoolClient {
 public:
  explicit PoolClient(std::unique_ptr<ControlTransport> transport)
      : transport_(std::move(transport)) {}

  // `progress` receives the progress of an op whose request asks for it;
  // `passed_fd` (borrowed), when >= 0, goes with the request (dispatch.h
  // contract 4).
  template <typename Op>
  auto Call(typename Op::Request args, const ProgressFn& progress = {}, int passed_fd = -1)
      -> Result<typename Op::Reply> {
    Json result = TRY(transport_->Call(RequestJson<Op>(std::move(args)), progress, passed_fd));
    if constexpr (std::is_void_v<typename Op::Reply>) {
      return Ok();
    } else {
      return Decoded(ReplyFromJson<typename Op::Reply>(result));
    }
  }

  // Named forms of the calls the CLI makes.
  Result<VolumeInfo> CreateVolume(const VolumeSpec& spec) { return Call<ops::VolumeCreate>(spec); }
  Result<std::vector<VolumeInfo>> ListVolumes() { return Call<ops::VolumeList>({}); }
  Result<VolumeInfo> GetVolumeInfo(const std::string& name) { return Call<ops::VolumeInfoOp>({name}); }
  Status ResizeVolume(const std::string& name, uint64_t new_size, bool force) {
    return Call<ops::VolumeResize>({name, new_size, force});
  }
  Status DeleteVolume(const std::string& name) { return Call<ops::VolumeDelete>({name}); }
  Result<std::string> ExnodeText(const std::string& name) { return Call<ops::ExnodeShow>({name}); }
  Status CreateSnapshot(const std::string& volume, const std::string& snapshot) {
    return Call<ops::SnapshotCreate>({volume, snapshot});
  }
  Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume) {
    return Call<ops::SnapshotList>({volume});
  }
  Status DeleteSnapshot(const std::string& volume, const std::string& snapshot) {
    return Call<ops::SnapshotDelete>({volume, snapshot});
  }
  Result<VolumeInfo> CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                   const std::string& clone) {
    return Call<ops::CloneCreate>({volume, snapshot, clone});
  }
  Result<FlattenProgress> FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes) {
    return Call<ops::VolumeFlatten>({name, offset, max_bytes});
  }
  Status RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force) {
    return Call<ops::SnapshotRollback>({volume, snapshot, force});
  }
  Result<VolumeDiff> DiffVolume(const std::string& volume, const std::string& from, const std::string& to) {
    return Call<ops::VolumeDiffOp>({volume, from, to});
  }
  // The stream file travels as the descriptor `stream_fd` (the caller's,
  // borrowed): a regular file, not one of the pool's (Storage contract).
  Result<DiffStreamInfo> WriteDiffStream(const std::string& volume, const std::string& from,
                                         const std::string& to, int stream_fd) {
    return Call<ops::DiffStream>({volume, from, to}, {}, stream_fd);
  }
  Result<DiffStreamInfo> ApplyDiffStream(const std::string& volume, int stream_fd) {
    return Call<ops::DiffApply>({volume}, {}, stream_fd);
  }
  Result<PoolStatus> GetPoolStatus() { return Call<ops::PoolStatusOp>({}); }
  Result<CheckReport> Check() { return Call<ops::PoolCheck>({}); }
  Status Commit() { return Call<ops::Commit>({}); }
  Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                            const ProgressFn& progress = {}) {
    return Call<ops::VolumeInspect>({name, depth, repair, bool(progress)}, progress);
  }
  Result<ScrubReport> Scrub(const ProgressFn& progress = {}) {
    return Call<ops::PoolScrub>({bool(progress)}, progress);
  }
  Result<std::vector<VdevStatus>> ListVdevs() { return Call<ops::VdevList>({}); }
  Status OfflineVdev(const std::string& name) { return Call<ops::VdevOffline>({name}); }
  Status OnlineVdev(const std::string& name) { return Call<ops::VdevOnline>({name}); }
  Result<VdevReplaceReport> ReplaceVdev(const std::string& name, const std::string& path,
                                        const ProgressFn& progress = {}) {
    return Call<ops::VdevReplace>({name, path, bool(progress)}, progress);
  }

  Status Close() { return transport_->Close(); }
  bool remote() const { return transport_->remote(); }

 private:
  template <typename T>
  static Result<T> Decoded(Result<T> value) {
    if (value) return value;
    return Err(Code::kIOError, "malformed result from the pool: {}", value.error().message());
  }

  std::unique_ptr<ControlTransport> transport_;
};

}  // namespace tessera
