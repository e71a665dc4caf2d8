"""Python side of the pickle codec oracle (tests/tests/pickle_oracle.rs).

    pickle_oracle.py corpus   -> prints '<index> <protocol> <hex>' for every corpus
                                 value pickled with protocols 2, 3, 4 and 5
    pickle_oracle.py check    <- reads '<index> <protocol> <hex>' (pickles written by
                                 Rust after loading ours), prints 'FAIL ...' lines for
                                 values that do not equal what Python itself loads from
                                 its own pickle (the original, for protocols 3 to 5),
                                 then 'checked <n>'
    pickle_oracle.py echo     <- reads '<hex>' lines (pickles written by Rust), prints
                                 the hex of pickle.dumps(pickle.loads(x), 5), or
                                 'ERROR <reason>'

Equality is strict: same types (bytes and bytearray count as one, since the Rust
value model has one bytes type), floats bit for bit, dicts in the same order,
exceptions of the same class with equal args and __dict__, URIs equal as Pyro4
compares them, proxies with equal state.
"""
import pickle
import struct
import sys

import Pyro4.core
import Pyro4.errors
import Pyro4.futures


def traceback_lines(name, text):
    return ["Traceback (most recent call last):\n", '  File "x.py", line 1, in <module>\n',
            "%s: %s\n" % (name, text)]


def exc(cls, *args, **attrs):
    e = cls(*args)
    for k, v in attrs.items():
        setattr(e, k, v)
    return e


def corpus():
    values = []
    add = values.append
    # scalars
    for v in [None, True, False]:
        add(v)
    for v in [0, 1, -1, 255, 256, -256, 65535, 65536, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
              2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**64, 2**70, -(2**70), -(2**100), 10**50,
              -10**300, 2**2048 + 1]:
        add(v)
    for v in [0.0, -0.0, 1.5, -2.25, 0.1, 1e16, 1e-05, 1e100, -1e-100, float("inf"), float("-inf"),
              float("nan"), 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 3.141592653589793]:
        add(v)
    for v in [0j, 1 + 2j, -1.5 - 0.5j, complex(float("inf"), -0.0), complex(0.0, 1e300)]:
        add(v)
    # text: every Unicode plane, lengths around the short/long opcode boundaries
    for v in ["", "a", "héllo €", "\x00\x01\x1f\x7f", "tab\tnew\nline\r", "'\"\\",
              "\u00ff\u0100\u07ff\u0800", "\uffff\ufffd", "\U00010000\U0001F600\U0001FFFF",
              "\U00020000\U0002A6D6", "\U000E0001\U000F0000\U0010FFFF", "日本語テキスト",
              "x" * 255, "y" * 256, "z" * 70000, "é" * 200]:
        add(v)
    # bytes and bytearray
    for v in [b"", b"\x00", b"\x00\x01\xff", bytes(range(256)), b"q" * 300, bytearray(b""),
              bytearray(b"abc\xff"), bytearray(range(200))]:
        add(v)
    # containers
    add([])
    add(())
    add({})
    add(set())
    add(frozenset())
    add([1, "two", 3.0, None, True])
    add((1,))
    add((1, 2))
    add((1, 2, 3))
    add((1, 2, 3, 4))
    add(("a", ("b", ("c", ()))))
    add(list(range(1500)))
    add(tuple(range(300)))
    add({"k%d" % i: i for i in range(1200)})
    add({1, 2, 3})
    add({"a", "b"})
    add(frozenset([1, "x", (1, 2)]))
    add({frozenset([1, 2]), (3, 4)})
    add([{1}, frozenset([2]), set()])
    # dict keys of every hashable type
    add({None: 1, True: 2, 3: 3, 2**70: 4, 1.5: 5, "s": 6, b"b": 7, (1, "a"): 8,
         frozenset([9]): 9, 1 + 2j: 10, -(2**100): 11})
    add({(): "empty tuple key", ((1, 2), (3,)): "nested tuple key"})
    nested = []
    cur = nested
    for _ in range(60):
        nxt = []
        cur.append(nxt)
        cur = nxt
    add(nested)
    add({"a": [1, (2, 3)], "b": None, "c": {"d": {"e": [b"x", {"f"}]}}})
    shared = [1, 2]
    add([shared, shared, (shared,)])
    s = "shared string"
    add((s, s, [s, {s: s}]))
    add({"handshake": "hello", "meta": {"methods": {"a", "b"}, "oneway": set(), "attrs": {"x"}}})
    add(("test.obj", "multiply", (6, 7), {}))
    add(("test.obj", "<batch>", [("multiply", (7, 6), {}), ("echo", ("hi",), {})], None))
    # exceptions: builtin and Pyro4.errors, with args, extra attributes, tracebacks
    builtin = [ValueError, KeyError, IndexError, TypeError, RuntimeError, ZeroDivisionError,
               AttributeError, StopIteration, NotImplementedError, AssertionError, Exception,
               LookupError, ArithmeticError, OverflowError, MemoryError, TimeoutError,
               ConnectionRefusedError, PermissionError]
    for cls in builtin:
        add(exc(cls, "message for " + cls.__name__))
        add(exc(cls, "with attrs", 42, _pyroTraceback=traceback_lines(cls.__name__, "with attrs"),
                code=7, detail={"k": [1, 2]}))
    add(ValueError())
    add(KeyError(("tuple", "key")))
    add(OSError(2, "No such file or directory"))
    add(FileNotFoundError(2, "missing", "/tmp/x"))
    add(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))
    add(SystemExit(3))
    pyro = [Pyro4.errors.PyroError, Pyro4.errors.CommunicationError, Pyro4.errors.ConnectionClosedError,
            Pyro4.errors.TimeoutError, Pyro4.errors.ProtocolError, Pyro4.errors.MessageTooLargeError,
            Pyro4.errors.NamingError, Pyro4.errors.DaemonError, Pyro4.errors.SecurityError,
            Pyro4.errors.SerializeError]
    for cls in pyro:
        add(exc(cls, "pyro problem", _pyroTraceback=None))
        add(exc(cls, "with traceback", _pyroTraceback=traceback_lines(cls.__name__, "x"), extra=b"\x00"))
    add(exc(ValueError, "bad", 42, _pyroTraceback=traceback_lines("ValueError", "bad")))
    # URIs, proxies, exception wrappers
    for u in ["PYRO:obj@localhost:1234", "PYRO:some.object@127.0.0.1:9999", "PYRO:obj@./u:/run/sock",
              "PYRONAME:name", "PYRO:obj@[::1]:4444", "PYRONAME:name@nshost:9090", "PYROMETA:a,b"]:
        add(Pyro4.core.URI(u))
    add([Pyro4.core.URI("PYRO:x@h:1"), Pyro4.core.URI("PYRO:y@h:2")])
    add((Pyro4.core.URI("PYRO:obj@localhost:1234"), ["class:x"]))
    add({"uri": Pyro4.core.URI("PYRO:obj@localhost:1234")})
    p = Pyro4.core.Proxy("PYRO:made.obj2@127.0.0.1:47108")
    p._pyroOneway = {"fire"}
    p._pyroMethods = {"multiply", "echo"}
    p._pyroAttrs = {"value"}
    add(p)
    add(Pyro4.core.Proxy("PYRO:plain@localhost:1"))
    add([42, Pyro4.futures._ExceptionWrapper(exc(ValueError, "bad", _pyroTraceback=["tb\n"]))])
    add(Pyro4.futures._ExceptionWrapper(Pyro4.errors.NamingError("unknown name: x")))
    return values


