"""Serve the REAL test objects of Pyro4 4.82's own test_server.py in a Python Pyro4 daemon, for
the Rust proxies of tests/tests/pyro4_suite_client.rs (Rust client -> Python daemon).

usage: pyro4_suite_daemon.py <suite dir> [--linger SECONDS] [--compression]

<suite dir> holds the unmodified test modules of the Pyro4 4.82 sdist (tests/src/python.rs,
pyro4_test_suite(), fetches them). The daemon is set up as test_server.py's setUp sets up its
own (SERVERTYPE thread, POLLTIMEOUT 0.1, pickle accepted on top of the defaults), and serves a
control object, "suite.control", whose fresh(kind) registers a NEW test_server.ServerTestObject
(kind "server") or test_server.NotEverythingExposedClass("hello") (kind "unexposed") and returns
its URI, as each Pyro4 test starts with a fresh daemon and fresh objects; release(uri) drops one, and
has_stream(id) says whether the daemon still holds an iterator stream.

The Python tests share their config with their same-process daemon; the settings some tests
change for the daemon are fixed here per process instead: --linger sets ITER_STREAM_LINGER (the
linger tests use 0.5 and 0), --compression sets COMPRESSION (testReconnectAndCompression).

Prints "control <uri>" and then "ready" on stdout, and serves until its stdin closes (so it never
outlives the test process) or it is killed.
"""
import argparse
import os
import sys
import threading
import uuid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("suite")
    parser.add_argument("--linger", type=float)
    parser.add_argument("--compression", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, args.suite)

    import Pyro4.core
    from Pyro4.configuration import config
    import testsupport  # noqa: F401  (resets Pyro4's config, as the suite does)
    import test_server

    # What ServerTestsOnce/ServerTestsThreadNoTimeout.setUp configure.
    config.SERVERTYPE = "thread"
    config.POLLTIMEOUT = 0.1
    config.COMMTIMEOUT = None
    config.SERIALIZERS_ACCEPTED.add("pickle")
    if args.linger is not None:
        config.ITER_STREAM_LINGER = args.linger
    config.COMPRESSION = args.compression

    daemon = Pyro4.core.Daemon(host="127.0.0.1", port=0)
    kinds = {
        "server": test_server.ServerTestObject,
        "unexposed": lambda: test_server.NotEverythingExposedClass("hello"),
    }

    @Pyro4.core.expose
    class Control(object):
        def fresh(self, kind):
            name = "%s.%s" % (kind, uuid.uuid4().hex)
            return str(daemon.register(kinds[kind](), name))

        def release(self, uri):
            daemon.unregister(Pyro4.core.URI(uri).object)

        def has_stream(self, stream_id):
            return stream_id in daemon.streaming_responses

    uri = daemon.register(Control(), "suite.control")
    print("control", uri, flush=True)
    print("ready", flush=True)

    def watch_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    daemon.requestLoop()


if __name__ == "__main__":
    main()
