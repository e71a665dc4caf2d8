"""Oracle for the Rust json codec: real Pyro4 4.82 JsonSerializer on CPython 3.11.

Modes (all data as hex, one item per line):
  corpus    print "<hex of JsonSerializer().dumps(v)>\t<repr(v)>" for every corpus value
  errors    print "<kind>\t<message>" for values Pyro4's json serializer refuses
  check     stdin "<python_hex> <rust_hex>": json.loads of both must be equal
            (types, key order, float bits, NaN == NaN); prints "ok" or "FAIL ..."
  redump    stdin "<hex>": prints hex of JsonSerializer().dumps(json.loads(data)), or "ERR ..."
  accept    stdin "<hex>": prints "REJECT" if Pyro4's json reader (strict UTF-8 + json.loads)
            refuses the bytes, "SURROGATE" if it accepts them into a str with a lone surrogate
            (which Python cannot write back), else the hex of JsonSerializer().dumps(value)
  bench     time a typical call (best of 5): prints seconds per Pyro4 dumpsCall+loadsCall, then seconds
            per bare json.dumps+json.loads of the same dict, then the payload hex
"""
import json
import math
import sys

import Pyro4.core
import Pyro4.errors
import Pyro4.futures
import Pyro4.util

SER = Pyro4.util.JsonSerializer()


def corpus():
    v = []
    # scalars
    v += [None, True, False, 0, 1, -1, 42, 255, 256, 65535, 2**31 - 1, -2**31, 2**53, 2**53 + 1,
          2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**64, 2**70, -(2**100), 10**40, -(10**80) + 7,
          int("9" * 4300)]
    # floats: edges, specials, repr switch points
    v += [0.0, -0.0, 1.0, -1.0, 1.5, 0.1, 0.2 + 0.1, 1 / 3, 5e-324, -5e-324, 2.2250738585072014e-308,
          2.225073858507201e-308, 1.7976931348623157e308, 1e308, 1e-308, 1e16, 1e15, 9999999999999998.0,
          1e-4, 1e-5, 0.0001234, 123456789.0, 1e22, 1e23, 3.141592653589793, 2.0**-1074 * 3,
          float("nan"), float("inf"), float("-inf"), 100.0, 1e100, -1.2345e-300, 4.35, 0.3]
    # strings: ascii, escapes, every C0 control, DEL, C1, line separators, all planes
    v += ["", "a", "hello world", '"', "\\", "/", "'", "\"quoted\" and \\back\\slash",
          "\x7f", "\x80\x9f\xa0", "\u2028\u2029", "\ufeff", "\ufffd", "\uffff", "\ue000",
          "héllo €", "日本語テキスト", "😀🎉", "\U00010000", "\U0010ffff", "\U0001d11e",
          "\U000e0001", "mixed \x00 nul", "tab\there", "cr\rlf\n", "\b\f", "a\x1bb"]
    v += [chr(c) for c in range(0x20)]
    v += ["".join(chr(c) for c in range(0x20, 0x80)),
          "".join(chr(c) for c in range(0x80, 0x800, 7)),
          "".join(chr(c) for c in range(0x800, 0xd800, 331)),
          "".join(chr(c) for c in range(0xe000, 0x10000, 97)),
          "".join(chr(c) for c in range(0x10000, 0x110000, 4099))]
    # containers
    v += [[], (), {}, set(), [[]], [()], [{}], {"": ""}, [1, "a", None, True, 1.5],
          (1, 2), (1,), ((1, 2), (3, (4, 5))), {1, 2, 3}, {"x"}, [{1, 2}, (3,)],
          {"a": 1, "b": [1, 2], "c": {"d": None}}, {"b": 1, "a": 2}]
    # non-str keys become strings
    v += [{1: "a"}, {-5: 1, 0: 2}, {1.5: "x"}, {True: 1}, {False: 0}, {None: "n"},
          {float("nan"): 1}, {float("inf"): 2, float("-inf"): 3}, {-0.0: 1}, {2**70: "big"},
          {1e16: 1, 1e-5: 2, 0.1: 3}, {1: "int", "2": "str", 3.0: "float", None: 4, True: 5}]
    # deep and wide
    deep = 0
    for _ in range(200):
        deep = [deep]
    v.append(deep)
    deepd = "leaf"
    for i in range(150):
        deepd = {"k%d" % i: deepd}
    v.append(deepd)
    v.append(list(range(1000)))
    v.append({"key%04d" % i: i * 0.5 for i in range(300)})
    v.append(["x" * 10000, "é" * 5000])
    # Pyro objects as a daemon sends them
    uri = Pyro4.core.URI("PYRO:obj@localhost:1234")
    v += [uri, (uri, ["class:x"]), {"a": ("PYRO:a@h:1", ["m1"])},
          Pyro4.core.URI("PYRO:obj@./u:/tmp/sock"), Pyro4.core.URI("PYRONAME:name@host:9090")]
    ex = ValueError("bad", 42)
    ex._pyroTraceback = ["Traceback (most recent call last):\n", "ValueError: bad\n"]
    v += [ex, Pyro4.errors.NamingError("unknown name: x"), [42, Pyro4.futures._ExceptionWrapper(ex)],
          ZeroDivisionError("division by zero"), KeyError("k"), StopIteration()]
    proxy = Pyro4.core.Proxy("PYRO:made.obj0@127.0.0.1:47108")
    proxy._pyroOneway = {"oneway_call"}
    proxy._pyroMethods = {"multiply"}
    proxy._pyroAttrs = {"value"}
    proxy._pyroHandshake = "hello"
    v.append(proxy)
    v += [{"handshake": "hello", "object": "test.obj"},
          {"handshake": "hello", "meta": {"methods": ["echo", "multiply"], "oneway": ["fire"], "attrs": ["value"]}}]
    return v


