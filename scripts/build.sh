#!/usr/bin/env bash
# Configures and builds Tessera into ./build (or $TESSERA_BUILD_DIR).
# Extra arguments go to cmake, e.g. -DTESSERA_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$BUILD_DIR"
