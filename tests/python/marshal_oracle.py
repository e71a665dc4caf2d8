"""Python side of the marshal oracle test (tests/tests/marshal_oracle.rs).

    marshal_oracle.py gen      print the corpus: 'V <i> <marshal.dumps hex>' per value,
                               'C <i> <MarshalSerializer.dumpsCall hex>' per call,
                               'R <i> <hex> <why>' for data Rust must refuse
    marshal_oracle.py check    read '<V|C> <i> <hex>' lines (Rust's re-encodings of
                               the corpus) on stdin; for each print
                               'OK <i> SAME|DIFF' (SAME: Rust's bytes equal Python's)
                               or 'FAIL <i> <reason>'
    marshal_oracle.py echo     read '<hex>' lines (values Rust generated) on stdin;
                               print 'OK <marshal.dumps(marshal.loads(x)) hex> <repr hex>'
                               or 'FAIL <reason>'

Comparison is strict about types (bytearray excepted: it comes back as bytes),
compares floats by bit pattern (NaN payloads, -0.0) and dicts in order.
"""
import marshal
import struct
import sys

from Pyro4.util import MarshalSerializer


def bits_float(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def corpus():
    v = []
    # ints around every boundary the format has
    for k in (0, 1, 7, 8, 14, 15, 16, 29, 30, 31, 32, 33, 45, 60, 62, 63, 64, 65, 70, 75, 90, 100, 105, 120, 128, 200, 1000):
        v += [2 ** k, -(2 ** k), 2 ** k - 1, -(2 ** k) + 1]
    v += [2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 63 - 1, -(2 ** 63), 2 ** 70, -(2 ** 100),
          10 ** 50, -(10 ** 300), 12345678901234567890123]
    v += [None, True, False]
    # floats: signed zeros, specials, NaN payloads, subnormals, extremes
    v += [0.0, -0.0, 1.5, -2.25, 0.1, 1e16, 1e-5, 5e-324, -5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, float("inf"), float("-inf"), float("nan"), -float("nan"),
          bits_float(0x7FF8000000000001), bits_float(0xFFF8DEADBEEF0000), bits_float(0x7FF0000000000001),
          bits_float(0x7FFFFFFFFFFFFFFF), 2.0 ** 63, -(2.0 ** 63), 2.0 ** 70]
    v += [1 + 2j, complex(0.0, -0.0), complex(-0.0, 0.0), complex(float("inf"), 1), complex(float("nan"), float("-inf")), 1e300j, 0j]
    # strings: empty, short/long ASCII, interned, every plane, boundaries
    v += ["", "a", "hello", sys.intern("interned_identifier"), "x" * 255, "x" * 256, "y" * 70000,
          "é", "héllo €", "ÿ", "\x80", "\x00", "\x7f", "\u07ff", "\u0800", "\uffff", "\U00010000",
          "😀", "\U0010ffff", "日本語テキスト", "é" * 300, "mixed ascii and ü and 𝄞 and \u0000",
          "'quote\"", "line\nbreak\ttab", "ascii" * 60]
    # bytes and bytearray
    v += [b"", b"\x00\xff", bytes(range(256)), b"z" * 70000, bytearray(b"abc"), bytearray()]
    # tuples, lists
    v += [(), (1,), (1, "a", None), tuple(range(255)), tuple(range(256)), tuple(range(1000)),
          [], [[]], [1, [2, [3, [4]]]], list(range(300)), [None] * 10, [(), [], {}, set(), frozenset()]]
    # dicts with keys of all hashable types
    v += [{}, {"a": 1}, {1: "int", "s": "str", b"b": "bytes", 2.5: "float", -0.0: "negzero",
                         (1, 2): "tuple", frozenset({1, 2}): "frozenset", None: "none", True: "bool",
                         2 ** 70: "big", 1 + 2j: "complex", (): "empty tuple", "": "empty str"},
          {str(i): i for i in range(300)}, {i: [i] * (i % 3) for i in range(50)},
          {"nested": {"deeper": {"deepest": [1, 2, {"x": (3,)}]}}}]
    # sets and frozensets
    v += [set(), frozenset(), {1, 2, 3}, {"a", "b", "c"}, frozenset({"a", (1, 2)}),
          {frozenset({1}), frozenset({2, 3})}, set(range(100)), frozenset(range(-50, 50)),
          {1.5, "x", b"y", None, (1, (2, 3))}]
    # shared references: FLAG_REF and back-references
    s = "shared string object"
    l = [1, 2]
    t = (1, 2)
    d = {"k": "v"}
    fs = frozenset({9})
    big = 2 ** 80
    v += [[s, s, s], [l, l], {"a": t, "b": t}, [d, d, [d]], (fs, fs, {fs: fs}), [big, big, -big],
          [1.5, 1.5], [(t, t), (t, t)], [l, [l, [l]]], {"x": s, s: "x"}]
    # deep containers within MAX_DEPTH (256)
    x = None
    for _ in range(255):
        x = [x]
    v.append(x)
    y = 1
    for _ in range(200):
        y = (y,)
    v.append(y)
    # Pyro-shaped payloads
    v += [("test.obj", "multiply", [6, 7], {}),
          {"__class__": "Pyro4.core.URI", "state": ("PYRO", "obj", None, "localhost", 1234)},
          {"__class__": "builtins.ValueError", "__exception__": True, "args": ("bad", 42),
           "attributes": {"_pyroTraceback": ["Traceback (most recent call last):\n", "ValueError: bad\n"]}},
          {"handshake": "hello", "meta": {"methods": {"echo", "multiply"}, "oneway": set(), "attrs": {"value"}}}]
    return v


def calls():
    return [("test.obj", "multiply", (6, 7), {}),
            ("test.obj", "kwargs", (1,), {"b": 3, "extra": "x"}),
            ("Pyro.Daemon", "ping", (), {}),
            ("Pyro.Daemon", "get_next_stream_item", ["3f1b7c1e-0000-4000-8000-000000000000"], {}),
            ("obj", "échø", ("ü" * 300, 2 ** 70, [1.5, None]), {"k": {1, 2}, "z": b"\x00"})]


def refused():
    cyc = [1]
    cyc.append(cyc)
    d = {}
    d["self"] = d
    deep = None
    for _ in range(300):
        deep = [deep]
    return [(marshal.dumps(cyc), "recursive list"), (marshal.dumps(d), "recursive dict"),
            (marshal.dumps(...), "Ellipsis"), (marshal.dumps([StopIteration]), "StopIteration"),
            (marshal.dumps(compile("1", "x", "eval")), "code object"),
            (marshal.dumps("lone \ud800 surrogate"), "lone surrogate"),
            (marshal.dumps(deep), "deeper than 256"),
            (marshal.dumps({1: [1]})[:-3], "truncated")]


def same(a, b):
    if isinstance(a, bytearray):
        a = bytes(a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(same(k1, k2) and same(v1, v2)
                                        for (k1, v1), (k2, v2) in zip(a.items(), b.items()))
    return a == b


def main():
    mode = sys.argv[1]
    if mode == "gen":
        for i, value in enumerate(corpus()):
            print("V", i, marshal.dumps(value).hex())
        for i, (obj, method, vargs, kwargs) in enumerate(calls()):
            print("C", i, MarshalSerializer().dumpsCall(obj, method, vargs, kwargs).hex())
        for i, (data, why) in enumerate(refused()):
            print("R", i, data.hex(), why.replace(" ", "_"))
    elif mode == "check":
        values, cs = corpus(), calls()
        for line in sys.stdin:
            kind, i, h = line.split()
            i, data = int(i), bytes.fromhex(h)
            try:
                if kind == "V":
                    want = values[i]
                    got = marshal.loads(data)
                    ok = same(want, got)
                    identical = data == marshal.dumps(want)
                else:
                    obj, method, vargs, kwargs = cs[i]
                    got = MarshalSerializer().loadsCall(data)
                    ok = same((obj, method, list(vargs), kwargs), got)
                    identical = data == MarshalSerializer().dumpsCall(obj, method, vargs, kwargs)
                if ok:
                    print("OK", i, "SAME" if identical else "DIFF")
                else:
                    print("FAIL", i, ascii(got)[:300])
            except Exception as e:  # report, do not crash the run
                print("FAIL", i, type(e).__name__, e)
    elif mode == "echo":
        for line in sys.stdin:
            try:
                value = marshal.loads(bytes.fromhex(line.strip()))
                print("OK", marshal.dumps(value).hex(), ascii(value).encode().hex())
            except Exception as e:
                print("FAIL", type(e).__name__, e)
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
