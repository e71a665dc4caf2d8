#!/usr/bin/env python3
"""Oracle for tests/tests/uri_oracle.rs: what real Pyro4 4.82 makes of URI strings.

    python uri_oracle.py        # one JSON object per line on stdout

For every input string (hand-picked quirks, a protocol x object x location
product, and seeded random strings over an alphabet of URI-significant
characters) prints either
    {"input": s, "ok": false, "error": str(exc), "error_type": "PyroError"}
or
    {"input": s, "ok": true, "protocol", "object" (a sorted list for PYROMETA),
     "sockname", "host", "port" (a decimal string: Python ints are unbounded),
     "location", "str", "state_serpent" (the URI serialized by Pyro's serpent
     serializer and read back with serpent.loads, as tagged JSON),
     "state_json" (the text Pyro's json serializer writes for it)}
and then, for pairs of inputs, {"pair": [a, b], "equal": a == b, "hash_equal": ...}.

Tagged JSON: None -> null, str -> string, int -> {"int": "<decimal>"},
bool -> {"bool": b}, tuple/list -> {"tuple"|"list": [...]}, set/frozenset ->
{"set": [...] sorted by their JSON text}, dict -> {"dict": [[k, v], ...]}.
"""
import itertools
import json
import random
import sys

import serpent
import Pyro4.core
import Pyro4.errors
import Pyro4.util

