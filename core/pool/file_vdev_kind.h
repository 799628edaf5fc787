// The `file` vdev kind: a regular file (created sparse or preallocated) or
// a block device, opened as a FileVdev (vdev_kinds.h contract 1).
//
// Contract
//  1. The vdev's `io` attribute picks read-cache (the default), direct or
//     buffered; `preallocate` picks sparse (the default) or full. Create
//     makes a regular file and refuses an existing one; a block device is
//     used as it is (contract 3), and has nothing to undo.
//  2. A path that does not exist is NotFound ("... is missing").
//  3. A block device (or a symbolic link to one) is used whole and as it
//     is: never created, truncated, chmod-ed or removed, and held O_EXCL
//     while it is open (core/vdev/file_vdev.h), so a mounted device, or one
//     another pool uses, is Busy. Create refuses, with InvalidArgument and
//     before anything is written: a configured size other than the
//     device's (0 means the device's); and, unless options.force, a device
//     that holds a filesystem, a partition table, another signature
//     libblkid knows or a Tessera label (core/pool/device_contents.h), the
//     error naming what it holds.
#pragma once

#include "core/pool/vdev_kinds.h"

namespace tessera {

Result<OpenedVdev> OpenFileVdevKind(const VdevConfig& vdev, const VdevOpenOptions& options);

// The size a file vdev is created with: its configured size, or, when that
// is 0, the size of the block device at its path (contract 3). A size of 0
// on a path that is no block device is InvalidArgument naming the vdev.
// Reads the device's size only; claims and changes nothing.
Result<uint64_t> FileVdevSize(const VdevConfig& vdev);

}  // namespace tessera
