#!/usr/bin/env python3
"""Cross-serializer oracle: real Pyro4 4.82 serializers against the Rust codecs.

Driven by tests/tests/oracle.rs. Every exchange is one JSON document (stdin / stdout),
bytes as hex. Serializers are Pyro4's own (`Pyro4.util.get_serializer(name)`), so values
travel exactly as a Pyro4 peer puts them on the wire (exceptions and URIs through Pyro4's
class_to_dict path, serpent with module_in_classname, json with Pyro4's `default`).

    oracle.py corpus  -> {"values": [{"id", "name", "foreign_class", "ser": {name: entry},
                                      "call": {name: entry}}]} where entry is
                         {"py": hex of dumps(v), "rt": hex of dumps(loads(dumps(v))) or null,
                          "load_error": message or null}
                         or {"refused": message} when Pyro4 cannot serialize v at all;
                         "call" holds the same for dumpsCall("test.obj", "method", (v, 1), {"kw": v})
                         (rt there is dumpsCall(*loadsCall(py))).
    oracle.py check   <- [{"id", "ser", "hex", "kind"}]   (Rust's bytes for corpus value id;
                         kind "value" (default) or "call": then loadsCall is compared)
                      -> [{"id", "ser", "ok", "reason"}]: loads(Rust bytes) must be strictly
                         equal (same types, floats bit for bit, same dict order, exceptions by
                         class, args and attributes) to Python's own loads(dumps(v)).
    oracle.py redump  <- [{"key", "ser", "hex", "pickle", "kind"}] (Rust's bytes of a Rust value in
                         `ser`, and the same value in pickle; kind "call": call payloads, going
                         through loadsCall / dumpsCall)
                      -> [{"key", "redump": hex | null, "error": message | null,
                           "from_pickle": hex | null, "pickle_refused": message | null,
                           "unreadable": message | null}]:
                         redump = dumps(loads(hex)) with `ser`; from_pickle = `ser`.dumps of the
                         value Python reads from Rust's pickle (or why Pyro4 refuses it);
                         unreadable = why Pyro4 cannot read its own from_pickle bytes back.

Run with PYTHONHASHSEED=0 so that set iteration order (and so Python's bytes) is stable.
"""
import json
import math
import struct
import sys

import Pyro4.core
import Pyro4.errors
import Pyro4.futures
import Pyro4.util

NAMES = ("serpent", "json", "marshal", "pickle")
SER = {n: Pyro4.util.get_serializer(n) for n in NAMES}


class Custom(Exception):
    """An exception class Pyro4 cannot rebuild (not builtins / Pyro4.errors): refused on load."""


def unicode_strings():
    out = []
    for plane in range(17):
        cps = [plane * 0x10000 + off for off in (0, 0x41, 0x7F, 0xA0, 0xAD, 0x378, 0x2028, 0x3000, 0xE000, 0xFFFD, 0xFFFF)]
        out.append(("plane%d" % plane, "".join(chr(c) for c in cps if not 0xD800 <= c < 0xE000)))
    sweep = [chr(c) for c in range(1, 0x110000, 4099) if not 0xD800 <= c < 0xE000]
    for i in range(0, len(sweep), 40):
        out.append(("sweep%d" % i, "".join(sweep[i:i + 40])))
    out += [
        ("empty", ""),
        ("ascii", "".join(chr(c) for c in range(128))),
        ("latin1", "".join(chr(c) for c in range(128, 256))),
        ("quotes", "it's \"quoted\" '''triple''' \"\"\""),
        ("backslashes", "a\\b\\\\c\\n\\x00"),
        ("controls", "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f"),
        ("lineseps", "\u2028\u2029\x85\x1c\x1d\x1e"),
        ("bom_zw", "\ufeff\u200b\u200d\u2060"),
        ("emoji", "\U0001F600\U0001F469\u200d\U0001F4BB"),
        ("cjk", "\u4e2d\u6587\u65e5\u672c\uac00"),
        ("rtl", "\u05d0\u05d1 \u0627\u0644\u0639"),
        ("combining", "e\u0301 a\u0308"),
        ("private_use", "\ue000\U000F0000\U0010FFFD"),
        ("noncharacters", "\ufdd0\ufffe\uffff\U0010FFFF"),
        ("long", "abc\u00e9\U0001F600" * 2000),
    ]
    return out


