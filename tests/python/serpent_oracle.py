#!/usr/bin/env python3
"""Oracle for the Rust serpent codec: real serpent 1.43 as Pyro4 4.82 uses it.

    serpent_oracle.py corpus   -> one line per corpus value:
                                  <name>\t<hex of dumps(v)>\t<hex of dumps(loads(dumps(v)))>
    serpent_oracle.py check    <- lines '<index> <hex>' (Rust's re-encoding of corpus value <index>)
                               -> 'ok <index>' or 'FAIL <index> <reason>': serpent.loads of Rust's
                                  bytes must equal Python's own round trip loads(dumps(v)), strictly
                                  (same types, floats bit for bit, same dict order), or Rust's bytes
                                  must be exactly what Python writes for that round-tripped value
    serpent_oracle.py literal  <- lines of hex (any bytes)
                               -> per line 'OK <hex of dumps(loads(doc))>', 'NODUMP <exception type>'
                                  (loads worked, dumps refused) or 'ERR <exception type>'
    serpent_oracle.py repr     -> 'S <hex utf-8 of repr(chunk)>' for every code point (4096 per
                                  line, surrogates skipped) and 'B <hex bytes> <hex repr>' lines
    serpent_oracle.py redump   <- lines of hex (serpent documents written by Rust)
                               -> hex of dumps(loads(doc)) per line, or 'ERR <message>'

Serialization goes through Pyro4's SerpentSerializer (serpent.dumps(v, module_in_classname=True)
with Pyro's class hooks registered), exactly what a Pyro4 peer puts on the wire.
"""
import array
import warnings
import collections
import datetime
import decimal
import math
import struct
import sys
import uuid

import Pyro4.core
import Pyro4.errors
import Pyro4.util
import serpent

SER = Pyro4.util.get_serializer("serpent")


def dumps(v):
    return SER.dumps(v)


class Thing(object):
    def __init__(self):
        self.name = "widget"
        self.size = 3


def unicode_samples():
    out = []
    # Every plane, stepping through it; surrogates cannot be encoded in UTF-8.
    for plane in range(17):
        cps = [plane * 0x10000 + off for off in (0, 0x20, 0x7F, 0xA0, 0xAD, 0x378, 0x2028, 0x3000, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF)]
        out.append(("plane%d" % plane, "".join(chr(c) for c in cps if not 0xD800 <= c < 0xE000)))
    # A sweep of the whole code space, every 997th code point.
    sweep = [chr(c) for c in range(0, 0x110000, 997) if not 0xD800 <= c < 0xE000]
    for i in range(0, len(sweep), 64):
        out.append(("sweep%d" % i, "".join(sweep[i:i + 64])))
    out.append(("latin1", "".join(chr(c) for c in range(256))))
    out.append(("ascii", "".join(chr(c) for c in range(128))))
    out.append(("unicode15_unassigned_in_14", "\U0001FAE8\u0CF3"))
    out.append(("format_chars", "\u200b\u200e\u2060\ufeff\U000E0001"))
    out.append(("emoji", "\U0001F600\U0001F469\u200d\U0001F4BB"))
    return out


