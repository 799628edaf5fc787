"""A seeded writer with a model of every block, for tests that change a
served pool under load (vdev add, block-device vdevs).

    seeded_writer.py SOCK EXPORT run|verify SEED

`run` rewrites the export's 64 KiB blocks (each block's content seeded by
the seed, the block and its generation), flushing every 16 writes, until
$T/stop exists and it has written every block twice over; it writes the
number of writes to $T/written, checks every block and saves the
generations in $T/gens. `verify` checks every block against $T/gens.
Exit status 1 when a block differs from the model.
"""
import json
import os
import sys

from nbd_helpers import connect, save_atomically, seeded_bytes

BLOCK = 64 * 1024


def main():
    sock, export, mode, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    T = os.environ["T"]
    h = connect(sock, export)
    n = h.get_size() // BLOCK
    content = lambda b, gen: seeded_bytes("%d-%d-%d" % (seed, b, gen), BLOCK) if gen else bytes(BLOCK)
    gens = json.load(open(T + "/gens")) if mode == "verify" else [0] * n
    if mode == "run":
        i = written = 0
        while not os.path.exists(T + "/stop") or written < 2 * n:
            b = (i * 37) % n
            gens[b] += 1
            h.pwrite(content(b, gens[b]), b * BLOCK)
            written += 1
            i += 1
            if written % 16 == 0:
                h.flush()
        h.flush()
        with open(T + "/written", "w") as f:
            f.write(str(written))
    bad = [b for b in range(n) if h.pread(BLOCK, b * BLOCK) != content(b, gens[b])]
    if mode == "run":
        save_atomically(T + "/gens", json.dumps(gens))
    if bad:
        print("blocks differ from the model: %s" % bad[:10], file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