def exc_with(cls, args, **attrs):
    e = cls(*args)
    for k, v in attrs.items():
        setattr(e, k, v)
    return e


def deep_list(n):
    v = []
    for _ in range(n):
        v = [v]
    return v


def deep_tuple(n):
    v = ()
    for _ in range(n):
        v = (v, 1)
    return v


def deep_dict(n):
    v = {}
    for i in range(n):
        v = {"k%d" % i: v}
    return v


def corpus():
    c = []

    def add(name, v):
        c.append((name, v))

    add("none", None)
    add("true", True)
    add("false", False)
    ints = [0, 1, -1, 7, 127, 128, 255, 256, -128, -129, 2 ** 15, 2 ** 31 - 1, -2 ** 31, 2 ** 31, 2 ** 32,
            2 ** 53, 2 ** 53 + 1, 2 ** 62, 2 ** 63 - 1, -2 ** 63, 2 ** 63, -2 ** 63 - 1, 2 ** 64 - 1, 2 ** 64,
            2 ** 70, -(2 ** 100), 10 ** 30, -10 ** 40, 2 ** 1000 + 12345, -(3 ** 400), 999999999999, -1000000]
    for i in ints:
        add("int_%d" % i if abs(i) < 2 ** 64 else "int_big_%s" % hex(i), i)
    floats = [0.0, -0.0, 1.0, -1.5, 0.1, 0.2 + 0.1, 1 / 3, 1e16, 1e15, 1e17, 123456789.123, 1e22, 1e23,
              1e-5, 1e-4, 1e-300, 5e-324, -5e-324, 2.2250738585072014e-308, sys.float_info.max,
              -sys.float_info.max, float(2 ** 53), float(2 ** 63), 3.141592653589793, 2.718281828459045,
              float("inf"), float("-inf"), float("nan"), -float("nan"),
              struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]]
    for i, f in enumerate(floats):
        add("float_%d_%r" % (i, f), f)
    complexes = [0j, 1 + 2j, -1.5 - 2.5j, complex(0.0, -0.0), complex(-0.0, 0.0), complex(1e300, -1e-300),
                 complex(float("inf"), 1), complex(1, float("-inf")), complex(float("nan"), 0), 3j]
    for i, z in enumerate(complexes):
        add("complex_%d" % i, z)
    for name, s in unicode_strings():
        add("str_" + name, s)
    add("bytes_empty", b"")
    add("bytes_all", bytes(range(256)))
    add("bytes_text", b"hello world")
    add("bytes_zeros", b"\x00" * 100)
    add("bytes_long", bytes(range(256)) * 40)
    # containers
    add("list_empty", [])
    add("tuple_empty", ())
    add("set_empty", set())
    add("frozenset_empty", frozenset())
    add("dict_empty", {})
    add("tuple_one", (1,))
    add("list_mixed", [None, True, 1, 2.5, "s", 2 ** 70, [], (), {}])
    add("tuple_mixed", (None, False, -1, -2.5, "t", [1, 2], (3, 4), {"a": 1}))
    add("list_of_lists", [[1, 2], [3, [4, [5]]], []])
    add("list_long", list(range(1000)))
    add("tuple_long", tuple("x%d" % i for i in range(300)))
    add("set_ints", {1, 2, 3, 100, -5})
    add("set_strs", {"a", "b", "zz", "\u00e9"})
    add("set_mixed_sortable", {1, 2.5, 3})
    add("set_tuples", {(1, 2), (3, 4)})
    add("set_bigints", {2 ** 70, -(2 ** 100), 5})
    add("set_one", {"only"})
    add("frozenset_ints", frozenset({1, 2, 3}))
    add("frozenset_strs", frozenset({"x", "y"}))
    add("list_with_sets", [{1, 2}, frozenset({3}), set()])
    add("dict_str", {"a": 1, "b": 2, "c": [1, 2]})
    add("dict_order", {"z": 1, "a": 2, "m": 3, "b": 4})
    add("dict_nested", {"a": {"b": {"c": {"d": None}}}})
    add("dict_unicode_keys", {"\u00e9": 1, "\U0001F600": 2, "": 3})
    add("dict_int_keys", {3: "c", 1: "a", -2: "b"})
    add("dict_bigint_keys", {2 ** 70: 1, -(2 ** 100): 2})
    add("dict_float_keys", {1.5: "x", -0.25: "y", 1e300: "z"})
    add("dict_bool_keys", {True: 1, False: 0})
    add("dict_none_key", {None: "nothing"})
    add("dict_complex_key", {1 + 2j: "c"})
    add("dict_tuple_keys", {(1, 2): "a", ("x", None): "b", (): "e"})
    add("dict_bytes_key", {b"k": 1})
    add("dict_frozenset_key", {frozenset({1, 2}): "f"})
    add("dict_all_hashable_keys", {None: 0, True: 1, 2: 2, 2 ** 70: 3, 1.5: 4, 1j: 5, "s": 6, b"b": 7,
                                   (1, "t"): 8, frozenset({9}): 9})
    add("dict_mixed_str_int_keys", {"1": "str", 2: "int"})
    add("dict_big", {"key%d" % i: i for i in range(200)})
    add("dict_values_all", {"n": None, "b": True, "i": 1, "f": 1.5, "s": "x", "l": [1], "t": (1,), "d": {}})
    for depth in (1, 2, 10, 50, 100):
        add("deep_list_%d" % depth, deep_list(depth))
        add("deep_tuple_%d" % depth, deep_tuple(depth))
        add("deep_dict_%d" % depth, deep_dict(depth))
    add("nested_empties", [[], [[]], ((),), {"": {}}, [set()]])
    # exceptions
    add("exc_value", ValueError("bad value"))
    add("exc_noargs", KeyError())
    add("exc_multiargs", ZeroDivisionError("division by zero", 42, None))
    add("exc_attrs", exc_with(ValueError, ("x",), code=42, detail=[1, 2], name="n"))
    add("exc_unicode", RuntimeError("\u00e9\U0001F600"))
    add("exc_pyro", Pyro4.errors.CommunicationError("connection lost"))
    add("exc_pyro_naming", Pyro4.errors.NamingError("unknown name", "x"))
    add("exc_pyro_attrs", exc_with(Pyro4.errors.SerializeError, ("ser",), hint="use serpent"))
    add("exc_timeout", Pyro4.errors.TimeoutError("slow"))
    add("exc_in_list", [ValueError("inner"), 1])
    add("exc_in_dict", {"error": TypeError("t")})
    add("exc_os", OSError(2, "No such file"))
    add("exc_stopiteration", StopIteration(5))
    add("exc_custom", Custom("not rebuildable"))
    add("exc_traceback", exc_with(ValueError, ("remote",), _pyroTraceback=["Traceback (most recent call last):\n",
                                                                         "ValueError: remote\n"]))
    add("exc_nested_args", KeyError(("a", 1), [1, {"x": None}], {2, 3}))
    add("exc_wrapper", Pyro4.futures._ExceptionWrapper(ZeroDivisionError("division by zero")))
    add("proxy", Pyro4.core.Proxy("PYRO:obj@localhost:9090"))
    # URIs
    for i, u in enumerate(["PYRO:obj@localhost:9090", "PYRO:test.obj@127.0.0.1:51234",
                           "PYRO:obj@[::1]:9090", "PYRO:obj@./u:/tmp/pyro.sock",
                           "PYRONAME:my.name", "PYRONAME:my.name@nshost:9091",
                           "PYROMETA:meta1,meta2@localhost:9090", "PYRO:\u00e9obj@host.example:1"]):
        add("uri_%d" % i, Pyro4.core.URI(u))
    add("uri_in_list", [Pyro4.core.URI("PYRO:a@h:1"), Pyro4.core.URI("PYRONAME:b")])
    add("uri_in_dict", {"uri": Pyro4.core.URI("PYRO:a@h:1")})
    # payload-like shapes
    add("call_like", ("test.obj", "method", ("s", 42, 1.5, list(range(10)), {"a": 1}), {}))
    add("result_like", {"result": [1, 2, 3], "status": "ok", "time": 0.125})
    add("batch_like", [(True, 1), (False, ValueError("x"))])
    # many small mixed values
    for i in range(110):
        add("mix_%d" % i, [i, -i * 7919, i * 0.5, "s%d" % i, (i, str(i)), {"k%d" % i: [i] * (i % 4)}])
    return c