def refused():
    return [("bytes", b"ab"), ("bytearray", bytearray(b"x")), ("complex", 1 + 2j),
            ("frozenset", frozenset([1])), ("tuple_key", {(1, 2): 3})]


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a.keys()) == list(b.keys()) and all(same(a[k], b[k]) for k in a)
    return a == b


def main():
    mode = sys.argv[1]
    out = sys.stdout
    if mode == "corpus":
        for value in corpus():
            data = SER.dumps(value)
            out.write(data.hex() + "\t" + ascii(value)[:120].replace("\t", " ") + "\n")
    elif mode == "errors":
        for kind, value in refused():
            try:
                SER.dumps(value)
                out.write(kind + "\tNO ERROR\n")
            except Exception as e:  # noqa: BLE001 - we report whatever Pyro4 raised
                out.write(kind + "\t" + str(e) + "\n")
    elif mode == "check":
        for line in sys.stdin:
            py_hex, rust_hex = line.split()
            a = json.loads(bytes.fromhex(py_hex).decode("utf-8"))
            b = json.loads(bytes.fromhex(rust_hex).decode("utf-8"))
            out.write("ok\n" if same(a, b) else "FAIL %r != %r\n" % (a, b))
    elif mode == "redump":
        for line in sys.stdin:
            try:
                value = json.loads(bytes.fromhex(line.strip()).decode("utf-8"))
                out.write(SER.dumps(value).hex() + "\n")
            except Exception as e:  # noqa: BLE001
                out.write("ERR " + repr(e) + "\n")
    elif mode == "accept":
        for line in sys.stdin:
            try:
                value = json.loads(bytes.fromhex(line.strip()).decode("utf-8"))
            except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                out.write("REJECT\n")
                continue
            try:
                out.write(SER.dumps(value).hex() + "\n")
            except UnicodeEncodeError:
                out.write("SURROGATE\n")
    else:
        raise SystemExit("unknown mode " + mode)


if __name__ == "__main__":
    main()
