#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the GoogleTest unit
# suites (through ctest) and the end-to-end shell tests in tests/test-*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${TESSERA_BUILD_DIR:-build}
export TESSERA_BUILD_DIR=$BUILD_DIR

scripts/install-deps.sh
scripts/build.sh

echo "== unit tests"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2

shopt -s nullglob
shell_tests=(tests/test-*.sh)
passed=0
failed=0
for t in "${shell_tests[@]}"; do
  echo "== $t"
  if bash "$t"; then
    passed=$((passed + 1))
  else
    echo "FAILED: $t"
    failed=$((failed + 1))
  fi
done
if [ ${#shell_tests[@]} -gt 0 ]; then
  echo "shell tests: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
