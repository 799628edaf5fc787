#!/usr/bin/env bash
# Installs what only the tests need, on top of scripts/install-deps.sh
# (Debian 12): gnutls-bin for the TLS tests (psktool, certtool); clang 16
# and its libFuzzer runtime for the fuzz targets (scripts/fuzz.sh; clang 14,
# Debian's default, cannot compile std::expected, see fuzz/flags.cmake);
# systemd for the unit test (systemd-escape, systemd-analyze).
# Does nothing when every package is already present.
set -euo pipefail

PACKAGES=(
  gnutls-bin
  clang-16
  libclang-rt-16-dev
  systemd
)

exec "$(dirname "$0")/apt-ensure.sh" install-test-deps "${PACKAGES[@]}"