def dumps(name, v):
    return SER[name].dumps(v)


def loads(name, data):
    return SER[name].loads(data)


def fbits(f):
    return struct.pack("<d", f)


def same(a, b, path="v"):
    """None if a and b are strictly the same Python value, else a description of the first difference."""
    if type(a) is not type(b):
        return "%s: type %s != %s (%r vs %r)" % (path, type(a).__name__, type(b).__name__, a, b)
    if isinstance(a, float):
        return None if fbits(a) == fbits(b) else "%s: float %r != %r" % (path, a, b)
    if isinstance(a, complex):
        ok = fbits(a.real) == fbits(b.real) and fbits(a.imag) == fbits(b.imag)
        return None if ok else "%s: complex %r != %r" % (path, a, b)
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return "%s: length %d != %d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            r = same(x, y, "%s[%d]" % (path, i))
            if r:
                return r
        return None
    if isinstance(a, (set, frozenset)):
        if len(a) != len(b):
            return "%s: set size %d != %d" % (path, len(a), len(b))
        for x in a:
            if not any(same(x, y) is None for y in b):
                return "%s: element %r missing from %r" % (path, x, b)
        return None
    if isinstance(a, dict):
        ka, kb = list(a.keys()), list(b.keys())
        if len(ka) != len(kb):
            return "%s: dict size %d != %d" % (path, len(ka), len(kb))
        for x, y in zip(ka, kb):
            r = same(x, y, path + ".key")
            if r:
                return r + " (dict keys, in order)"
            r = same(a[x], b[y], "%s[%r]" % (path, x))
            if r:
                return r
        return None
    if isinstance(a, BaseException):
        r = same(a.args, b.args, path + ".args")
        if r:
            return r
        return same(vars(a), vars(b), path + ".attributes")
    if isinstance(a, Pyro4.futures._ExceptionWrapper):
        return same(a.exception, b.exception, path + ".exception")
    if isinstance(a, Pyro4.core.Proxy):
        return same(a.__getstate__(), b.__getstate__(), path + ".state")
    if isinstance(a, Pyro4.core.URI):
        return None if a.__getstate__() == b.__getstate__() else "%s: URI %s != %s" % (path, a, b)
    return None if a == b else "%s: %r != %r" % (path, a, b)


