"""Python Pyro4 4.82 side of the framing oracle test (tests/tests/framing_oracle.rs).

    framing_oracle.py gen        print frames built by Pyro4's Message class
    framing_oracle.py check      read frames built by Rust on stdin, parse them
                                 with Pyro4's Message.recv over a socketpair

Line formats (space separated, '-' for empty/none, hex for bytes):
  gen output:   CASE <type> <flags> <seq> <ser> <key> <plain> <annotations> <frame>
                annotations = idhex=valuehex,... in Pyro4's dict order (HMAC included)
  check input:  <frame> <key> <required types comma separated or '-'>
  check output: OK <type> <flags> <seq> <ser> <annotations> <data> <decompressed data>
           or:  ERR <exception class> <message>
"""
import random
import socket
import sys
import threading

import Pyro4.util
from Pyro4 import errors
from Pyro4.message import Message
from Pyro4.socketutil import SocketConnection


def h(b):
    return b.hex() if b else "-"


def unh(s):
    return b"" if s == "-" else bytes.fromhex(s)


def ann_text(annotations):
    if not annotations:
        return "-"
    return ",".join("%s=%s" % (k.encode("ascii").hex(), v.hex()) for k, v in annotations.items())


def gen():
    rnd = random.Random(4820)
    serializer = Pyro4.util.get_serializer("serpent")
    compress = serializer._SerializerBase__compressdata  # Pyro4's own sender rule
    sentence = b"The quick brown fox jumps over the lazy dog. "
    datas = [
        b"",
        b"hello",
        b"ping",
        bytes(rnd.getrandbits(8) for _ in range(199)),
        sentence * 5,  # 225 bytes, compressible
        sentence * 40,
        bytes(rnd.getrandbits(8) for _ in range(700)),  # incompressible
        b"x" * 200,
        b"y" * 199,
    ]
    annotation_sets = [
        {},
        {"CORR": bytes(range(16))},
        {"XYZZ": b"zz", "CORR": bytes(range(16, 32)), "ABCD": b""},
        {"STRM": b"47d471c7-5f8e-42f9-be8b-25c71d2ad582"},
        {"BIG1": bytes(rnd.getrandbits(8) for _ in range(3000)), "NULL": b""},
        {"zz99": b"lower-case and digits are fine", "A B ": b"space"},
    ]
    keys = [None, b"secret", b"k" * 100, "unicode-key-\u00e9".encode("utf-8")]
    flag_choices = [0, 1, 2, 4, 8, 0x10, 0x20 | 1, 0x40, 4 | 8, 0xffff, 0x8000]
    for i in range(400):
        msg_type = rnd.choice([1, 2, 3, 4, 5, 6] if i % 10 else [0, 7, 99, 0xffff])
        flags = rnd.choice(flag_choices)
        seq = rnd.choice([0, 1, 2, 777, 4242, 65535, rnd.randrange(65536)])
        ser = rnd.choice([1, 2, 3, 4, 42, 12345])
        key = rnd.choice(keys)
        plain = rnd.choice(datas)
        annotations = dict(rnd.choice(annotation_sets))
        data, compressed = compress(plain, rnd.random() < 0.5)
        flags &= ~2
        if compressed:
            flags |= 2
        msg = Message(msg_type, data, ser, flags, seq, annotations=annotations, hmac_key=key)
        frame = msg.to_bytes()
        print("CASE", msg_type, flags, seq, ser, h(key), h(plain), ann_text(msg.annotations), frame.hex())


def recv_one(frame, key, required):
    a, b = socket.socketpair()
    try:
        writer = threading.Thread(target=a.sendall, args=(frame,))
        writer.start()
        try:
            msg = Message.recv(SocketConnection(b), required, hmac_key=key)
        finally:
            writer.join()
        data, flags = msg.data, msg.flags
        msg.decompress_if_needed()
        return "OK %d %d %d %d %s %s %s" % (msg.type, flags, msg.seq,
                                           msg.serializer_id, ann_text(msg.annotations), h(data), h(msg.data))
    except (errors.PyroError, Exception) as x:
        return "ERR %s %s" % (type(x).__name__, str(x))
    finally:
        a.close()
        b.close()


def check():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        frame_hex, key_hex, required = line.split(" ")
        key = None if key_hex == "-" else bytes.fromhex(key_hex)
        required = None if required == "-" else [int(t) for t in required.split(",")]
        print(recv_one(bytes.fromhex(frame_hex), key, required), flush=True)


if __name__ == "__main__":
    {"gen": gen, "check": check}[sys.argv[1]]()
