#!/usr/bin/env bash
# Installs everything Tessera's build, tests and benchmarks need (Debian 12).
# Does nothing when every package is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  nbdkit nbdkit-plugin-dev libnbd-dev libnbd-bin python3-libnbd
  liburing-dev libjerasure-dev libgf-complete-dev libzstd-dev libxxhash-dev
  libinih-dev libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  fio qemu-utils fuse3 e2fsprogs xfsprogs util-linux
  librocksdb-dev
  libblkid-dev
  librados-dev
)

exec "$(dirname "$0")/apt-ensure.sh" install-deps "${PACKAGES[@]}"
