#!/usr/bin/env bash
# Installs what only the tests need, on top of scripts/install-deps.sh
# (Debian 12): gnutls-bin for the TLS tests (psktool, certtool); clang 16
# and its libFuzzer runtime for the fuzz targets (scripts/fuzz.sh; clang 14,
# Debian's default, cannot compile std::expected, see fuzz/flags.cmake).
# Does nothing when every package is already present.
set -euo pipefail

PACKAGES=(
  gnutls-bin
  clang-16
  libclang-rt-16-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-test-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
