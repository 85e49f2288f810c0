#!/usr/bin/env python3
"""Prints the function names of a wasm module's `name` section as JSON, {index: name} (the index
space counts imports first, as V8's profiles do). Used by build-worker.sh for bench/stages.py."""
import json
import sys


def leb(b, i):
    out = shift = 0
    while True:
        byte = b[i]
        i += 1
        out |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return out, i


def names(b):
    assert b[:4] == b"\0asm", "not a wasm module"
    i = 8
    while i < len(b):
        sid, i = b[i], i + 1
        size, i = leb(b, i)
        end = i + size
        if sid == 0:
            n, j = leb(b, i)
            if b[j:j + n] == b"name":
                j += n
                while j < end:
                    sub, j = b[j], j + 1
                    sub_size, j = leb(b, j)
                    if sub == 1:
                        count, k = leb(b, j)
                        out = {}
                        for _ in range(count):
                            idx, k = leb(b, k)
                            ln, k = leb(b, k)
                            out[idx] = b[k:k + ln].decode("utf-8", "replace")
                            k += ln
                        return out
                    j += sub_size
        i = end
    return {}


if __name__ == "__main__":
    json.dump(names(open(sys.argv[1], "rb").read()), sys.stdout)
