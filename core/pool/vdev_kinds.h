// Vdev kinds: how a vdev of pool.conf becomes a device. A vdev's `kind`
// attribute names its opener (`file` when absent); OpenVdevs runs the
// openers of a whole config.
//
// Contract
//  1. An opener opens one vdev from its VdevConfig, or with options.create
//     makes it (of the configured size) and refuses to overwrite an existing
//     one. A vdev that is not there is NotFound: the opener says what missing
//     means for its kind. Its errors name the vdev (VdevDescription). It may
//     return an undo that removes what its create made.
//  2. OpenVdevs checks every vdev's kind before opening any: an unknown kind
//     is InvalidArgument naming the vdev and the known kinds, and nothing is
//     opened or created.
//  3. OpenVdevs returns the devices in config order. With allow_missing (and
//     not create), a vdev configured offline is not opened and a NotFound
//     from its opener is not an error: both give a null device (pool.h
//     contract 1a). A removed vdev (config.h) is never opened: a null
//     device, always.
//  4. When one vdev fails, the devices opened so far are closed, the undos
//     of the ones created run (last first), and the opener's error is
//     returned.
//  5. RegisterVdevKind adds a kind at run time (tests, plugins); a name
//     already taken is InvalidArgument. The built-in kinds are in the table
//     in vdev_kinds.cc. Registering and opening may run on any thread.
//  6. Helpers for the openers of remote kinds (nbd, rados), whose create
//     makes nothing: VdevTimeout reads the `timeout` attribute (seconds, or
//     milliseconds with an `ms` suffix; 1 ms to 3600 s; default 10 s).
//     RemoteVdevOpened finishes an open: a device that was not reached
//     (NotFound) is NotFound "VDEV is unreachable: ...", other errors gain
//     the vdev's description, and a create refuses a device that holds a
//     Tessera label at either end (Pool::Create writes block 0 and the last
//     block), as the file kind refuses an existing file. A damaged label
//     (magic present, checksum bad) is not refused: it cannot be told from
//     data.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/pool/config.h"
#include "core/util/status.h"
#include "core/vdev/vdev.h"

namespace tessera {

inline constexpr char kDefaultVdevKind[] = "file";

struct VdevOpenOptions {
  bool create = false;
  bool use_io_uring = true;
  // False: no O_DIRECT, whatever a vdev's `io` attribute asks.
  bool allow_direct = true;
  // With create: take an existing device whatever it holds (a filesystem,
  // a partition table, another pool's label); see file_vdev_kind.h.
  bool force = false;
  // Read by OpenVdevs only (contract 3); openers never see it set.
  bool allow_missing = false;
};

struct OpenedVdev {
  std::shared_ptr<Vdev> device;
  // Undoes a create (contract 4); empty when there is nothing to undo.
  std::function<void()> undo_create;
};

using VdevOpener = std::function<Result<OpenedVdev>(const VdevConfig&, const VdevOpenOptions&)>;

// The vdev's `kind` attribute, or kDefaultVdevKind.
std::string VdevKind(const VdevConfig& vdev);
std::vector<std::string> KnownVdevKinds();
Status RegisterVdevKind(const std::string& kind, VdevOpener opener);
Result<std::vector<std::shared_ptr<Vdev>>> OpenVdevs(const PoolConfig& config, const VdevOpenOptions& options);

// Contract 6.
Result<std::chrono::milliseconds> VdevTimeout(const VdevConfig& vdev);
Result<OpenedVdev> RemoteVdevOpened(Result<std::unique_ptr<Vdev>> device, const VdevConfig& vdev,
                                    const VdevOpenOptions& options);

}  // namespace tessera
