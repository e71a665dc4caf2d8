"""A real Pyro4 4.82 daemon for the Rust std Proxy interop tests (tests/tests/std_proxy_interop.rs).

Usage: std_proxy_daemon.py [--host H] [--port P] [--unix PATH] [--hmac KEY] [--compression]

Serves one test object, "test.object", with SERIALIZERS_ACCEPTED = serpent, json,
marshal, pickle. Prints "uri <uri>" and then "ready" on stdout, and serves until
its stdin closes (so it never outlives the test process) or it is killed.
"""

import argparse
import os
import sys
import threading
import time

import Pyro4
import Pyro4.errors

Pyro4.config.SERIALIZERS_ACCEPTED = {"serpent", "json", "marshal", "pickle"}
Pyro4.config.SERVERTYPE = "thread"


class CustomError(Exception):
    """An application exception with an extra attribute."""


# The class must have a module name without double underscores (Pyro4 refuses
# "__main__.X" in every serializer) that pickle can find.
CustomError.__module__ = "proxytest"
sys.modules["proxytest"] = sys.modules[__name__]


@Pyro4.expose
class TestObject(object):
    def __init__(self, daemon):
        self._daemon = daemon
        self._value = 5
        self._records = []
        self._lock = threading.Lock()

    def echo(self, value):
        return value

    def describe(self, value):
        """The Python type name and repr of what arrived."""
        return [type(value).__name__, repr(value)]

    def add(self, a, b):
        return a + b

    def divide(self, a, b):
        return a / b

    def kwargs(self, *args, **kwargs):
        return [list(args), kwargs]

    def fail_custom(self, message):
        error = CustomError(message)
        error.code = 42
        raise error

    @Pyro4.oneway
    def record(self, value, delay):
        time.sleep(delay)
        with self._lock:
            self._records.append(value)

    def records(self):
        with self._lock:
            return list(self._records)

    def generator(self, n):
        for i in range(n):
            yield i

    def slow_generator(self, n, slow, delay):
        """Yields 0..n-1; item `slow` takes `delay` seconds."""
        for i in range(n):
            if i == slow:
                time.sleep(delay)
            yield i

    def failing_generator(self):
        yield 1
        raise ValueError("generator broke")

    def stream_count(self):
        return len(self._daemon.streaming_responses)

    def context(self):
        ctx = Pyro4.current_context
        Pyro4.current_context.response_annotations = {"XRES": b"from python"}
        annotations = {k: v.decode("latin-1") for k, v in ctx.annotations.items() if k != "CORR"}
        return [str(ctx.correlation_id), annotations]

    def slow(self, seconds):
        time.sleep(seconds)
        return seconds

    def call_back(self, uri, value):
        """Call `notify(value)` on the object at `uri` (a Rust daemon) and return its result."""
        with Pyro4.Proxy(uri) as proxy:
            return proxy.notify(value)

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, value):
        self._value = value

    @property
    def readonly(self):
        return "fixed"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--unix")
    parser.add_argument("--hmac")
    parser.add_argument("--compression", action="store_true")
    args = parser.parse_args()
    Pyro4.config.COMPRESSION = args.compression
    if args.unix:
        daemon = Pyro4.Daemon(unixsocket=args.unix)
    else:
        daemon = Pyro4.Daemon(host=args.host, port=args.port)
    if args.hmac:
        daemon._pyroHmacKey = args.hmac.encode()
    uri = daemon.register(TestObject(daemon), "test.object")
    print("uri", uri, flush=True)
    print("ready", flush=True)

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    daemon.requestLoop()


if __name__ == "__main__":
    main()
