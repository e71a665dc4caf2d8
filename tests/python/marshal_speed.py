"""Timing of CPython's marshal and Pyro4's MarshalSerializer on one payload
(tests/tests/marshal_speed.rs). Reads the payload hex on stdin; prints
'<name> <best ns per call>' lines (best of 7 runs, like timeit's advice)."""
import marshal
import sys
import timeit

from Pyro4.util import MarshalSerializer

data = bytes.fromhex(sys.stdin.read().strip())
obj = marshal.loads(data)
ms = MarshalSerializer()
n = 20000
for name, f in [("loads", lambda: marshal.loads(data)), ("dumps", lambda: marshal.dumps(obj)),
                ("loadsCall", lambda: ms.loadsCall(data)), ("dumpsCall", lambda: ms.dumpsCall(*obj))]:
    print(name, round(min(timeit.repeat(f, number=n, repeat=7)) / n * 1e9))
