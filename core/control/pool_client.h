// PoolClient: the PoolApi (core/volume/pool_api.h) of a running server,
// each call one control op over its control socket (Call<Op>, ops.h).
// Storage is the other PoolApi: the pool opened in this process.
//
// Contract
//  1. ConnectOrOpen(dir) prefers the server: if DIR/control.sock accepts a
//     connection, a PoolClient on it is returned; otherwise the pool is
//     opened with Storage::Open. If the pool is locked but no control socket
//     answers (a server still starting, or another CLI command), it retries
//     the socket briefly, then returns Busy "pool DIR is in use by another
//     process".
//  2. A result the server sent that does not decode is IOError ("malformed
//     result from the pool"), not a bad argument of the caller's; a
//     transport error (timeout, closed connection) is IOError too; errors
//     the server reports keep their code and message.
//  3. Close drops the connection; a call after it is InvalidArgument.
//  4. Not thread-safe: one caller at a time.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/control/client.h"
#include "core/control/ops.h"
#include "core/control/protocol.h"
#include "core/volume/pool_api.h"
#include "core/volume/storage.h"

namespace tessera {

struct ConnectOptions {
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds call_timeout{600'000};  // pool.check may scan a large pool
  std::chrono::milliseconds busy_retry{2'000};      // contract 1
  StorageOptions storage;
};

// Contract 1: a PoolClient, or the Storage opened here.
Result<std::unique_ptr<PoolApi>> ConnectOrOpen(const std::string& pool_dir, const ConnectOptions& options = {});

class PoolClient final : public PoolApi {
 public:
  PoolClient(std::unique_ptr<ControlClient> client, std::chrono::milliseconds timeout)
      : client_(std::move(client)), timeout_(timeout) {}

  // One op: its request built from the op's Fields, its result decoded as
  // the op's Reply (contract 2). `progress` receives the progress of an op
  // whose request asks for it; `passed_fd` (borrowed), when >= 0, goes with
  // the request (dispatch.h contract 4).
  template <typename Op>
  auto Call(typename Op::Request args, const ProgressFn& progress = {}, int passed_fd = -1)
      -> Result<typename Op::Reply> {
    Json result = TRY(Send(RequestJson<Op>(std::move(args)), progress, passed_fd));
    if constexpr (std::is_void_v<typename Op::Reply>) {
      return Ok();
    } else {
      return Decoded(ReplyFromJson<typename Op::Reply>(result));
    }
  }

  Result<VolumeInfo> CreateVolume(const VolumeSpec& spec) override { return Call<ops::VolumeCreate>(spec); }
  Result<std::vector<VolumeInfo>> ListVolumes() override { return Call<ops::VolumeList>({}); }
  Result<VolumeInfo> GetVolumeInfo(const std::string& name) override { return Call<ops::VolumeInfoOp>({name}); }
  Status ResizeVolume(const std::string& name, uint64_t new_size, bool force) override {
    return Call<ops::VolumeResize>({name, new_size, force});
  }
  Status DeleteVolume(const std::string& name) override { return Call<ops::VolumeDelete>({name}); }
  Status RenameVolume(const std::string& name, const std::string& new_name) override {
    return Call<ops::VolumeRename>({name, new_name});
  }
  Result<std::string> ExnodeText(const std::string& name) override { return Call<ops::ExnodeShow>({name}); }
  Status CreateSnapshot(const std::string& volume, const std::string& snapshot) override {
    return Call<ops::SnapshotCreate>({volume, snapshot});
  }
  Result<std::vector<SnapshotInfo>> ListSnapshots(const std::string& volume) override {
    return Call<ops::SnapshotList>({volume});
  }
  Status DeleteSnapshot(const std::string& volume, const std::string& snapshot) override {
    return Call<ops::SnapshotDelete>({volume, snapshot});
  }
  Result<VolumeInfo> CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                   const std::string& clone) override {
    return Call<ops::CloneCreate>({volume, snapshot, clone});
  }
  Result<FlattenProgress> FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes) override {
    return Call<ops::VolumeFlatten>({name, offset, max_bytes});
  }
  Result<MoveProgress> MoveVolume(const std::string& name, Tier tier) override {
    return Call<ops::VolumeMove>({name, tier});
  }
  Status RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force,
                          bool destroy_newer = false) override {
    return Call<ops::SnapshotRollback>({volume, snapshot, force, destroy_newer});
  }
  Result<VolumeDiff> DiffVolume(const std::string& volume, const std::string& from,
                                const std::string& to) override {
    return Call<ops::VolumeDiffOp>({volume, from, to});
  }
  // The stream file travels as the descriptor `stream_fd` (the caller's,
  // borrowed) with the request.
  Result<DiffStreamInfo> WriteDiffStream(const std::string& volume, const std::string& from,
                                         const std::string& to, int stream_fd) override {
    return Call<ops::DiffStream>({volume, from, to}, {}, stream_fd);
  }
  Result<DiffStreamInfo> ApplyDiffStream(const std::string& volume, int stream_fd) override {
    return Call<ops::DiffApply>({volume}, {}, stream_fd);
  }
  Result<PoolStatus> GetPoolStatus() override { return Call<ops::PoolStatusOp>({}); }
  Result<PoolIoReport> GetIoReport() override { return Call<ops::PoolIostat>({}); }
  Result<CheckReport> Check() override { return Call<ops::PoolCheck>({}); }
  Result<VolumeInspectReport> InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                            const ProgressFn& progress) override {
    return Call<ops::VolumeInspect>({name, depth, repair, bool(progress)}, progress);
  }
  Result<ScrubReport> Scrub(const ProgressFn& progress) override {
    return Call<ops::PoolScrub>({bool(progress)}, progress);
  }
  Result<std::vector<VdevStatus>> ListVdevs() override { return Call<ops::VdevList>({}); }
  Status OfflineVdev(const std::string& name) override { return Call<ops::VdevOffline>({name}); }
  Result<VdevOnlineReport> OnlineVdev(const std::string& name) override { return Call<ops::VdevOnline>({name}); }
  Result<VdevReplaceReport> ReplaceVdev(const std::string& name, const std::string& path,
                                        const ProgressFn& progress) override {
    return Call<ops::VdevReplace>({name, path, bool(progress)}, progress);
  }
  Result<VdevStatus> AddVdev(const VdevSpec& spec) override { return Call<ops::VdevAdd>(spec); }
  Result<VdevStatus> GrowVdev(const std::string& name, uint64_t new_size) override {
    return Call<ops::VdevGrow>({name, new_size});
  }
  Result<VdevRemoveProgress> RemoveVdev(const std::string& name) override { return Call<ops::VdevRemove>({name}); }
  Result<RebalanceProgress> RebalancePool() override { return Call<ops::PoolRebalance>({}); }
  Status Commit() override { return Call<ops::Commit>({}); }

  Status Close() override;
  bool remote() const override { return true; }

 private:
  Result<Json> Send(const Json& request, const ProgressFn& progress, int passed_fd);
  template <typename T>
  static Result<T> Decoded(Result<T> value) {
    if (value) return value;
    return Err(Code::kIOError, "malformed result from the pool: {}", value.error().message());
  }

  std::unique_ptr<ControlClient> client_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tessera
