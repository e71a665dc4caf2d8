#!/usr/bin/env python3
"""Build the fuzz seed corpora from the captured Pyro4 vectors.

    python3 fuzz/seeds.py        # writes fuzz/corpus/<target>/ (git-ignored)

frame_parser gets every whole message (and each connection's byte stream);
server_session gets each connection's client stream, raw and as records;
the codec targets get the payloads of the messages in their format (and the
unit vectors); uri_parser gets URI strings found in the vectors plus the URI
tables of the protocol notes; client_session gets every S2C message and each
connection's S2C stream after its handshake reply, behind the target's two
option bytes (bit 0 = HMAC key when the message is signed; split 256).
"""
import hashlib
import os
import re
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "tests", "vectors")
CORPUS = os.path.join(HERE, "corpus")
CODEC_TARGETS = {1: "serpent_parser", 2: "json_parser", 3: "marshal_parser", 4: "pickle_parser"}
UNIT_CODECS = {"serpent": 1, "json": 2, "marshal": 3, "pickle": 4}
EXTRA_URIS = [
    "PYRO:obj@host:9999", "pyro:obj@host:9999", "PYRO:obj@./u:sock name ", "PYRO:obj@./u:",
    "PYRO:obj@./u:a:b", "PYRO:obj@[::1]:4444", "PYRO:obj@[::1]", "PYRO:obj@[fe80::1%eth0]:4444",
    "PYRO:obj@::1:4444", "PYRO:obj@host", "PYRO:obj@host:", "PYRO:obj@host:abc", "PYRO:obj@host:+12",
    "PYRO:obj@host: 12", "PYRO:obj@HOST:0012", "PYRO:obj@:1234", "PYRO:obj", "PYRO:@host:1",
    "PYRO:obj id@host:1", " PYRO:obj@host:1", "PYRO:obj@host:1 ", "PYRONAME:name@nshost",
    "pyroname:name@[::1]", "PYRONAME:", "PYRONAME:name@", "PYROMETA:a,b@nshost", "PYROMETA:a,b, c",
    "PYROMETA:a,,b", "PYROLOC:x@h:1", "PYROX:obj@host:1", "FOO:obj@host:1", "PYRO:a@b@host:1",
    "PYRO:obj@[[::1]]:1", "PYRO:obj@[::1]:4444xyz", "PYRO:obj@host:-1", "PYRO:obj@host:99999",
    # more quirks (see tests/python/uri_oracle.py): line breaks, int() ports, unicode, PYROMETA sets
    "PYRO:o@h:1\n", "PYRONAME:o\n", "PYRO:o@h:1\n\n", "PYRO:o@h:1\r", "PYRO:o@h:1_000", "PYRO:o@h:1__0",
    "PYRO:o@h:\u0664\u0664", "PYRO:o@[::1]:\u0664\u0664", "PYRO:o@h:\u00a012\u3000", "PYRO:o\x1cx@h:1",
    "PYRO:o@h:\x1c1", "PYRO:o@h:99999999999999999999999", "PYRO:o@[abc]:1", "PYRONAME:x@[::1]:abc",
    "PYRONAME:x@./u", "PYRONAME:x@:5", "PYROMETA:,", "PYROMETA:,@h", "PYROMETA:b,a@", "PYROMETA:a,a,b",
    "PYRO:o@./u:\x00abstract", "PYRO:o@./u:a@b", "PYRO:weirdchars\u20ac@host\u20ac.com:4444",
    "PYRONAME:\u540d\u524d@\u30db\u30b9\u30c8", "PYRO:o@[2001:db8::1]:80", "pYrOmEtA:x",
]


