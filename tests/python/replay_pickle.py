"""Python side of the replay tests (tests/src/replay.rs) for pickle payloads the
Rust pickle reader refuses (instances of classes outside its whitelist, such as
the capture service's vectorsvc.MyError and vectorsvc.Thing).

    replay_pickle.py <vectors tools dir>  <- reads '<hex>' lines (pickled payloads)
                                          -> prints one canonical JSON line per input,
                                             or 'ERROR <reason>'

The canonical form keeps types apart (tuple/list/set/dict/object/exception), sorts
sets and dicts, and leaves out exception tracebacks (_pyroTraceback), which differ
between any two runs.
"""
import json
import pickle
import sys

sys.path.insert(0, sys.argv[1])  # vectorsvc, the capture's service module


def canon(x):
    if isinstance(x, BaseException):
        attrs = {k: v for k, v in vars(x).items() if k != "_pyroTraceback"}
        return ["exception", type(x).__module__ + "." + type(x).__qualname__,
                canon(x.args), canon(attrs)]
    if x is None or isinstance(x, (bool, int, str)):
        return [type(x).__name__, x]
    if isinstance(x, float):
        return ["float", repr(x)]
    if isinstance(x, (bytes, bytearray)):
        return ["bytes", bytes(x).hex()]
    if isinstance(x, (list, tuple)):
        return [type(x).__name__, [canon(i) for i in x]]
    if isinstance(x, (set, frozenset)):
        return [type(x).__name__, sorted((canon(i) for i in x), key=json.dumps)]
    if isinstance(x, dict):
        return ["dict", sorted(([canon(k), canon(v)] for k, v in x.items()), key=json.dumps)]
    if hasattr(x, "__dict__"):
        return ["object", type(x).__module__ + "." + type(x).__qualname__, canon(vars(x))]
    return ["repr", repr(x)]


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        print(json.dumps(canon(pickle.loads(bytes.fromhex(line))), sort_keys=True))
    except Exception as e:  # report, never crash: the Rust side shows the reason
        print("ERROR %s: %s" % (type(e).__name__, e))
    sys.stdout.flush()
