#!/usr/bin/env bash
# Configures and builds Tessera into ./build (or $TESSERA_BUILD_DIR).
#
#   scripts/build.sh [--target NAME]... [CMAKE-ARGS...]
#
# Without --target, every target is built (the libraries, the plugin, the
# CLI, the unit tests, the thrasher and the benchmarks: what scripts/test.sh
# needs). Each --target NAME builds only that ninja target and what it links,
# e.g. --target tessera --target nbdkit-tessera-plugin (what scripts/run.sh
# serves with). The other arguments go to cmake, e.g. -DTESSERA_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
targets=()
cmake_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --target)
      if [ $# -lt 2 ] || [ -z "$2" ]; then
        echo "build.sh: --target needs a target name (e.g. --target tessera)" >&2
        exit 2
      fi
      targets+=("$2")
      shift 2
      ;;
    *)
      cmake_args+=("$1")
      shift
      ;;
  esac
done
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_args[@]}" >/dev/null
ninja -C "$BUILD_DIR" "${targets[@]}"
