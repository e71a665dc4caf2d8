"""Oracle for pyro-proto's value model.

Mode `classes` (default): what Pyro4 4.82's deserializers make of payloads
containing `__class__` dicts. stdin: one line per case, `<serializer name> <hex
payload>` (payloads written by the Rust codecs). stdout: one line per case,
either `ok <module.type of the top-level result>` or `err <ExceptionType>\t<message>`.

Mode `eq`: Python's `==`. stdin: `<hex serpent a> <hex serpent b>` per line;
stdout: `1` or `0` per line (values read with Pyro4's SerpentSerializer, so
serpent's NaN dicts are floats again).
"""
import sys

import Pyro4.util
import Pyro4.errors

SERIALIZERS = {
    "serpent": Pyro4.util.SerpentSerializer(),
    "json": Pyro4.util.JsonSerializer(),
    "marshal": Pyro4.util.MarshalSerializer(),
}


def eq():
    ser = SERIALIZERS["serpent"]
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        a, b = line.split(" ")
        x = ser.loads(bytes.fromhex(a))
        y = ser.loads(bytes.fromhex(b))
        print("1" if x == y else "0")
    sys.stdout.flush()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "eq":
        return eq()
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        name, payload = line.split(" ", 1)
        data = bytes.fromhex(payload)
        try:
            obj = SERIALIZERS[name].loads(data)
        except Exception as e:  # every outcome is reported, none is fatal
            msg = str(e).replace("\n", " ").replace("\t", " ")
            print("err %s\t%s" % (type(e).__name__, msg))
        else:
            t = type(obj)
            print("ok %s.%s" % (t.__module__, t.__name__))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
