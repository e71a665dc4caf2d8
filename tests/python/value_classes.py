"""Oracle for pyro-proto's value::classes: what Pyro4 4.82's deserializers make
of payloads containing `__class__` dicts.

stdin: one line per case, `<serializer name> <hex payload>` (payloads written by
the Rust codecs). stdout: one line per case, either
`ok <module.type of the top-level result>` or `err <ExceptionType>\t<message>`.
"""
import sys

import Pyro4.util
import Pyro4.errors

SERIALIZERS = {
    "serpent": Pyro4.util.SerpentSerializer(),
    "json": Pyro4.util.JsonSerializer(),
    "marshal": Pyro4.util.MarshalSerializer(),
}


def main():
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