HAND = [
    # Pyro4's own tests (tests/PyroTests/test_core.py)
    "PYRONAME:some_obj_name", "PYRONAME:some_obj_name@host.com", "PYRONAME:some_obj_name@host.com:8888",
    "PYRO:12345@host.com:9999", "PYRO:12345@./u:sockname", "PYRO:12345@./u:/tmp/sockname",
    "PYRO:12345@./u:../sockname", "pyro:12345@host.com:4444", "pyro:12345@[::1]:4444",
    "pyro:12345@[[::1]]:4444", "PYRONAME:objectname@nameserverhost", "PyroName:some_obj_name@host.com:9999",
    "", "a", "PYR", "PYRO", "PYRO:", "PYRO::", "PYRO:a", "PYRO:x@", "PYRO:x@hostname",
    "PYRO:@hostname:portstr", "PYRO:@hostname:7766", "PYRO:objid@hostname:7766:bogus", "PYROLOC:objname",
    "PYROLOC:objname@host", "PYROLOC:objectname@hostname:4444", "PYRONAME:", "PYRONAME:objname@nameserver:bogus",
    "PYRONAME:objname@nameserver:7766:bogus", "FOOBAR:", "FOOBAR:objid@hostname:7766",
    "PYRO:12345@./u:sockname:9999", "PYRO:weirdchars\u20ac@host\u20ac.com:4444",
    # protocol notes, section 1.2
    "pyro:obj@host:9999", "PYRO:obj@./u:sock name ", "PYRO:obj@./u:", "PYRO:obj@./u:a:b",
    "PYRO:obj@[::1]:4444", "PYRO:obj@[::1]", "PYRO:obj@[fe80::1%eth0]:4444", "PYRO:obj@[fe80::1%25]:4444",
    "PYRO:obj@::1:4444", "PYRO:obj@host", "PYRO:obj@host:", "PYRO:obj@host:abc", "PYRO:obj@host:+12",
    "PYRO:obj@host: 12", "PYRO:obj@HOST:0012", "PYRO:obj@:1234", "PYRO:obj", "PYRO:@host:1",
    "PYRO:obj id@host:1", " PYRO:obj@host:1", "PYRO:obj@host:1 ", "PYRONAME:name@nshost", "pyroname:name@[::1]",
    "PYRONAME:name@", "PYROMETA:a,b@nshost", "PYROMETA:a,b, c", "PYROMETA:a,,b", "PYROLOC:x@h:1",
    "PYROX:obj@host:1", "FOO:obj@host:1", "PYRO:a@b@host:1", "PYRO:obj@[[::1]]:1", "PYRO:obj@[::1]:4444xyz",
    "PYRO:obj@host:-1", "PYRO:obj@host:99999",
    # line breaks and whitespace
    "PYRO:o@h:1\n", "PYRO:o\n", "PYRONAME:o\n", "PYRO:o@h:1\n\n", "PYRO:o@h:1\r", "PYRO:o@h\n:1",
    "PYRONAME:o\n@h", "\nPYRO:o@h:1", "PYRO:o@h:\t1\t", "PYRO:o@h:1\x0b", "PYRO:o@h:\x1c1",
    "PYRO:o@h:\u00a012\u3000", "PYRO:o\u00a0x@h:1", "PYRO:o\x1cx@h:1", "PYRO:o\u200bx@h:1",
    "PYRO:o\u180ex@h:1", "PYRO:o\u2028x@h:1", "PYRO:o\x85x@h:1", "PYRONAME:x@ho st", "PYRONAME:x@ \t",
    "PYRO:o@./u:\x00abstract", "PYRO:o@./u: ", "PYRO:o@./u:a@b", "PYRO:o@./u:\r",
    # ports through int()
    "PYRO:o@h:1_000", "PYRO:o@h:1__0", "PYRO:o@h:_1", "PYRO:o@h:1_", "PYRO:o@h:+_1", "PYRO:o@h:- 1",
    "PYRO:o@h:--1", "PYRO:o@h:-0", "PYRO:o@h:0", "PYRO:o@h:00", "PYRO:o@h:1e3", "PYRO:o@h:0x10",
    "PYRO:o@h:1.0", "PYRO:o@h:\u0664\u0664", "PYRO:o@[::1]:\u0664\u0664", "PYRO:o@h:\uff11\uff12",
    "PYRO:o@h:\U0001d7ce\U0001d7cf", "PYRO:o@h:\u00b2", "PYRO:o@h:1\u200b", "PYRO:o@h:65535", "PYRO:o@h:65536",
    "PYRO:o@h:9223372036854775807", "PYRO:o@h:-9223372036854775808", "PYRO:o@h:9223372036854775808",
    "PYRO:o@h:99999999999999999999999", "PYRO:o@h:" + "1" * 4300, "PYRO:o@h:" + "1" * 4301,
    "PYRO:o@h:" + "0" * 4301, "PYRO:o@h:1\x00",
    # ipv6
    "PYRO:o@[abc]:1", "PYRO:o@[%]:1", "PYRO:o@[]:1", "PYRO:o@[::1]:", "PYRO:o@[::1]:abc", "PYRONAME:x@[::1]:abc",
    "PYRONAME:x@[::1]", "PYRO:o@[::ffff:127.0.0.1]:1", "PYRO:o@[2001:db8::1]:80", "PYRO:o@[2001:DB8::A]:80",
    "PYRO:o@[::1]x:1", "PYRO:o@[::1", "PYRO:o@[::1]:1:2", "PYRO:o@[::1]:-1", "PYRO:o@[::1]: 1",
    # unix-ish and odd hosts
    "PYRONAME:x@./u", "PYRONAME:x@./u:", "PYRO:x@./u", "PYRO:x@./x:1", "PYRONAME:x@.", "PYRONAME:x@:",
    "PYRONAME:x@:5", "PYROMETA:a@:5", "PYRO:o@@:1", "PYRO:o@h@:1", "PYRONAME:a@@", "PYRONAME:a@@@",
    # PYROMETA
    "PYROMETA:,", "PYROMETA:,@h", "PYROMETA:a,a,b", "PYROMETA:b,a@", "PYROMETA:a@,b", "PYROMETA:a@,b@",
    "PYROMETA:@hos:,YA:,YRORO", "PYROMETA:@x,b,@", "PYROMETA:@,!@", "PYROMETA:@z,c,b,a@", "PYROMETA:@a,b@h",
    "PYROMETA:class:x,role:y@ns:1", "PYROMETA:\u00e9t\u00e9,\u00fc@h", "pyrometa:x", "PYROMETA:",
    # unicode object names and hosts
    "PYRO:\u043e\u0431\u044a\u0435\u043a\u0442@\u0445\u043e\u0441\u0442:1", "PYRONAME:\u540d\u524d@\u30db\u30b9\u30c8",
    "PYRO:\U0001f600@h:1", "PYRO:o@\U0001f600:1", "PYRO:\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9@host:1",
    "PYRO:obj_0123456789abcdef0123456789abcdef@localhost:45678", "PYRONAME:Pyro.NameServer@localhost:9090",
    "PYRO:Pyro.Daemon@localhost:1", "PYRO:o@h:1 trailing words", "PYRO:o@h:1#frag", "PYRO:o@h:1/path",
    "\u0130YRO:o@h:1", "PYRO\u0131:o@h:1", "pyro\u212a:o@h:1", "PYRO1:o@h:1", "PY RO:o@h:1", "PYRO :o@h:1",
    "PYRO: o@h:1", "PYRO:o @h:1", "PYRO:o@ h:1", "PYROname:x", "pYrOmEtA:x",
]

