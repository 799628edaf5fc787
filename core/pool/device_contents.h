// Block devices as vdevs: what a device holds that a new vdev would
// overwrite, and clearing the labels a failed create left on a device it
// did not make (the file kind, core/pool/file_vdev_kind.cc, and
// core/volume/storage.cc and storage_vdev_add.cc use these).
//
// Contract
//  1. DeviceContents reads, never writes. It looks for a Tessera label at
//     block 0 and at the last block of `device` (a copy that verifies
//     counts; a damaged one cannot be told from data), then for every
//     signature libblkid knows in the file or device at `path`
//     (filesystems, RAID, volume-manager and encrypted members, swap,
//     partition tables). `device` and `path` are the same device, opened
//     by the caller. Each finding is a phrase for an error message: "an
//     ext4 filesystem", "a dos partition table", "a Tessera vdev label of
//     pool UUID (vdev 'NAME')". Nothing found: an empty vector. IOError when
//     the device cannot be read or probed.
//  2. ClearLabels zeroes each of block 0 and the last block of `device`
//     that holds a Tessera label, and flushes; no other block is touched,
//     so a device the failed create never wrote keeps what it held. Best
//     effort: it runs as an undo, which has no one to report to. Any
//     thread; the caller owns the device.
#pragma once

#include <string>
#include <vector>

#include "core/util/status.h"
#include "core/vdev/vdev.h"

namespace tessera {

Result<std::vector<std::string>> DeviceContents(Vdev& device, const std::string& path);

void ClearLabels(Vdev& device);

}  // namespace tessera
