// The `nbd` vdev kind: an export of a remote NBD server, opened as an
// NbdVdev (vdev_kinds.h contract 1).
//
// Contract
//  1. The vdev's `uri` attribute names the export (nbd_vdev.h contract 1);
//     the config's path is the same URI (config.h). `timeout`
//     (vdev_kinds.h contract 6) bounds every request and connection attempt.
//  2. The size is the configured one when set (the export must hold it),
//     else the export's; either must be at least 16 MiB.
//  3. Create makes nothing: the export exists. It refuses an export that
//     already holds a Tessera label at either end, this pool's or another's
//     (RemoteVdevOpened). It has nothing to undo.
//  4. An export that cannot be reached is NotFound ("... is unreachable"),
//     so a pool opens without it when it may run degraded.
#pragma once

#include "core/pool/vdev_kinds.h"

namespace tessera {

inline constexpr char kNbdVdevKind[] = "nbd";

Result<OpenedVdev> OpenNbdVdevKind(const VdevConfig& vdev, const VdevOpenOptions& options);

}  // namespace tessera
