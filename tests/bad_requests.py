#!/usr/bin/python3
"""Malformed NBD requests against a Tessera export; the server must refuse
each with an error, change nothing, and keep serving.

    bad_requests.py SOCK EXPORT

libnbd's client-side checks (bounds, alignment) are switched off so that the
requests really reach the server.
"""
import sys

import nbd

from nbd_helpers import connect


def main():
    sock, export = sys.argv[1:3]
    h = connect(sock, export, unchecked=True)
    size = h.get_size()
    tail = bytes(range(256)) * 16
    h.pwrite(tail, size - 4096)
    h.flush()
    failures = []

    def expect_error(what, fn):
        try:
            fn()
        except nbd.Error as e:
            print("refused as expected: %s: %s" % (what, e))
            return
        failures.append("%s was accepted" % what)

    expect_error("read past the end", lambda: h.pread(512, size))
    expect_error("read straddling the end", lambda: h.pread(8192, size - 4096))
    expect_error("read at offset 2^63", lambda: h.pread(512, 1 << 63))
    expect_error("read at offset 2^64-512", lambda: h.pread(512, (1 << 64) - 512))
    expect_error("write straddling the end", lambda: h.pwrite(b"\xee" * 8192, size - 4096))
    expect_error("write past the end", lambda: h.pwrite(b"\xee" * 512, size + 4096))
    expect_error("write at offset 2^64-512", lambda: h.pwrite(b"\xee" * 512, (1 << 64) - 512))
    expect_error("zero straddling the end", lambda: h.zero(8192, size - 4096))
    expect_error("trim straddling the end", lambda: h.trim(8192, size - 4096))
    expect_error("trim past the end", lambda: h.trim(4096, size))
    expect_error("cache past the end", lambda: h.cache(4096, size + 4096))
    expect_error("block_status past the end",
                 lambda: h.block_status(4096, size + 4096, lambda *a: 0))

    # The connection still works, and nothing was written.
    if h.pread(4096, size - 4096) != tail:
        failures.append("the last 4 KiB changed after refused requests")
    # Reads and writes larger than the advertised maximum block size (32 MiB),
    # in range: served correctly or refused, never wrong data.
    if size >= 40 << 20:
        big = bytes([0x5a]) * (33 << 20)
        try:
            h.pwrite(big, 4096)
            if h.pread(33 << 20, 4096) != big:
                failures.append("a 33 MiB write read back wrong")
            else:
                print("a 33 MiB write and read were served correctly")
        except nbd.Error as e:
            print("33 MiB request refused: %s" % e)
    h.shutdown()

    # A new connection works too.
    h2 = connect(sock, export, unchecked=True)
    if h2.pread(4096, size - 4096) != tail:
        failures.append("a new connection reads the wrong tail")
    h2.shutdown()
    if failures:
        sys.exit("bad_requests: " + "; ".join(failures))
    print("bad_requests: every bad request was refused; the export is unchanged and still served")


if __name__ == "__main__":
    main()
