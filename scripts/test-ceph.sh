#!/usr/bin/env bash
# Runs the tests of the `rados` vdev kind against a real Ceph cluster:
# installs Ceph's packages (scripts/ceph-cluster.sh install) with the
# project's own, builds, and runs tests/ceph/test-*.sh through
# scripts/run-one-test.sh (bound: $TESSERA_TEST_TIMEOUT, default 900 s
# here). Each test starts a single-node cluster of its own and stops it.
# Not part of scripts/test.sh: installing Ceph and starting a cluster take
# minutes that CI does not have; the unit tests that need no cluster run
# there (tests/unit/pool/rados_vdev_test.cc).
set -euo pipefail
cd "$(dirname "$0")/.."
export TESSERA_BUILD_DIR=${TESSERA_BUILD_DIR:-build}
export TESSERA_TEST_TIMEOUT=${TESSERA_TEST_TIMEOUT:-900}

scripts/install-deps.sh
scripts/install-test-deps.sh
scripts/ceph-cluster.sh install
scripts/build.sh
scripts/test-preflight.sh

status=0
for t in tests/ceph/test-*.sh; do
  echo "== $t"
  start=$SECONDS
  rc=0
  scripts/run-one-test.sh "$t" || rc=$?
  echo "== $t: status $rc in $((SECONDS - start)) s"
  [ "$rc" -eq 0 ] || status=1
done
exit "$status"
