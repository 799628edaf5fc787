#!/usr/bin/env bash
# Installs what only the tests need, on top of scripts/install-deps.sh
# (Debian 12): gnutls-bin for the TLS tests (psktool, certtool); clang 16
# and its libFuzzer runtime for the fuzz targets (scripts/fuzz.sh; clang 14,
# Debian's default, cannot compile std::expected, see fuzz/flags.cmake);
# systemd for the unit test (systemd-escape, systemd-analyze); for the VM
# boot test (tests/test-vm-boot.sh) qemu-system-x86, a kernel with its
# modules (linux-image-amd64), busybox-static for the guest and cpio for its
# initramfs. tiny-initramfs is the initramfs tool the kernel package
# requires: the test builds its own initramfs, and the default tool,
# initramfs-tools, would bring udev and build a large initramfs in /boot.
# fdisk (sfdisk) writes the partition tables that the block-device tests
# (tests/unit/pool/device_contents_test.cc, tests/test-block-vdevs.sh)
# expect a pool create to refuse.
# Does nothing when every package is already present.
set -euo pipefail

PACKAGES=(
  gnutls-bin
  clang-16
  libclang-rt-16-dev
  systemd
  qemu-system-x86
  linux-image-amd64
  tiny-initramfs
  busybox-static
  cpio
  fdisk
)

exec "$(dirname "$0")/apt-ensure.sh" install-test-deps "${PACKAGES[@]}"