def is_float_equal(a, b):
    return struct.pack("<d", a) == struct.pack("<d", b)


def equal(a, b, path="value"):
    """None when equal, else a description of the first difference."""
    ta, tb = type(a), type(b)
    if isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)):
        return None if bytes(a) == bytes(b) else "%s: %r != %r" % (path, a, b)
    if ta is not tb:
        return "%s: type %s != %s" % (path, ta.__name__, tb.__name__)
    if ta is float:
        return None if is_float_equal(a, b) else "%s: %r != %r" % (path, a, b)
    if ta is complex:
        ok = is_float_equal(a.real, b.real) and is_float_equal(a.imag, b.imag)
        return None if ok else "%s: %r != %r" % (path, a, b)
    if ta in (list, tuple):
        if len(a) != len(b):
            return "%s: length %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = equal(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return None
    if ta is dict:
        ka, kb = list(a.items()), list(b.items())
        if len(ka) != len(kb):
            return "%s: %d != %d items" % (path, len(ka), len(kb))
        for (k1, v1), (k2, v2) in zip(ka, kb):
            d = equal(k1, k2, path + " key") or equal(v1, v2, "%s[%r]" % (path, k1))
            if d:
                return d
        return None
    if ta in (set, frozenset):
        return None if a == b else "%s: %r != %r" % (path, a, b)
    if isinstance(a, BaseException):
        return equal(a.args, b.args, path + ".args") or equal(vars(a), vars(b), path + ".__dict__")
    if ta is Pyro4.core.URI:
        return None if a == b and a.__getstate__() == b.__getstate__() else "%s: %s != %s" % (path, a, b)
    if ta is Pyro4.core.Proxy:
        return equal(a.__getstate__(), b.__getstate__(), path + ".state")
    if ta is Pyro4.futures._ExceptionWrapper:
        return equal(a.exception, b.exception, path + ".exception")
    return None if a == b else "%s: %r != %r" % (path, a, b)


def main():
    mode = sys.argv[1]
    out = sys.stdout
    if mode == "corpus":
        for i, v in enumerate(corpus()):
            for proto in (2, 3, 4, 5):
                out.write("%d %d %s\n" % (i, proto, pickle.dumps(v, proto).hex()))
    elif mode == "check":
        values = corpus()
        n = 0
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            idx, proto, data = line.split(" ")
            idx = int(idx)
            try:
                got = pickle.loads(bytes.fromhex(data))
            except Exception as e:
                out.write("FAIL %d %s: pickle.loads raised %r\n" % (idx, proto, e))
                continue
            # What Python itself gets back from its own pickle: protocol 2 maps
            # some classes to Python 2 names (TimeoutError -> exceptions.OSError),
            # which Python 3 reads back as the base class; for protocols 3+ this
            # is the original object.
            expected = pickle.loads(pickle.dumps(values[idx], int(proto)))
            if int(proto) >= 3 and equal(values[idx], expected):
                out.write("FAIL %d %s: Python's own round trip differs\n" % (idx, proto))
            d = equal(expected, got)
            if d:
                out.write("FAIL %d %s: %s\n" % (idx, proto, d))
            n += 1
        out.write("checked %d\n" % n)
    elif mode == "echo":
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                v = pickle.loads(bytes.fromhex(line))
                out.write(pickle.dumps(v, 5).hex() + "\n")
            except Exception as e:
                out.write("ERROR %r\n" % (e,))
    else:
        raise SystemExit("unknown mode " + mode)
    out.flush()


if __name__ == "__main__":
    main()
