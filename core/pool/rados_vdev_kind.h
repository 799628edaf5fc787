// The `rados` vdev kind: RADOS objects of a Ceph pool, opened as a
// RadosVdev (vdev_kinds.h contract 1).
//
//   --vdev kind=rados,uri=rados://POOL/PREFIX,size=S[,conf=CEPH_CONF]
//          [,client=NAME][,object_size=4M][,timeout=SECONDS]
//
// Contract
//  1. The `uri` attribute names the Ceph pool and the prefix of the vdev's
//     object names (rados_vdev.h); like an nbd vdev's, it stands for the
//     config's path (config.h). `size` is required: a RADOS pool has none of
//     its own to take. `conf` is the cluster's ceph.conf (default: librados's
//     search, CEPH_CONF or /etc/ceph/ceph.conf), `client` the client's name
//     (default admin), `object_size` the bytes of each object (default 4M),
//     `timeout` bounds connecting and every request (vdev_kinds.h contract 6).
//  2. Create makes nothing (objects appear as they are written) and refuses
//     a prefix whose objects hold a Tessera label at either end
//     (RemoteVdevOpened). It has nothing to undo.
//  3. A cluster that cannot be reached, or that has no such pool, is
//     NotFound ("... is unreachable"), so a pool opens without the vdev when
//     it may run degraded. Bad attributes are InvalidArgument naming the vdev.
#pragma once

#include "core/pool/vdev_kinds.h"

namespace tessera {

inline constexpr char kRadosVdevKind[] = "rados";

Result<OpenedVdev> OpenRadosVdevKind(const VdevConfig& vdev, const VdevOpenOptions& options);

}  // namespace tessera
