"""Python's repr of a corpus of values, for pyro-cli's py_repr (pyro-cli/tests/cli_repr.rs).

Prints one line per value: `SERIALIZER<TAB>HEX<TAB>REPR`, where HEX is the
value as Pyro4's serializer sends it and REPR is what Python prints for the
value a Pyro4 proxy gets back from that payload (`repr(loads(dumps(v)))`).
Output is UTF-8 (repr escapes tabs and newlines, so lines stay whole).
"""

import sys

import Pyro4.errors
import Pyro4.util
from Pyro4.core import URI

INF, NAN = float("inf"), float("nan")

SCALARS = [
    None, True, False, 0, 1, -1, 255, 2**31, 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**70, -2**100,
    10**50, 0.0, -0.0, 1.0, 1.5, -2.25, 0.1, 1e-5, 1e-4, 1e15, 1e16, 1e22, 1.7976931348623157e308,
    5e-324, 123456789.125, INF, -INF, NAN, 1 / 3,
    "", "abc", "it's", 'say "hi"', "both ' and \"", "back\\slash", "\t\n\r\x00\x1f\x7f",
    "\x80\xa0\xad\u00e9", "\u2028\u200b\ufffe\u20ac", "\ue000\U0010ffff\U0001f600", "\u3000",
    "snow \u2603 man", "x" * 300,
    b"", b"abc", b"it's", b"'\"", bytes(range(256)),
]
COMPLEX = [
    1 + 2j, 2j, complex(-0.0, 2), complex(0.0, -0.0), complex(1.5, -0.0), complex(0, 1e16),
    complex(NAN, INF), complex(1, -INF), complex(-1, NAN), complex(1e-7, 1e22), -1.5 - 0.5j,
]
CONTAINERS = [
    [], (), (1,), ((1,),), [1, (2, 3)], (1, "a", (2, "b"), [None]), {}, {"a": 1, "b": [1, 2]},
    {1: "int key", (1, 2): "tuple key", None: 0, 2.5: b"x"}, {"nested": {"deeper": {"deepest": ()}}},
    {1, 2, 3}, {-1, 0, 1}, {"a"}, {(1, 2), 3}, frozenset(), frozenset([1, 2]), set(),
    [[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]], [1.5, -0.0, 2**70, "s", b"b", None, True],
    {"complex": 1j, "set": {1}, "frozen": frozenset({2})},
]
# Sets print in hash-table order; these exercise collisions, probing and resizes.
SETS = [
    set([8, 0, 1, 2]), set([8, 0, 1, 2, 3]), {-1, -2, 7, 15, 23, 31}, set(range(100, 0, -7)),
    set(range(0, 4000, 37)), {2**64, 2**70, -2**70, 10**30, 5}, {0.5, 1.5, -2.25, 1e300, 1e-300, 3.0},
    {float("inf"), float("-inf"), 0.1}, {1j, 1 + 2j, complex(0.5, -1)}, {(1, 2), (2, 1), (), (1,), 3},
    {(1.5, (2,)), (0, 0), True}, frozenset(range(50, 0, -3)), frozenset({(1, 2), 3}),
    set([2**61 - 1, 2**61, 2**61 + 1, 0, 1]), set([i * 8 for i in range(20)]),
]


def emit(ser, payload, value):
    print("%s\t%s\t%s" % (ser, payload.hex(), repr(value)))


def main():
    # What a Pyro4 proxy gets back from each serializer (serpent's bytes dicts,
    # json's lists, class objects such as exceptions, sets rebuilt by
    # recreate_classes), printed by Python.
    objects = [
        ValueError("bad value"), ValueError(), ValueError("a", 1), KeyError("k"),
        ZeroDivisionError("division by zero"), Pyro4.errors.NamingError("unknown name: x"),
        Pyro4.errors.CommunicationError("lost"), [ValueError("in a list")],
    ]
    for ser in ("marshal", "serpent", "json", "pickle"):
        s = Pyro4.util.get_serializer(ser)
        values = SCALARS + COMPLEX + CONTAINERS + SETS + objects
        if ser == "json":
            values = [v for v in values if not isinstance(v, (bytes, set, frozenset, complex))
                      and v not in CONTAINERS[-1:] and not (isinstance(v, dict) and any(
                          not isinstance(k, str) for k in v))]
        for v in values:
            try:
                data = s.serializeData(v)[0]
                got = s.deserializeData(data)
            except Exception:
                continue  # not transportable with this serializer
            emit(ser, data, got)


if __name__ == "__main__":
    sys.stdout.reconfigure(encoding="utf-8")
    main()
