"""Real Pyro4 4.82 clients against the Rust std daemon (tests/tests/std_daemon_interop.rs).

Usage: std_daemon_client.py MODE URI [SERIALIZER] [options]

Modes:
  calls URI SER [--compression] [--nometa]   the whole feature tour with one serializer
  hmac URI SER KEY                            right key works; wrong and missing keys fail at connect
  limit URI SER MAX                           MAX connections work, one more is refused
  many URI SER N                              N threads, each its own proxy, at once
  abandon URI SER                             open a stream, take one item, exit without closing it

The expected result of an echo is what a Python Pyro4 daemon would give: the
value through the serializer to the daemon and back (loads(dumps(.)) twice),
so serializer quirks (json's string keys, serpent's bytes dicts) are Python's
own. Any mismatch prints a clear message and exits 1.
"""

import math
import sys
import threading
import time

import Pyro4
import Pyro4.errors
import Pyro4.message
import Pyro4.util


def fail(text):
    print("FAIL:", text)
    sys.exit(1)


def check(cond, text):
    if not cond:
        fail(text)


def same(a, b):
    """Equality that also holds for nan and compares types (tuple vs list, int vs float)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def corpus(ser):
    values = [
        None, True, False, 0, 1, -1, 255, 2**31, -2**31 - 1, 2**63 - 1, -2**63, 2**64, 2**70, -2**70,
        10**40, 0.0, -0.0, 1.5, -2.25, 1e300, 5e-324, float("nan"), float("inf"), float("-inf"),
        "", "hello", "t\u00ebst \u2603 \U0001F4A9 \x00 \n \"'\\", "x" * 100000,
        [], [1, "two", 3.0, None], [[1, [2, [3, [4]]]]], (), (1,), (1, "a", (2, "b")),
        {}, {"a": 1, "b": [1, 2], "c": {"d": None}}, {1: "int key", 2: "two"},
        {1, 2, 3}, {"x", "y"}, {"nested": [{"deep": (1, 2, {"deeper": [True, False]})}]},
    ]
    if ser != "json":
        # Pyro4's json serializer carries neither bytes nor complex numbers.
        values += [complex(1.5, -2), b"", b"\x00\x01\xfe\xffbytes", bytes(range(256)) * 4000]
    return values


def expected(ser, value):
    s = Pyro4.util.get_serializer(ser)
    once = s.deserializeData(s.serializeData(value)[0])
    return s.deserializeData(s.serializeData(once)[0])


def proxy(uri, ser, **attrs):
    p = Pyro4.Proxy(uri)
    p._pyroSerializer = ser
    for k, v in attrs.items():
        setattr(p, k, v)
    return p


def wait_for(pred, what, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.02)
    fail("timed out waiting for " + what)


def remote_traceback_has(exc, *parts):
    tb = "".join(Pyro4.util.getPyroTraceback(type(exc), exc, exc.__traceback__))
    check("Remote traceback" in tb, "no remote traceback in %r" % tb)
    for part in parts:
        check(part in tb, "remote traceback lacks %r:\n%s" % (part, tb))


def check_batches(p):
    b = Pyro4.batch(p)
    b.add(1, 2)
    b.echo("batched")
    b.divide(1, 0)
    b.record("after the failure")
    results = b()
    check(next(results) == 3, "batch result 1")
    check(next(results) == "batched", "batch result 2")
    try:
        next(results)
        fail("batch failure did not raise")
    except ZeroDivisionError as e:
        check(str(e) == "float division by zero", "batch error text %r" % str(e))
    check("after the failure" not in p.recorded(), "the batch ran past its failure")
    b = Pyro4.batch(p)
    for i in range(5):
        b.record("ob-%d" % i)
    check(b(oneway=True) is None, "oneway batch returned something")
    wait_for(lambda: all("ob-%d" % i in p.recorded() for i in range(5)), "oneway batch records")
    check([r for r in p.recorded() if r.startswith("ob-")] == ["ob-%d" % i for i in range(5)],
          "oneway batch ran out of order: %r" % p.recorded())


def mode_calls(uri, ser, opts):
    compression = "--compression" in opts
    metadata = "--nometa" not in opts
    Pyro4.config.METADATA = metadata
    Pyro4.config.COMPRESSION = compression
    # Record the flags of every message the client receives (compressed replies).
    received_flags = []
    original_recv = Pyro4.message.Message.recv.__func__

    def recv(cls, connection, requiredMsgTypes=None, hmac_key=None):
        msg = original_recv(cls, connection, requiredMsgTypes, hmac_key)
        received_flags.append(msg.flags)
        return msg

    Pyro4.message.Message.recv = classmethod(recv)
    # And of every message it sends (compressed requests).
    sent_flags = []
    original_to_bytes = Pyro4.message.Message.to_bytes

    def to_bytes(self):
        sent_flags.append(self.flags)
        return original_to_bytes(self)

    Pyro4.message.Message.to_bytes = to_bytes
    p = proxy(uri, ser)

    # Values through echo.
    for value in corpus(ser):
        want = expected(ser, value)
        got = p.echo(value)
        check(same(got, want), "%s echo of %r gave %r, expected %r" % (ser, value, got, want))
    check(p.add(2, 3) == 5, "add(2, 3)")
    check(p.add(-7, 2**40) == 2**40 - 7, "add with a large int")
    got = p.kwargs(1, "two", a=3, b=[4])
    check(same(got, expected(ser, [(1, "two"), {"a": 3, "b": [4]}])), "kwargs gave %r" % (got,))
    check(p.kwargs() == expected(ser, [(), {}]), "kwargs() with nothing")

    # Exceptions: class, message, remote traceback.
    try:
        p.divide(1, 0)
        fail("divide(1, 0) did not raise")
    except ZeroDivisionError as e:
        check(str(e) == "float division by zero", "ZeroDivisionError text %r" % str(e))
        remote_traceback_has(e, "ZeroDivisionError: float division by zero", "divide")
    check(p.divide(7, 2) == 3.5, "divide(7, 2)")
    try:
        p.add("a", 1)
        fail("add('a', 1) did not raise")
    except TypeError as e:
        check("add" in str(e), "TypeError text %r" % str(e))
    if ser == "serpent" and metadata and not compression:  # once is enough (the panic hook is noisy)
        try:
            p.panics()
            fail("a panicking servant did not raise")
        except RuntimeError as e:
            check("servant panicked: deliberate panic" in str(e), "panic text %r" % str(e))
        check(p.add(1, 1) == 2, "a call after a servant panic")
    try:
        p._pyroInvoke("no_such_method", (), {})
        fail("unknown method did not raise")
    except AttributeError as e:
        check("no_such_method" in str(e), "AttributeError text %r" % str(e))

    # Oneway: returns at once, runs in its own thread, its effect is visible later.
    p.clear()
    marker = "oneway-%s-%d" % (ser, time.time() * 1000)
    if metadata:
        t0 = time.time()
        p.record_slowly(marker, 0.5)
        check(time.time() - t0 < 0.4, "a oneway call waited for the method")
        p.record(marker + "-fast")
    else:
        # Without metadata the proxy does not know which methods are oneway.
        p._pyroOneway.update({"record", "record_slowly"})
        p.record_slowly(marker, 0.2)
        p.record(marker + "-fast")
    wait_for(lambda: marker in p.recorded() and marker + "-fast" in p.recorded(), "oneway records")

    # Batches, with a failure in the middle: earlier results arrive, the failure raises, the rest never ran.
    # Pyro4 4.82's marshal serializer cannot send a batch (its dumpsCall chokes
    # on the kwargs=None that _pyroInvokeBatch passes), so with marshal the
    # proxy sends its batches with empty kwargs, as a fixed Pyro4 would.
    if ser == "marshal":
        def invoke_batch(calls, oneway=False):
            flags = Pyro4.message.FLAGS_BATCH | (Pyro4.message.FLAGS_ONEWAY if oneway else 0)
            return p._pyroInvoke("<batch>", calls, {}, flags)
        object.__setattr__(p, "_pyroInvokeBatch", invoke_batch)
    check_batches(p)

    # Streams: to the end, dropped early, a failing one; none are left behind.
    if metadata:
        check(list(p.count(7)) == list(range(7)), "stream to the end")
        gen = p.count(1000)
        check(next(gen) == 0 and next(gen) == 1, "first stream items")
        check(p.streams() == 1, "one open stream, daemon has %d" % p.streams())
        gen.close()  # a oneway close_stream (threaded in the daemon, as in Pyro4)
        wait_for(lambda: p.streams() == 0, "the dropped stream to close")
        gen = p.count_then_fail(2)
        check(next(gen) == 0 and next(gen) == 1, "failing stream items")
        try:
            next(gen)
            fail("failing stream did not raise")
        except ValueError as e:
            check(str(e) == "stream broke", "stream error %r" % str(e))
        check(p.streams() == 0, "failed stream still open")

    # Attributes. Pyro4's marshal serializer cannot send the proxy's own
    # __getattr__/__setattr__ calls (kwargs=None again), so with marshal they
    # are sent by hand with empty kwargs: the daemon side is still exercised.
    if metadata:
        if ser == "marshal":
            get = lambda name: p._pyroInvoke("__getattr__", (name,), {})
            put = lambda name, v: p._pyroInvoke("__setattr__", (name, v), {})
        else:
            get = lambda name: getattr(p, name)
            put = lambda name, v: setattr(p, name, v)
        put("value", 41)
        check(get("value") == 41, "attribute set/get")
        put("value", get("value") + 1)
        check(get("value") == 42, "attribute increment")
        check(get("name") == "test servant", "readonly attribute %r" % get("name"))
        try:
            put("name", "changed")
            fail("setting a readonly attribute did not raise")
        except AttributeError:
            pass
        check(get("name") == "test servant", "readonly attribute changed")

    # A callback that fails: the error arrives, then the daemon drops the connection.
    check(p.maybe_fail(False) == "fine", "callback ok")
    try:
        p.maybe_fail(True)
        fail("failing callback did not raise")
    except ValueError as e:
        check(str(e) == "callback failed", "callback error %r" % str(e))
    try:
        p.echo(1)
        fail("connection survived a failed callback")
    except Pyro4.errors.ConnectionClosedError:
        pass
    p._pyroReconnect()
    check(p.echo("again") == "again", "call after reconnect")

    # Slow calls from two connections overlap (a thread per connection).
    q = proxy(uri, ser)
    out = []
    t0 = time.time()
    th = threading.Thread(target=lambda: out.append(q.slow(0.6)))
    th.start()
    out.append(p.slow(0.6))
    th.join()
    elapsed = time.time() - t0
    check(out == [0.6, 0.6], "slow results %r" % out)
    check(elapsed < 1.1, "two slow calls took %.2fs: not concurrent" % elapsed)
    q._pyroRelease()

    # Context: the daemon sees our address and (maybe) our compression flag.
    ctx = p.context()
    check(ctx["client"].split(":")[0].strip("[]") in ("127.0.0.1", "::1", "")
          or ctx["client"].startswith("/") or ctx["client"] == "None", "client address %r" % ctx["client"])
    big = "compress me " * 10000
    check(p.echo(big) == big, "big compressible string")
    compressed_reply = any(f & Pyro4.message.FLAGS_COMPRESSED for f in received_flags)
    compressed_request = any(f & Pyro4.message.FLAGS_COMPRESSED for f in sent_flags)
    check(compressed_request == compression,
          "request compression: client sent compressed %r, config %r" % (compressed_request, compression))
    check(compressed_reply == compression,
          "reply compression: client saw %r, expected %r" % (compressed_reply, compression))
    check(p.streams() == 0, "streams left at the end")
    p._pyroRelease()
    print("OK calls %s compression=%s metadata=%s (%d values)" % (ser, compression, metadata, len(corpus(ser))))


def mode_hmac(uri, ser, key):
    p = proxy(uri, ser, _pyroHmacKey=key.encode())
    check(p.echo("signed") == "signed", "call with the right key")
    p._pyroRelease()
    for bad in (b"wrong key", None):
        p = proxy(uri, ser, _pyroHmacKey=bad)
        try:
            p._pyroBind()
            fail("connect with key %r succeeded" % bad)
        except Pyro4.errors.CommunicationError as e:
            print("refused with key %r: %s: %s" % (bad, type(e).__name__, e))
    print("OK hmac %s" % ser)


def mode_limit(uri, ser, count):
    proxies = [proxy(uri, ser) for _ in range(count)]
    for p in proxies:
        p._pyroBind()
    extra = proxy(uri, ser)
    try:
        extra._pyroBind()
        fail("connection %d beyond the limit was accepted" % (count + 1))
    except Pyro4.errors.CommunicationError as e:
        check("no free workers, increase server threadpool size" in str(e), "refusal text %r" % str(e))
    proxies[0]._pyroRelease()
    time.sleep(0.3)
    check(extra.echo("room now") == "room now", "connect after one was released")
    for p in proxies[1:] + [extra]:
        p._pyroRelease()
    print("OK limit %d" % count)


def mode_many(uri, ser, count):
    errors = []
    barrier = threading.Barrier(count)

    def client(i):
        try:
            p = proxy(uri, ser)
            p._pyroBind()
            barrier.wait(timeout=60)
            for j in range(5):
                check(p.add(i, j) == i + j, "add in client %d" % i)
                value = {"client": i, "round": j, "data": [i] * 50}
                check(p.echo(value) == value, "echo in client %d" % i)
            check(list(p.count(3)) == [0, 1, 2], "stream in client %d" % i)
            check(p.slow(0.2) == 0.2, "slow in client %d" % i)
            p._pyroRelease()
        except BaseException as e:  # SystemExit from check() included
            errors.append("client %d: %r" % (i, e))

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    check(not errors, "%d clients failed: %s" % (len(errors), errors[:5]))
    print("OK many %d clients %s in %.2fs" % (count, ser, elapsed))


def mode_abandon(uri, ser):
    p = proxy(uri, ser)
    gen = p.count(10)
    check(next(gen) == 0, "first item of the abandoned stream")
    check(p.streams() == 1, "the stream is open")
    print("OK abandon: exiting with the stream open")
    sys.stdout.flush()
    import os
    os._exit(0)


def mode_foreign(uri, ser):
    """An INVOKE in msgpack (id 6), which the daemon cannot write: no reply, the connection closes,
    and the daemon serves the next connection."""
    p = proxy(uri, ser)
    p._pyroBind()
    conn = p._pyroConnection
    msg = Pyro4.message.Message(Pyro4.message.MSG_INVOKE, b"\x94\xa1a", 6, 0, 1)
    conn.send(msg.to_bytes())
    try:
        reply = Pyro4.message.Message.recv(conn, [Pyro4.message.MSG_RESULT])
        fail("a reply came for a msgpack request: type %d, %r" % (reply.type, reply.data))
    except Pyro4.errors.ConnectionClosedError:
        pass
    p._pyroRelease()
    check(proxy(uri, ser).add(2, 3) == 5, "a new connection after the refused one")
    print("OK foreign: no reply, connection closed")


def main():
    mode, uri = sys.argv[1], sys.argv[2]
    ser = sys.argv[3] if len(sys.argv) > 3 else "serpent"
    rest = sys.argv[4:]
    Pyro4.config.SERIALIZER = ser
    Pyro4.config.SERIALIZERS_ACCEPTED = {ser}
    Pyro4.config.COMMTIMEOUT = 30
    if mode == "calls":
        mode_calls(uri, ser, rest)
    elif mode == "hmac":
        mode_hmac(uri, ser, rest[0])
    elif mode == "limit":
        mode_limit(uri, ser, int(rest[0]))
    elif mode == "abandon":
        mode_abandon(uri, ser)
    elif mode == "foreign":
        mode_foreign(uri, ser)
    elif mode == "many":
        mode_many(uri, ser, int(rest[0]))
    else:
        fail("unknown mode " + mode)


if __name__ == "__main__":
    main()