def err(e):
    return "%s: %s" % (type(e).__name__, e)


PLAIN = (type(None), bool, int, float, complex, str, bytes)


def foreign_class(v):
    """True if v holds an object of a class Pyro4's dict_to_class would not rebuild."""
    if isinstance(v, PLAIN) or isinstance(v, (Pyro4.core.URI, Pyro4.core.Proxy)):
        return False
    if isinstance(v, Pyro4.futures._ExceptionWrapper):
        return foreign_class(v.exception)
    if isinstance(v, (list, tuple, set, frozenset)):
        return any(foreign_class(x) for x in v)
    if isinstance(v, dict):
        return any(foreign_class(k) or foreign_class(x) for k, x in v.items())
    if isinstance(v, BaseException):
        module = type(v).__module__
        return module not in ("builtins", "Pyro4.errors") or foreign_class(v.args) or foreign_class(vars(v))
    return True


def as_call(v):
    """The corpus value as it travels in a call: a positional and a keyword argument."""
    return ("test.obj", "method", (v, 1), {"kw": v})


def dumps_kind(kind, ser, v):
    if kind == "call":
        return SER[ser].dumpsCall(*as_call(v))
    return dumps(ser, v)


def loads_kind(kind, ser, data):
    if kind == "call":
        return SER[ser].loadsCall(data)
    return loads(ser, data)