def write(target, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def payload_of(msg):
    if len(msg) < 24 or msg[:4] != b"PYRO":
        return None, None
    _tag, _ver, _typ, flags, _seq, dlen, ser, alen, _res, _ck = struct.unpack("!4sHHHHiHHHH", msg[:24])
    data = msg[24 + alen:24 + alen + dlen]
    if flags & 2:
        try:
            data = zlib.decompress(data)
        except zlib.error:
            return None, None
    return ser, data


def client_session_options(msg):
    """Option bytes of the client_session target: HMAC key on for signed messages, split 256."""
    signed = len(msg) >= 24 and b"HMAC" in msg[24:24 + struct.unpack("!H", msg[18:20])[0]]
    return bytes([1 if signed else 0, 255])


def client_session_stream(msgs):
    """The daemon's side of one connection after its handshake reply, as one input."""
    if len(msgs) > 1:
        rest = b"".join(msgs[1:])
        write("client_session", client_session_options(msgs[1]) + rest)


def server_session_seeds(client):
    """server_session: the raw client stream (starts with PYRO), and the
    structured form: options byte (handshake serializer) + one record
    [type][flags][seq][serializer][len][payload] per message after the CONNECT."""
    if not client:
        return
    write("server_session", b"".join(client))
    first = client[0]
    if len(first) < 24 or first[:4] != b"PYRO":
        return
    handshake_ser = struct.unpack("!H", first[16:18])[0]
    records = bytes([{1: 0, 2: 1, 3: 2, 4: 3}.get(handshake_ser, 0)])
    for msg in client[1:]:
        if len(msg) < 24 or msg[:4] != b"PYRO":
            continue
        _tag, _ver, typ, flags, seq, dlen, ser, alen, _res, _ck = struct.unpack("!4sHHHHiHHHH", msg[:24])
        data = msg[24 + alen:24 + alen + dlen]
        if flags & 2:
            try:
                data = zlib.decompress(data)
            except zlib.error:
                continue
            ser |= 0x80
        if b"BLBI" in msg[24:24 + alen]:
            ser |= 0x20
        records += struct.pack("!BBHBH", typ & 0xff, flags & 0xfd, seq, ser & 0xff, len(data) & 0xffff) + data
    write("server_session", records)


def main():
    count = 0
    for fname in sorted(os.listdir(VECTORS)):
        if not fname.endswith(".txt"):
            continue
        text = open(os.path.join(VECTORS, fname), encoding="utf-8").read()
        stream = b""
        s2c = []
        client = []  # this connection's C2S messages, for server_session
        unit_codec = next((c for k, c in UNIT_CODECS.items() if fname == f"unit_serializer_{k}.txt"), None)
        for line in text.splitlines():
            if not line or line.startswith("#"):
                if line.startswith("## connection") and stream:
                    write("frame_parser", stream)
                    stream = b""
                if line.startswith("## connection"):
                    client_session_stream(s2c)
                    s2c = []
                    server_session_seeds(client)
                    client = []
                continue
            tag, _, hexdata = line.partition(" ")
            try:
                data = bytes.fromhex(hexdata.strip())
            except ValueError:
                continue
            if tag in ("C2S", "S2C", "MSG", "RAW-C2S"):
                write("frame_parser", data)
                count += 1
                if tag in ("C2S", "S2C"):
                    stream += data
                if tag == "S2C":
                    s2c.append(data)
                    write("client_session", client_session_options(data) + data)
                if tag in ("C2S", "RAW-C2S"):
                    client.append(data)
                ser, payload = payload_of(data)
                if ser in CODEC_TARGETS and payload:
                    write(CODEC_TARGETS[ser], payload)
            elif tag in ("CALL", "DATA") and unit_codec:
                write(CODEC_TARGETS[unit_codec], data)
            for uri in re.findall(rb"PYRO[A-Z]*:[^\s'\"\\,)]+", data):
                write("uri_parser", uri)
        if stream:
            write("frame_parser", stream)
        client_session_stream(s2c)
        server_session_seeds(client)
    for uri in EXTRA_URIS:
        write("uri_parser", uri.encode())
    print(f"seeded fuzz/corpus from {count} messages", file=sys.stderr)


if __name__ == "__main__":
    main()