def corpus():
    c = []
    add = lambda name, v: c.append((name, v))
    for v in (None, True, False):
        add(repr(v), v)
    for v in (0, 1, -1, 42, -5, 255, 256, 2**31, -2**31, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**64,
              2**70, -(2**100), 10**50, -10**50 + 1, 10**4299, -(10**4299), 7 ** 3000):
        add("int %d bits" % v.bit_length() + ("-" if v < 0 else "+"), v)
    for v in (0.0, -0.0, 1.0, -1.5, 0.1, 1 / 3, 1e16, 1e15, 1e-5, 1e-4, 1e308, -1e308, 5e-324, -5e-324,
              2.2250738585072014e-308, 1.7976931348623157e308, 123456789012345678.0, 1e22, 1e100,
              math.pi, -math.e, float("inf"), float("-inf"), float("nan")):
        add("float " + repr(v), v)
    for v in (1 + 2j, -1 - 2j, complex(1, -0.0), complex(-0.0, 0.0), complex(-0.0, -0.0), complex(0, 0),
              1j, -1j, complex(1e308, -5e-324), complex(float("inf"), float("-inf")),
              complex(float("nan"), 1), complex(0, float("nan")), complex(-2.5, 1e-10)):
        add("complex " + repr(v), v)
    for v in ("", "a", "it's", 'say "hi"', "both ' and \"", "back\\slash", "\t\n\r\x00\x1f\x7f\x80\x9f\xa0",
              "héllo €", "a" * 1000, "'" * 5, '"' * 5, "\\'", "#not a comment", "\u2028\u2029\x85",
              "multi\nline\ntext", "\x0b\x0c\x1b"):
        add("str " + repr(v)[:30], v)
    for name, v in unicode_samples():
        add("str " + name, v)
    for v in (b"", b"a", b"\x00\xff", bytes(range(256)), b"x" * 1000, bytearray(b"ab"), memoryview(b"mv")):
        add("bytes %d" % len(v), v)
    add("tuple ()", ())
    add("tuple (1,)", (1,))
    add("tuple (1,2)", (1, 2))
    add("tuple mixed", (None, True, 1.5, "s", b"b", [1], {"k": ()}))
    add("list []", [])
    add("list [1]", [1])
    add("list nested empties", [[], (), {}, set(), [[]], ((),)])
    add("dict {}", {})
    add("dict str keys", {"a": 1, "b": [2, 3], "c": {"d": None}})
    add("dict key types", {1: "int", 2**70: "big", 1.5: "float", -0.5: "negfloat", float("inf"): "inf",
                           1 + 2j: "complex", "s": "str", (1, "t", None): "tuple", True: "bool",
                           ((1, 2), (3,)): "nested tuple", -(2**100): "negbig", 0: "zero"})
    add("dict bool key", {False: 0, "x": 1})
    add("dict order", {"z": 1, "a": 2, "m": 3})
    add("dict int keys desc", {i: i * i for i in range(20, 0, -1)})
    add("set ints", {1, 2, 3})
    add("set strs", {"a", "b", "c"})
    add("set mixed", {1, "a", (1, 2), 2.5, 3 + 1j, 2**80})
    add("set empty", set())
    add("frozenset", frozenset({4, 5}))
    add("frozenset empty", frozenset())
    add("set of tuples", {(1, 2), (3, 4)})
    for depth in (1, 10, 50, 150):
        v = 1
        for _ in range(depth):
            v = [v]
        add("deep list %d" % depth, v)
        v = "leaf"
        for _ in range(depth):
            v = (v,)
        add("deep tuple %d" % depth, v)
        v = None
        for i in range(depth):
            v = {"k%d" % i: v}
        add("deep dict %d" % depth, v)
    add("list of floats", [0.1 * i for i in range(50)])
    add("list of ints", list(range(-50, 50, 7)))
    add("call tuple", ("test.obj", "multiply", (6, 7), {}))
    add("call tuple list vargs", ("Pyro.Daemon", "get_next_stream_item", ["id"], {}))
    add("call tuple None kwargs", ("o", "__getattr__", ("value",), None))
    add("uri", Pyro4.core.URI("PYRO:obj@localhost:1234"))
    add("uri unix", Pyro4.core.URI("PYRO:obj@./u:/tmp/sock"))
    add("exception", ValueError("bad", 42))
    add("pyro exception", Pyro4.errors.NamingError("unknown name: x"))
    add("custom object", Thing())
    add("datetime", datetime.datetime(2020, 1, 2, 3, 4, 5, 678000))
    add("date", datetime.date(2020, 1, 2))
    add("time", datetime.time(3, 4, 5, 6))
    add("timedelta", datetime.timedelta(days=1, seconds=2.5))
    add("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678"))
    add("decimal", decimal.Decimal("3.14159265358979323846"))
    add("array u", array.array("u", "abc"))
    add("array i", array.array("i", [1, 2, 3]))
    add("deque", collections.deque([1, 2]))
    add("ordereddict", collections.OrderedDict([("a", 1), ("b", 2)]))
    add("exception dict shape", {"__class__": "builtins.ValueError", "__exception__": True, "args": ("x",),
                                 "attributes": {"_pyroTraceback": ["Traceback\n", "ValueError: x\n"]}})
    add("bytes dict lookalike", {"data": "YWI=", "encoding": "base64"})
    add("nan dict lookalike", {"__class__": "float", "value": "nan"})
    add("weird floats", [float("nan"), float("inf"), -0.0, 1e-310])
    return c