def record(kind, ser, v):
    try:
        py = dumps_kind(kind, ser, v)
    except Exception as e:
        return {"refused": err(e)}
    rec = {"py": py.hex(), "rt": None, "load_error": None}
    try:
        back = loads_kind(kind, ser, py)
        rec["rt"] = (SER[ser].dumpsCall(*back) if kind == "call" else dumps(ser, back)).hex()
    except Exception as e:
        rec["load_error"] = err(e)
    return rec


def cmd_corpus():
    values = []
    for i, (name, v) in enumerate(corpus()):
        entry = {"id": i, "name": name, "ser": {}, "call": {}}
        for ser in NAMES:
            entry["ser"][ser] = record("value", ser, v)
            entry["call"][ser] = record("call", ser, v)
        # A class Pyro4's dict_to_class does not rebuild: the class-dict serializers refuse it on
        # load, and the Rust pickle codec refuses it by design (it only knows the same classes).
        entry["foreign_class"] = foreign_class(v)
        values.append(entry)
    json.dump({"values": values}, sys.stdout)


def cmd_check():
    reqs = json.load(sys.stdin)
    values = corpus()
    out = []
    for r in reqs:
        name, v = values[r["id"]]
        ser = r["ser"]
        kind = r.get("kind", "value")
        res = {"id": r["id"], "ser": ser, "ok": False, "reason": None}
        try:
            want = loads_kind(kind, ser, dumps_kind(kind, ser, v))
        except Exception as e:
            res["reason"] = "Python cannot round-trip %s itself: %s" % (name, err(e))
            out.append(res)
            continue
        try:
            got = loads_kind(kind, ser, bytes.fromhex(r["hex"]))
        except Exception as e:
            res["reason"] = "Python cannot read Rust's bytes: " + err(e)
            out.append(res)
            continue
        diff = same(want, got)
        res["ok"] = diff is None
        res["reason"] = diff
        out.append(res)
    json.dump(out, sys.stdout)


def cmd_redump():
    reqs = json.load(sys.stdin)
    out = []
    for r in reqs:
        ser = r["ser"]
        kind = r.get("kind", "value")
        res = {"key": r["key"], "redump": None, "error": None, "from_pickle": None, "pickle_refused": None,
               "unreadable": None}
        if r.get("hex") is not None:
            try:
                back = loads_kind(kind, ser, bytes.fromhex(r["hex"]))
                res["redump"] = (SER[ser].dumpsCall(*back) if kind == "call" else dumps(ser, back)).hex()
            except Exception as e:
                res["error"] = err(e)
        if r.get("pickle") is not None:
            try:
                v = loads_kind(kind, "pickle", bytes.fromhex(r["pickle"]))
            except Exception as e:
                res["pickle_refused"] = "Python cannot read Rust's pickle: " + err(e)
            else:
                try:
                    data = SER[ser].dumpsCall(*v) if kind == "call" else dumps(ser, v)
                except Exception as e:
                    res["pickle_refused"] = err(e)
                else:
                    res["from_pickle"] = data.hex()
                    try:
                        loads_kind(kind, ser, data)
                    except Exception as e:
                        res["unreadable"] = err(e)
        out.append(res)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    sys.setrecursionlimit(10000)
    {"corpus": cmd_corpus, "check": cmd_check, "redump": cmd_redump}[sys.argv[1]]()
