#!/usr/bin/python3
"""Client sessions that connect, write, flush and disconnect, over and over.

    churn_clients.py run SOCK EXPORT MODEL --seconds S [--seed N]
    churn_clients.py verify SOCK EXPORT MODEL

`run` repeats sessions for S seconds: connect to EXPORT, write sixteen 64 KiB
extents at random 64 KiB-aligned offsets of the first 16 MiB, flush,
disconnect. Each extent's content follows from a seed; MODEL (JSON) records
the seed each extent last got, written after every session (a run starts
from MODEL when it exists). `verify` reads
every extent back from a new connection and compares it with MODEL.
Exit status: 0 on success, 1 on a mismatch or an error (printed).
"""
import argparse
import json
import os
import random
import sys
import time

import nbd

from nbd_helpers import connect, save_atomically, seeded_bytes

EXTENT = 64 * 1024
EXTENTS = 256  # 16 MiB


def data_of(seed):
    if seed == 0:
        return bytes(EXTENT)
    return seeded_bytes(seed, EXTENT)


def run(args):
    rng = random.Random(args.seed)
    model = [0] * EXTENTS
    if os.path.exists(args.model):  # a later run goes on from the last one
        with open(args.model) as f:
            model = json.load(f)
    deadline = time.monotonic() + args.seconds
    sessions = 0
    while time.monotonic() < deadline:
        h = connect(args.sock, args.export)
        for _ in range(16):
            e = rng.randrange(EXTENTS)
            seed = rng.getrandbits(62) | 1
            h.pwrite(data_of(seed), e * EXTENT)
            model[e] = seed
        h.flush()
        h.shutdown()
        sessions += 1
        save_atomically(args.model, json.dumps(model))
    print(f"{args.export}: {sessions} sessions")
    return 0 if sessions > 0 else 1


def verify(args):
    with open(args.model) as f:
        model = json.load(f)
    h = connect(args.sock, args.export)
    bad = 0
    for e, seed in enumerate(model):
        if h.pread(EXTENT, e * EXTENT) != data_of(seed):
            bad += 1
            if bad <= 5:
                print(f"{args.export}: extent {e} does not hold its last write", file=sys.stderr)
    h.shutdown()
    if bad:
        print(f"{args.export}: {bad} of {len(model)} extents differ", file=sys.stderr)
        return 1
    print(f"{args.export}: all {len(model)} extents read back")
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "verify"])
    p.add_argument("sock")
    p.add_argument("export")
    p.add_argument("model")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    try:
        return run(args) if args.mode == "run" else verify(args)
    except nbd.Error as e:
        print(f"{args.export}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
