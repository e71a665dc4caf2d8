#!/usr/bin/env python3
"""Time Pyro4 4.82's serializers (serpent, json, marshal, pickle) on the payloads that
tests/benches/codec_ratio.rs times in Rust; print one JSON document:

    {"python": "3.11.x", "serializers": {name: {"call_dumps": s, "call_loads": s,
                                                 "bytes_dumps": s | null, "bytes_loads": s | null}}}

Seconds per operation, best of 5 timeit repeats. Calls go through dumpsCall/loadsCall exactly as a
Pyro4 proxy and daemon do; the 1 MiB value through dumps/loads (json cannot carry bytes: null).

With the argument `docs`, time nothing and print {name: hex of dumpsCall(*CALL)} instead: the bytes a
Pyro4 client sends, which the Rust side then decodes, so both sides decode the same input.
"""
import json
import platform
import sys
import timeit

import Pyro4.util

CALL = ("test.obj", "method", ("hello", 42, 3.25, list(range(10)), {"a": 1, "b": "two"}), {})
BLOB = bytes(range(256)) * 4096  # 1 MiB
NAMES = ("serpent", "json", "marshal", "pickle")


def best(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=5)) / number


def docs():
    out = {name: Pyro4.util.get_serializer(name).dumpsCall(*CALL).hex()
           for name in NAMES}
    json.dump(out, sys.stdout)


def main():
    if sys.argv[1:] == ["docs"]:
        return docs()
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    out = {}
    for name in NAMES:
        ser = Pyro4.util.get_serializer(name)
        doc = ser.dumpsCall(*CALL)
        res = {
            "call_dumps": best(lambda: ser.dumpsCall(*CALL), int(3000 * scale) or 1),
            "call_loads": best(lambda: ser.loadsCall(doc), int(3000 * scale) or 1),
            "bytes_dumps": None,
            "bytes_loads": None,
        }
        try:
            blob_doc = ser.dumps(BLOB)
        except Exception:
            pass
        else:
            res["bytes_dumps"] = best(lambda: ser.dumps(BLOB), int(10 * scale) or 1)
            res["bytes_loads"] = best(lambda: ser.loads(blob_doc), int(10 * scale) or 1)
        out[name] = res
    json.dump({"python": platform.python_version(), "serializers": out}, sys.stdout)


if __name__ == "__main__":
    main()