def bits(f):
    return struct.pack("<d", f)


def same(a, b, path="v"):
    """Strict equality: same types, floats bit-exact, dict order, nested."""
    if type(a) is not type(b):
        return "%s: type %s != %s" % (path, type(a).__name__, type(b).__name__)
    if isinstance(a, float):
        if bits(a) != bits(b) and not (math.isnan(a) and math.isnan(b)):
            return "%s: %r != %r" % (path, a, b)
        return None
    if isinstance(a, complex):
        if bits(a.real) != bits(b.real) or bits(a.imag) != bits(b.imag):
            return "%s: %r != %r" % (path, a, b)
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return "%s: length %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            r = same(x, y, "%s[%d]" % (path, i))
            if r:
                return r
        return None
    if isinstance(a, dict):
        if len(a) != len(b):
            return "%s: %d keys != %d" % (path, len(a), len(b))
        for (k1, v1), (k2, v2) in zip(a.items(), b.items()):
            r = same(k1, k2, "%s key" % path) or same(v1, v2, "%s[%r]" % (path, k1))
            if r:
                return r
        return None
    if isinstance(a, (set, frozenset)):
        if a != b:
            return "%s: %r != %r" % (path, a, b)
        sa = sorted((type(x).__name__, repr(x)) for x in a)
        sb = sorted((type(x).__name__, repr(x)) for x in b)
        return None if sa == sb else "%s: element types differ" % path
    if a != b:
        return "%s: %r != %r" % (path, a, b)
    return None


def main():
    warnings.simplefilter("ignore")  # invalid escapes warn in 3.11; the value is what counts
    mode = sys.argv[1]
    if mode == "corpus":
        for name, v in corpus():
            d = dumps(v)
            rt = dumps(serpent.loads(d))
            print("%s\t%s\t%s" % (name.replace("\t", " ").replace("\n", " "), d.hex(), rt.hex()))
    elif mode == "check":
        items = corpus()
        for line in sys.stdin:
            idx, hx = line.split()
            idx = int(idx)
            want = serpent.loads(dumps(items[idx][1]))
            try:
                got = serpent.loads(bytes.fromhex(hx))
            except Exception as e:  # noqa: BLE001 - report any failure as a test failure
                print("FAIL %d serpent.loads failed: %r" % (idx, e))
                continue
            r = same(want, got)
            if r is not None and bytes.fromhex(hx) == dumps(want):
                # serpent is not idempotent for complex zeros: (-0.0-0.0j) reads
                # as complex(-0.0, 0.0), written (-0.0+0.0j), which reads as 0j.
                # Rust wrote exactly what Python writes for its own round trip.
                r = None
            print("ok %d" % idx if r is None else "FAIL %d %s" % (idx, r))
    elif mode == "literal":
        for line in sys.stdin:
            try:
                v = serpent.loads(bytes.fromhex(line.strip()))
            except Exception as e:  # noqa: BLE001 - any rejection counts
                print("ERR %s" % type(e).__name__)
                continue
            try:
                print("OK %s" % dumps(v).hex())
            except Exception as e:  # noqa: BLE001
                print("NODUMP %s" % type(e).__name__)
    elif mode == "repr":
        cps = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
        for i in range(0, len(cps), 4096):
            chunk = "".join(chr(c) for c in cps[i:i + 4096])
            print("S %s %s" % (chunk.encode().hex(), repr(chunk).encode().hex()))
        for b in (bytes(range(256)), b"'", b'"', b"'\"", b"it's", b"", b"\\'x"):
            print("B %s %s" % (b.hex(), repr(b).encode().hex()))
        for t in ("'", '"', "'\"", "it's", "", "\\'x", 'a"b'):
            print("S %s %s" % (t.encode().hex(), repr(t).encode().hex()))
    elif mode == "redump":
        for line in sys.stdin:
            try:
                print(dumps(serpent.loads(bytes.fromhex(line.strip()))).hex())
            except Exception as e:  # noqa: BLE001
                print("ERR %r" % (e,))
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
