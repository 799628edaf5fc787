#!/usr/bin/env bash
# tests/test-nbd-depots.sh with each depot in a network namespace of its own
# (TCP over veth pairs to the server's namespace, 1 ms per request from
# nbdkit's delay filter), plus a depot whose link goes down mid-run.
NBD_DEPOTS_MODE=netns source "$(dirname "$0")/test-nbd-depots.sh"
