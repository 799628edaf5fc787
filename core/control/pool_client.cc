// PoolClient and its transports.
//
// Design notes
//  1. Routing order (ConnectOrOpen): socket -> Storage::Open -> (Busy) socket
//     again until busy_retry passes -> Busy. The second socket attempt covers
//     the window in which nbdkit holds the lock (get_ready) but has not yet
//     started the control server (after_fork).
//  2. A transport error from the socket (timeout, closed connection) is
//     IOError; errors the server reports keep their code.
#include "core/control/pool_client.h"

#include "core/control/clone_protocol.h"

#include <thread>

#include "core/control/dispatch.h"
#include "core/control/map_error.h"
#include "core/control/protocol_repair.h"

namespace tessera {

std::string ControlSocketPath(const std::string& pool_dir) { return pool_dir + "/control.sock"; }

LocalTransport::~LocalTransport() { (void)Close(); }

Result<Json> LocalTransport::Call(const Json& request, const ProgressFn& progress, int passed_fd) {
  if (!storage_) return Err(Code::kInvalidArgument, "pool is closed");
  return ResultFromResponse(DispatchRequest(*storage_, request, progress, passed_fd));
}

Status LocalTransport::Close() {
  if (!storage_) return Ok();
  Status status = storage_->Close();
  storage_.reset();
  return status;
}

Result<Json> SocketTransport::Call(const Json& request, const ProgressFn& progress, int passed_fd) {
  if (!client_) return Err(Code::kInvalidArgument, "control connection is closed");
  return client_->Call(request, timeout_, progress, passed_fd);
}

Status SocketTransport::Close() {
  client_.reset();
  return Ok();
}

Result<std::unique_ptr<ControlTransport>> ConnectOrOpen(const std::string& pool_dir,
                                                        const ConnectOptions& options) {
  const std::string socket = ControlSocketPath(pool_dir);
  auto connect = [&]() -> Result<std::unique_ptr<ControlTransport>> {
    auto client = TRY(ControlClient::Connect(socket, options.connect_timeout));
    return std::make_unique<SocketTransport>(std::move(client), options.call_timeout);
  };
  auto remote = connect();
  if (remote || remote.error().code() != Code::kNotFound) return remote;

  auto deadline = std::chrono::steady_clock::now() + options.busy_retry;
  for (;;) {
    auto storage = Storage::Open(pool_dir, options.storage);
    if (storage) return std::make_unique<LocalTransport>(std::move(*storage));
    if (storage.error().code() != Code::kBusy) return std::unexpected(storage.error());
    remote = connect();
    if (remote || remote.error().code() != Code::kNotFound) return remote;
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::unexpected(storage.error());  // Busy: "pool DIR is in use by another process"
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

namespace {

// A result the server sent that does not decode is the server's fault, not a
// bad argument of ours (design note 2).
template <typename T>
Result<T> Decoded(Result<T> value) {
  return MapError(std::move(value), [](const Error& e) {
    return Error(Code::kIOError, fmt::format("malformed result from the pool: {}", e.message()));
  });
}

}  // namespace

Status PoolClient::CallForStatus(const Json& request) {
  TRY(transport_->Call(request));
  return Ok();
}

Result<VolumeInfo> PoolClient::CreateVolume(const VolumeSpec& spec) {
  return Decoded(VolumeInfoFromJson(TRY(transport_->Call(VolumeCreateRequest(spec)))));
}

Result<std::vector<VolumeInfo>> PoolClient::ListVolumes() {
  return Decoded(VolumeInfosFromJson(TRY(transport_->Call(VolumeListRequest()))));
}

Result<VolumeInfo> PoolClient::GetVolumeInfo(const std::string& name) {
  return Decoded(VolumeInfoFromJson(TRY(transport_->Call(VolumeInfoRequest(name)))));
}

Status PoolClient::ResizeVolume(const std::string& name, uint64_t new_size, bool force) {
  return CallForStatus(VolumeResizeRequest(name, new_size, force));
}

Status PoolClient::DeleteVolume(const std::string& name) {
  return CallForStatus(VolumeDeleteRequest(name));
}

Result<std::string> PoolClient::ExnodeText(const std::string& name) {
  return Decoded(StringFromJson(TRY(transport_->Call(ExnodeShowRequest(name)))));
}

Status PoolClient::CreateSnapshot(const std::string& volume, const std::string& snapshot) {
  return CallForStatus(SnapshotRequest(kOpSnapshotCreate, volume, snapshot));
}

Result<std::vector<SnapshotInfo>> PoolClient::ListSnapshots(const std::string& volume) {
  return Decoded(SnapshotInfosFromJson(TRY(transport_->Call(SnapshotListRequest(volume)))));
}

Status PoolClient::DeleteSnapshot(const std::string& volume, const std::string& snapshot) {
  return CallForStatus(SnapshotRequest(kOpSnapshotDelete, volume, snapshot));
}

Result<VolumeDiff> PoolClient::DiffVolume(const std::string& volume, const std::string& from,
                                          const std::string& to) {
  return Decoded(VolumeDiffFromJson(TRY(transport_->Call(VolumeDiffRequest(volume, from, to)))));
}

Result<DiffStreamInfo> PoolClient::WriteDiffStream(const std::string& volume, const std::string& from,
                                                   const std::string& to, int stream_fd) {
  return Decoded(
      DiffStreamInfoFromJson(TRY(transport_->Call(DiffStreamRequest(volume, from, to), {}, stream_fd))));
}

Result<DiffStreamInfo> PoolClient::ApplyDiffStream(const std::string& volume, int stream_fd) {
  return Decoded(DiffStreamInfoFromJson(TRY(transport_->Call(DiffApplyRequest(volume), {}, stream_fd))));
}

Result<PoolStatus> PoolClient::GetPoolStatus() {
  return Decoded(PoolStatusFromJson(TRY(transport_->Call(PoolStatusRequest()))));
}

Result<CheckReport> PoolClient::Check() {
  return Decoded(CheckReportFromJson(TRY(transport_->Call(PoolCheckRequest()))));
}

Status PoolClient::Commit() { return CallForStatus(CommitRequest()); }

Result<VolumeInfo> PoolClient::CloneSnapshot(const std::string& volume, const std::string& snapshot,
                                             const std::string& clone) {
  return Decoded(VolumeInfoFromJson(TRY(transport_->Call(CloneCreateRequest(volume, snapshot, clone)))));
}

Result<FlattenProgress> PoolClient::FlattenVolume(const std::string& name, uint64_t offset, uint64_t max_bytes) {
  return Decoded(FlattenProgressFromJson(TRY(transport_->Call(VolumeFlattenRequest(name, offset, max_bytes)))));
}

Status PoolClient::RollbackSnapshot(const std::string& volume, const std::string& snapshot, bool force) {
  return CallForStatus(SnapshotRollbackRequest(volume, snapshot, force));
}

Result<VolumeInspectReport> PoolClient::InspectVolume(const std::string& name, InspectDepth depth, bool repair,
                                                      const ProgressFn& progress) {
  Json request = VolumeInspectRequest(name, depth, repair, bool(progress));
  return Decoded(VolumeInspectReportFromJson(TRY(transport_->Call(request, progress))));
}

Result<ScrubReport> PoolClient::Scrub(const ProgressFn& progress) {
  return Decoded(ScrubReportFromJson(TRY(transport_->Call(PoolScrubRequest(bool(progress)), progress))));
}

Result<std::vector<VdevStatus>> PoolClient::ListVdevs() {
  return Decoded(VdevStatusesFromJson(TRY(transport_->Call(VdevListRequest()))));
}

Status PoolClient::OfflineVdev(const std::string& name) { return CallForStatus(VdevRequest(kOpVdevOffline, name)); }
Status PoolClient::OnlineVdev(const std::string& name) { return CallForStatus(VdevRequest(kOpVdevOnline, name)); }

Result<VdevReplaceReport> PoolClient::ReplaceVdev(const std::string& name, const std::string& path,
                                                  const ProgressFn& progress) {
  Json request = VdevReplaceRequest(name, path, bool(progress));
  return Decoded(VdevReplaceReportFromJson(TRY(transport_->Call(request, progress))));
}

}  // namespace tessera
