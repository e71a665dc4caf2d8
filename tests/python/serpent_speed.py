#!/usr/bin/env python3
"""Time Python serpent 1.43 (through Pyro4's SerpentSerializer) on the payloads
tests/tests/serpent_speed.rs times in Rust. Prints '<name> <seconds per op>'."""
import os
import timeit

import Pyro4.util

SER = Pyro4.util.get_serializer("serpent")
CALL = ("test.obj", "echo", ({"int": 1, "str": "h\u00e9llo \u20ac", "list": [1, 2, 3], "float": 1.5,
                              "none": None, "tuple": ("a", 2)},), {"flag": True})
BLOB = bytes(range(256)) * 4096  # 1 MiB


def best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def main():
    call_doc = SER.dumpsCall(*CALL)
    blob_doc = SER.dumps(BLOB)
    print("call_dumps", best(lambda: SER.dumpsCall(*CALL), 2000))
    print("call_loads", best(lambda: SER.loadsCall(call_doc), 2000))
    print("bytes_dumps", best(lambda: SER.dumps(BLOB), 20))
    print("bytes_loads", best(lambda: SER.loads(blob_doc), 20))


if __name__ == "__main__":
    main()