PROTOCOLS = ["PYRO", "pyro", "PyRo", "PYRONAME", "pyroname", "PYROMETA", "pyrometa", "PYROX", "PYROLOC", "PYR", "XPYRO"]
OBJECTS = ["obj", "a@b", "", "a,b", "a,,b", "\u00fc", "x y", "@"]
LOCATIONS = [None, "host:1", "host", "host:", "[::1]:5", "[::1]", "./u:/tmp/s", "./u:", ":7", "h:-1", "h: 8 ",
             "h:99999", "[[::1]]:2"]

ALPHABET = ["PYRO", "pyro", "NAME", "META", ":", ":", "@", "@", "[", "]", "./u:", "::1", "1", "42", "\u0664",
            " ", "\n", "\r", "\t", "%", ",", "_", "+", "-", "a", "h", "\u00e9", "\u00a0", "\x1c", "\x00", "x"]


def tag(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        return {"tuple": [tag(x) for x in v]}
    if isinstance(v, list):
        return {"list": [tag(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {"set": sorted((tag(x) for x in v), key=lambda t: json.dumps(t, sort_keys=True))}
    if isinstance(v, dict):
        return {"dict": [[tag(k), tag(x)] for k, x in v.items()]}
    raise TypeError("cannot tag %r" % (v,))


def inputs():
    seen = set()
    for s in HAND:
        yield s
    for proto, obj, loc in itertools.product(PROTOCOLS, OBJECTS, LOCATIONS):
        yield proto + ":" + obj + ("" if loc is None else "@" + loc)
    rnd = random.Random(4082)
    for _ in range(600):
        yield "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(1, 12)))
    for _ in range(300):  # mostly well-formed prefix, random tail
        yield rnd.choice(["PYRO:", "PYRONAME:", "PYROMETA:"]) + "".join(
            rnd.choice(ALPHABET[4:]) for _ in range(rnd.randint(1, 10)))


def describe(s):
    try:
        u = Pyro4.core.URI(s)
    except Pyro4.errors.PyroError as e:
        return {"input": s, "ok": False, "error": str(e), "error_type": type(e).__name__}
    obj = sorted(u.object) if u.protocol == "PYROMETA" else u.object
    out = {"input": s, "ok": True, "protocol": u.protocol, "object": obj, "sockname": u.sockname,
           "host": u.host, "port": None if u.port is None else str(u.port)}
    try:
        out["location"] = u.location
        out["str"] = str(u)
    except ValueError as e:  # more than 4300 digits in a port cannot be printed
        out["str_error"] = str(e)
        return out
    out["state_serpent"] = tag(serpent.loads(Pyro4.util.SerpentSerializer().serializeData(u)[0]))
    out["state_json"] = Pyro4.util.JsonSerializer().serializeData(u)[0].decode("utf-8")
    return out


PAIRS = [
    ("PYRO:12345@host.com:9999", "pyro:12345@host.com:9999"), ("PYRO:12345@host.com:9999", "PYRO:99999@host.com:4444"),
    ("PYRO:x@h:1", "PYRO:x@H:1"), ("PYRO:x@h:+01", "PYRO:x@h:1"), ("PYRONAME:x@h:9090", "PYRONAME:x@h"),
    ("PYRONAME:x@h:1", "PYRO:x@h:1"), ("PYROMETA:a,b", "PYROMETA:b,a,b"), ("PYROMETA:a,b", "PYROMETA:a,b,"),
    ("PYRO:o@[::1]:1", "PYRO:o@[::1]:1xyz"), ("PYRO:o@./u:s", "PYRO:o@./u:s\n"), ("PYRONAME:x", "PYRONAME:x@:9090"),
    ("PYRO:o@:1", "PYRO:o@:2"), ("PYRO:o@[abc]:1", "PYRO:o@abc:1"), ("PYRO:o@h:\u0664", "PYRO:o@h:4"),
]


def main():
    out = sys.stdout
    seen = set()
    for s in inputs():
        if s in seen:
            continue
        seen.add(s)
        out.write(json.dumps(describe(s)) + "\n")
    for a, b in PAIRS:
        ua, ub = Pyro4.core.URI(a), Pyro4.core.URI(b)
        out.write(json.dumps({"pair": [a, b], "equal": ua == ub, "hash_equal": hash(ua) == hash(ub)}) + "\n")


if __name__ == "__main__":
    main()
