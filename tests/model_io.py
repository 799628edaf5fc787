#!/usr/bin/python3
"""Randomized I/O against a Tessera export, checked against a flat byte model.

    model_io.py run    SOCK EXPORT MODEL --seed S --ops N [--connections C]
    model_io.py verify SOCK EXPORT MODEL

run: starts from MODEL when the file exists (else from zeros), performs N
random operations at odd offsets and lengths -- pwrite (some with FUA),
zero (may-trim, no-hole, fast-zero), pread compared with the model, flush --
spread over C connections, then writes the model back to MODEL.
verify: reads the whole export and compares it with MODEL.

Writes cluster in a few hot windows (so they overlap and straddle 4 KiB
blocks) and also land anywhere, including flush against the end.
Exit status 1 with the first differing offset on a mismatch.
"""
import argparse
import os
import random
import sys

import nbd

from nbd_helpers import connect, expect_equal, save_atomically


def check_range(h, model, offset, length, what):
    got = h.pread(length, offset)
    expect_equal(got, bytes(model[offset:offset + length]), "MISMATCH after " + what, offset)


def load_model(path, size):
    if os.path.exists(path):
        with open(path, "rb") as f:
            model = bytearray(f.read())
        if len(model) != size:
            sys.exit("model %s has %d bytes, export has %d" % (path, len(model), size))
        return model
    return bytearray(size)


def run(args):
    rng = random.Random(args.seed)
    handles = [connect(args.sock, args.export, unaligned=True) for _ in range(args.connections)]
    size = handles[0].get_size()
    model = load_model(args.model, size)
    hot = [rng.randrange(0, size - (1 << 20)) | 1 for _ in range(3)]
    history = []
    for op_no in range(args.ops):
        h = rng.choice(handles)
        r = rng.random()
        if rng.random() < 0.8:
            base = rng.choice(hot)
            offset = base + rng.randrange(0, 1 << 20)
        else:
            offset = rng.randrange(0, size)
        if rng.random() < 0.03:
            offset = size - rng.randrange(1, 9000)  # up against the end
        length = rng.choice([1, 3, 511, 512, 513, 4095, 4096, 4097, 8191, 12289,
                             rng.randrange(1, 70000)])
        offset = max(0, min(offset, size - 1))
        length = min(length, size - offset)
        if r < 0.45:
            data = rng.randbytes(length)
            fua = rng.random() < 0.2
            h.pwrite(data, offset, nbd.CMD_FLAG_FUA if fua else 0)
            model[offset:offset + length] = data
            what = "pwrite%s [%d, +%d)" % (" FUA" if fua else "", offset, length)
        elif r < 0.55:
            # Without NO_HOLE the server may trim; FAST_ZERO asks it to fail
            # rather than write slowly (Tessera's zero is always fast).
            flags = rng.choice([0, nbd.CMD_FLAG_NO_HOLE, nbd.CMD_FLAG_FAST_ZERO])
            h.zero(length, offset, flags)
            model[offset:offset + length] = bytes(length)
            what = "zero flags=%d [%d, +%d)" % (flags, offset, length)
        elif r < 0.58:
            h.flush()
            what = "flush"
        else:
            # Read from a different connection than the last writer, too.
            check_range(h, model, offset, length, "op %d (read)" % op_no)
            what = "pread [%d, +%d)" % (offset, length)
        history.append(what)
        if r < 0.55:
            # Every mutation is read back at once, from another connection.
            check_range(rng.choice(handles), model, max(0, offset - 100),
                        min(length + 200, size - max(0, offset - 100)),
                        "op %d: %s" % (op_no, what))
    for h in handles:
        h.flush()
    check_whole(handles[0], model, "the run")
    for h in handles:
        h.shutdown()
    save_atomically(args.model, model)
    print("model_io: %d operations on %s (seed %d, %d connections) match the model"
          % (args.ops, args.export, args.seed, args.connections))


def check_whole(h, model, what):
    size = len(model)
    chunk = 4 << 20
    for off in range(0, size, chunk):
        check_range(h, model, off, min(chunk, size - off), what)


def verify(args):
    h = connect(args.sock, args.export, unaligned=True)
    model = load_model(args.model, h.get_size())
    check_whole(h, model, "restart (whole-export verify)")
    h.shutdown()
    print("model_io: %s matches the model byte for byte (%d bytes)" % (args.export, len(model)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "verify"])
    p.add_argument("sock")
    p.add_argument("export")
    p.add_argument("model")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ops", type=int, default=2000)
    p.add_argument("--connections", type=int, default=2)
    args = p.parse_args()
    run(args) if args.mode == "run" else verify(args)


if __name__ == "__main__":
    main()
