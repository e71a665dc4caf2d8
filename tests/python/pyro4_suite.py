"""Run Pyro4 4.82's OWN test suite (tests/PyroTests of its sdist) against the Rust side.

usage:
  pyro4_suite.py <suite dir> server <daemon>=<control uri> ...   (daemons: see SERVER_DAEMONS)
  pyro4_suite.py <suite dir> naming <control uri> <ns uri> <ns bcport> <ns0000 uri> <ns0000 bcport>
                                    <hmac ns uri> <hmac ns bcport>
  pyro4_suite.py <suite dir> echoserver <path of the `pyro` binary>

<suite dir> holds the unmodified test modules (tests/src/python.rs, pyro4_test_suite(), fetches
them from the package registry). For the test classes selected below, setUp/tearDown are replaced
so that the tests' proxies talk to objects served by a RUST daemon or name server, started by
tests/tests/pyro4_suite.rs, instead of the Python ones the original setUp starts. The test bodies
run unchanged. Each Rust daemon serves a control object (tests/src/suite.rs, `control`) that hands
out a fresh object per test, as each Pyro4 test starts a fresh daemon with a fresh object.

Every test method of every listed class is either in RUN or in SKIP (with the reason); the script
refuses to start if the lists do not cover a class exactly, so the selection stays reviewable.

Prints one line `PYRO4-SUITE selected=N ran=N failures=0 errors=0 skipped=0` at the end and exits
0 only if every selected test passed.
"""
import os
import sys
import threading
import time
import unittest

SUITE_DIR, PART = sys.argv[1], sys.argv[2]
ARGS = sys.argv[3:]
sys.path.insert(0, SUITE_DIR)

import Pyro4.constants  # noqa: E402
import Pyro4.core  # noqa: E402
import Pyro4.naming  # noqa: E402
from Pyro4.configuration import config  # noqa: E402

import testsupport  # noqa: E402,F401  (resets Pyro4's config, as the suite does)


def control_call(control_uri, method, *args):
    """One call on a Rust daemon's control object, independent of the config a test changed."""
    with Pyro4.core.Proxy(control_uri) as control:
        control._pyroSerializer = "serpent"
        control._pyroTimeout = 10
        return getattr(control, method)(*args)


# ----------------------------------------------------------------------------------------------
# test_server.py
# ----------------------------------------------------------------------------------------------

SERVER_RUN = {
    "ServerTestsOnce": [
        "testPingMessage", "testSequence", "testMetaOffAttrs", "testMetaOnAttrs",
        "testSomeArgumentTypes", "testUnicodeKwargs", "testNormalProxy", "testExceptions",
        "testProxyMetadata", "testProxyAttrsMetadataOff", "testProxyAttrsMetadataOn",
        "testProxyAnnotationsOldApi", "testProxyAnnotations", "testExposedRequired",
        "testProperties", "testHasAttr", "testProxyMetadataKnown", "testBatchProxy",
        "testAsyncProxy", "testAsyncProxyCallchain", "testBatchOneway", "testBatchAsync",
        "testBatchAsyncCallchain", "testConnectOnce", "testConnectingThreads", "testMaxMsgSize",
        "testIterator", "testGenerator", "testProxySerializedBlobArg",
    ],
    "ServerTestsThreadNoTimeout": [
        "testConnectionStuff", "testReconnectAndCompression", "testOnewayMetaOn",
        "testOnewayMetaOff", "testOnewayWithProxySubclass", "testSerializeConnected",
        "testException", "testTimeoutCall", "testProxySharing", "testServerConnections",
        "testServerParallelism", "testGeneratorProxyClose", "testGeneratorLinger",
        "testGeneratorNoLinger",
    ],
}

SERVER_SKIP = {
    "ServerTestsOnce": {
        "testProxyRepr": "checks the Python proxy's repr against the Python daemon's socket family "
                         "(self.daemon.sock): nothing of the server side is involved",
        "testExposedNotRequired": "flips the Python daemon's REQUIRE_EXPOSE at run time; a Rust servant "
                                  "declares what it exposes, there is no expose-everything switch",
        "testNonserializableException_other": "the failure under test is Python's serializer refusing a "
                                              "Python exception that holds a lambda; a Rust servant "
                                              "cannot raise such an object",
        "testNonserializableException_pickle": "same, with pickle (Python objects in a pickle stream)",
        "testPyroTracebackNormal": "asserts the remote traceback quotes the Python source line "
                                   "'return x // y'; a Rust servant has no Python source (the "
                                   "remote traceback itself: ServerTestsThreadNoTimeout.testException)",
        "testPyroTracebackBatch": "same as testPyroTracebackNormal, for a batch",
        "testAutoProxy": "pickles Python ServerTestObject instances and registers them in the Python "
                         "daemon (self.daemon.register) to test autoproxying of Python objects",
        "testCleanup": "shuts the daemon down from inside the test (self.daemon.shutdown()); the Rust "
                       "daemon's shutdown with live connections is checked by std_daemon_interop",
        "testSerializedBlob": "pure Python: builds a SerializedBlob locally, no daemon involved",
        "testSerializedBlobMessage": "pure Python: builds a Message locally, no daemon involved",
        "testResourceFreeing": "registers testsupport.ResourceService, a Python object relying on "
                               "Python's per-connection tracking (current_context.track_resource)",
    },
    "ServerTestsThreadNoTimeout": {
        "testOnewayDelayed": "its second half flips config.ONEWAY_THREADED in the client process and "
                             "expects the (same-process) Python daemon to follow on the fly; the Rust "
                             "daemon's oneway_threaded is fixed when it is built",
        "testTimeoutConnect": "tests the Python client's timeout against a Python Daemon whose loop "
                              "never runs; no server code is involved",
    },
}

# test_server_timeout.py: ServerTestsThreadNoTimeout again with COMMTIMEOUT = 2.0 (client and
# daemon); it overrides three tests with no-ops.
SERVER_RUN["ServerTestsThreadTimeout"] = [
    t for t in SERVER_RUN["ServerTestsThreadNoTimeout"]
    if t not in ("testServerParallelism", "testProxySharing", "testException")]
SERVER_SKIP["ServerTestsThreadTimeout"] = dict(SERVER_SKIP["ServerTestsThreadNoTimeout"], **{
    t: "overridden with a no-op body in test_server_timeout.py (not suitable with a timeout)"
    for t in ("testServerParallelism", "testProxySharing", "testException")})

# Classes of test_server.py and test_server_timeout.py not run at all, with the reason.
SERVER_SKIPPED_CLASSES = {
    "ServerTestsMultiplexTimeout": "ServerTestsThreadTimeout with Python's multiplex server type "
                                   "(see ServerTestsMultiplexNoTimeout)",
    "ServerTestsBrokenHandshake": "serves from a Python Daemon subclass with a sabotaged handshake "
                                  "(CONNECTFAIL reply): a Python-side test fixture, not our daemon",
    "ServerTestsMultiplexNoTimeout": "ServerTestsThreadNoTimeout again with Python's multiplex server "
                                     "type (calls not run in parallel); the Rust daemon has one server "
                                     "model, the threaded one, which ServerTestsThreadNoTimeout runs",
}

# The Rust daemon each test's object lives on, named by the command line's <daemon>=<uri>
# arguments. Python's daemon shares the test's config; the Rust daemons were built with the
# settings the tests give it instead: COMMTIMEOUT (the class attribute) for the daemon of the
# timeout classes, and the ITER_STREAM_LINGER the two linger tests set (0.5 s and 0).
SERVER_DAEMONS = ("default", "linger", "nolinger", "timeout", "timeout-linger", "timeout-nolinger")
SERVER_DAEMON_FOR = {"testGeneratorLinger": "linger", "testGeneratorNoLinger": "nolinger"}


def server_daemon(test):
    name = SERVER_DAEMON_FOR.get(test._testMethodName, "default")
    if getattr(test, "COMMTIMEOUT", None):
        name = "timeout" if name == "default" else "timeout-" + name
    return CONTROLS[name]


def server_setup(self):
    # What the original setUp sets that concerns the client side.
    config.LOGWIRE = True
    if hasattr(self, "SERVERTYPE"):
        config.POLLTIMEOUT = 0.1
        config.SERVERTYPE = self.SERVERTYPE
        config.COMMTIMEOUT = self.COMMTIMEOUT
    self._control = server_daemon(self)
    self._fresh = [control_call(self._control, "fresh", "server")]
    self.objectUri = Pyro4.core.URI(self._fresh[0])
    self.daemon = RustDaemonView(self)


def server_teardown(self):
    time.sleep(0.05)
    for uri in self._fresh:
        control_call(self._control, "release", uri)
    config.SERVERTYPE = "thread"
    config.COMMTIMEOUT = None


class RustDaemonView(object):
    """Stands in for the test's self.daemon: only proxyFor, which the selected tests use to get a
    proxy for the 'unexposed' object (a NotEverythingExposedClass the original setUp registers)."""

    def __init__(self, test):
        self.test = test

    def proxyFor(self, name):
        # Daemon.proxyFor gives an unconnected proxy that already knows the object's metadata
        # (the Python daemon reads it off the object); here it comes from the Rust daemon's
        # Pyro.Daemon get_metadata.
        assert name == "unexposed", name
        uri = Pyro4.core.URI(control_call(self.test._control, "fresh", "unexposed"))
        self.test._fresh.append(str(uri))
        with Pyro4.core.Proxy("PYRO:%s@%s" % (Pyro4.constants.DAEMON_NAME, uri.location)) as daemon:
            metadata = daemon.get_metadata(uri.object)
        proxy = Pyro4.core.Proxy(uri)
        proxy._pyroGetMetadata(known_metadata=metadata)
        return proxy

    def __getattr__(self, name):
        raise AssertionError("selected test uses the Python daemon's %r: move it to SKIP" % name)


# ----------------------------------------------------------------------------------------------
# test_socket.py: the daemon survives bad input (its "DOS" tests)
# ----------------------------------------------------------------------------------------------

DOS_RUN = {
    "TestServerDOS_multiplex": ["testInvalidMessageCrash"],
    "TestServerDOS_threading": ["testInvalidMessageCrash"],
}

DOS_SKIP = {
    cls: {
        "testConnectCrash": "needs a daemon whose handshake raises (the Python fixture "
                            "ServerCallback_BrokenHandshake) so that it closes a connection that sent "
                            "nothing; ours waits for the CONNECT, as Pyro4's own daemon does",
    }
    for cls in DOS_RUN
}

DOS_SKIPPED_CLASSES = {
    "TestSocketStuff": "Python's socketutil helpers (local socket options), no daemon involved",
    "TestSocketutil": "Python's socketutil helpers (addresses, binding, send/recv on local sockets)",
    "TestSocketServer": "drives Python's socket server classes directly with Python callback daemons",
    "TestSSL": "Python's SSL context helpers; pyro-rs has no TLS (see README)",
}


class RustServerThread(object):
    """Stands in for TestServerDOS_multiplex.ServerThread, which runs a Python socket server in a
    thread: here the server is the default Rust daemon, already running. The test body only reads
    locationStr, looks for a thread pool (`serv.pool`, absent here) and stops the thread at the end."""

    def __init__(self, server, daemon):
        uri = Pyro4.core.URI(CONTROLS["default"])
        self.locationStr = "%s:%d" % (uri.host, uri.port)
        self.serv = object()
        self.stop_loop = threading.Event()

    def start(self):
        pass

    def is_alive(self):
        return True

    def join(self):
        pass


# ----------------------------------------------------------------------------------------------
# test_naming.py and test_naming2.py
# ----------------------------------------------------------------------------------------------

NAMING_RUN = {
    "NameServerTests": [
        "testLookupAndRegister", "testLookupInvalidHmac", "testDaemonPyroObj", "testMulti",
        "testResolve", "testRefuseDottedNames",
    ],
    "NameServerTests0000": ["testBCLookup0000"],
    "NameServerTestsHmac": [
        "testLookupAndRegister", "testResolve", "testPyroname", "testResolveWrongHmac",
        "testResolveAsymmetricHmacUsage",
    ],
    "OfflineNameServerTests": [
        "testRegister", "testRemove", "testRemoveProtected", "testUnicodeNames", "testList",
        "testNSCfunctions", "testMetadataRegisterInvalidTypes", "testMetadataListInvalidTypes",
        "testMetadata", "testMetadataAny", "testEmptyMetadata", "testListNoMultipleFilters",
    ],
}

NAMING_SKIP = {
    "NameServerTests": {
        "testLookupUnixsockParsing": "locates a name server on a Unix socket path nobody listens on: "
                                     "tests the Python client's URI parsing only",
        "testAutoClean": "builds Python NameServerDaemon objects in-process to test their AutoCleaner; "
                         "never talks to the name server under test",
    },
    "NameServerTests0000": {},
    "NameServerTestsHmac": {},
    "OfflineNameServerTests": {
        "testNameserverWithStmt": "lifecycle of Python NameServerDaemon objects (with-statement)",
        "testStartNSfunc": "starts Python name servers with Pyro4.naming.startNS",
        "testNSmain": "option parsing of the Python name server's command line",
        "testNSCmain": "option parsing of the Python nsc command line",
        "testNAT": "starts a Python name server with NAT settings (Rust NAT URIs: std_daemon_interop)",
    },
}

NAMING_SKIPPED_CLASSES = {
    "BCSetupTests": "starts Python name servers with Pyro4.naming.startNS and inspects the Python "
                    "broadcast server object",
    "OfflineNameServerTestsDbmStorage": "OfflineNameServerTests over Python's dbm storage back end; "
                                        "the Rust name server has one in-memory registry",
    "OfflineNameServerTestsSqlStorage": "OfflineNameServerTests over Python's sqlite storage back end; "
                                        "the Rust name server has one in-memory registry",
}


def ns_setup(uri, bcport):
    def setUp(self):
        config.POLLTIMEOUT = 0.1
        self.nsUri = Pyro4.core.URI(uri)
        self.nameserver = None
        self.bcserver = None
        self.old_bcPort = config.NS_BCPORT
        self.old_nsPort = config.NS_PORT
        self.old_nsHost = config.NS_HOST
        config.NS_PORT = self.nsUri.port
        config.NS_HOST = self.nsUri.host
        config.NS_BCPORT = int(bcport)
    return setUp


def ns_teardown(self):
    time.sleep(0.01)
    config.NS_HOST = self.old_nsHost
    config.NS_PORT = self.old_nsPort
    config.NS_BCPORT = self.old_bcPort


class RemoteNameServer(object):
    """What test_naming2 gets for Pyro4.naming.NameServer(storageProvider=...): a proxy for a fresh
    Rust name server object with empty storage (no self-registration, as the offline Python
    NameServer has none). `ns.storage.close()`, which the tests call at the end, releases it."""

    def __init__(self, test):
        self.__dict__["_test"] = test
        uri = control_call(CONTROL, "fresh", "nameserver")
        test._fresh.append(uri)
        self.__dict__["_proxy"] = Pyro4.core.Proxy(uri)
        self.__dict__["storage"] = self

    def close(self):
        self._proxy._pyroRelease()

    def __getattr__(self, name):
        return getattr(self._proxy, name)


class StorageStub(object):
    """test_naming2's storageProvider: clear() and close() are local no-ops, as each
    RemoteNameServer starts with empty storage."""

    def clear(self):
        pass

    def close(self):
        pass


def offline_setup(self):
    self._fresh = []
    self.storageProvider = StorageStub()
    self._original_ns = Pyro4.naming.NameServer
    Pyro4.naming.NameServer = lambda storageProvider=None: RemoteNameServer(self)


def offline_teardown(self):
    Pyro4.naming.NameServer = self._original_ns
    for uri in self._fresh:
        control_call(CONTROL, "release", uri)


# ----------------------------------------------------------------------------------------------
# test_echoserver.py: against `pyro echoserver` (pyro-cli), one process per test
# ----------------------------------------------------------------------------------------------

ECHO_RUN = {"TestEchoserver": ["testEcho", "testError", "testGenerator"]}
ECHO_SKIP = {"TestEchoserver": {
    "testExposed": "checks that the Python EchoServer class is marked exposed: no server involved",
}}


def echo_setup(self):
    """Start `pyro echoserver` on a free port instead of Python's echo server thread, and take the
    URI it prints, as the original setUp takes the one echoserver.main returns."""
    import subprocess
    self._echo = subprocess.Popen([PYRO_BINARY, "echoserver", "-p", "0"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, universal_newlines=True)
    self.uri = None
    for line in self._echo.stdout:
        if line.startswith("echo uri: "):
            self.uri = line[len("echo uri: "):].strip()
        if line.strip() == "echoserver running.":
            break
    if self.uri is None:
        self._echo.kill()
        raise AssertionError("pyro echoserver printed no URI")


def echo_teardown(self):
    import subprocess
    try:
        if self._testMethodName == "testEcho":
            # testEcho calls shutdown(): the server must exit by itself.
            try:
                self._echo.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise AssertionError("pyro echoserver did not exit after shutdown()")
        elif self._echo.poll() is not None:
            raise AssertionError("pyro echoserver exited during %s" % self._testMethodName)
    finally:
        if self._echo.poll() is None:
            self._echo.kill()
        self._echo.wait()
        self._echo.stdout.close()
        config.SERVERTYPE = "thread"


# ----------------------------------------------------------------------------------------------


def select(module, run, skip, skipped_classes):
    """The suite of the RUN tests; checks RUN + SKIP cover each class's test methods exactly."""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    classes = [c for c in vars(module).values()
               if isinstance(c, type) and issubclass(c, unittest.TestCase) and c.__module__ == module.__name__]
    for cls in classes:
        name = cls.__name__
        if name in skipped_classes:
            print("SKIP class %s.%s: %s" % (module.__name__, name, skipped_classes[name]))
            continue
        if name not in run:
            sys.exit("%s.%s is neither selected nor skipped" % (module.__name__, name))
        methods = set(loader.getTestCaseNames(cls))
        chosen, skipped = set(run[name]), set(skip[name])
        if chosen & skipped or chosen | skipped != methods:
            sys.exit("%s.%s: RUN/SKIP lists do not match its tests: missing %s, unknown %s, both %s"
                     % (module.__name__, name, sorted(methods - chosen - skipped),
                        sorted((chosen | skipped) - methods), sorted(chosen & skipped)))
        for method in run[name]:
            suite.addTest(cls(method))
        for method, reason in sorted(skip[name].items()):
            print("SKIP %s.%s.%s: %s" % (module.__name__, name, method, reason))
    return suite


def main():
    global CONTROL
    if PART == "server":
        global CONTROLS
        CONTROLS = dict(arg.split("=", 1) for arg in ARGS)
        if sorted(CONTROLS) != sorted(SERVER_DAEMONS):
            sys.exit("expected control URIs for %s, got %s" % (SERVER_DAEMONS, sorted(CONTROLS)))
        import test_server
        import test_server_timeout
        for cls in (test_server.ServerTestsOnce, test_server.ServerTestsThreadNoTimeout,
                    test_server_timeout.ServerTestsThreadTimeout):
            cls.setUp = server_setup
            cls.tearDown = server_teardown
        suite = select(test_server, SERVER_RUN, SERVER_SKIP, SERVER_SKIPPED_CLASSES)
        suite.addTests(select(test_server_timeout, SERVER_RUN, SERVER_SKIP, SERVER_SKIPPED_CLASSES))
        import test_socket
        test_socket.TestServerDOS_multiplex.ServerThread = RustServerThread
        suite.addTests(select(test_socket, DOS_RUN, DOS_SKIP, DOS_SKIPPED_CLASSES))
    elif PART == "naming":
        import test_naming
        import test_naming2
        CONTROL = ARGS[0]
        for cls, (uri, bcport) in ((test_naming.NameServerTests, ARGS[1:3]),
                                   (test_naming.NameServerTests0000, ARGS[3:5]),
                                   (test_naming.NameServerTestsHmac, ARGS[5:7])):
            cls.setUp = ns_setup(uri, bcport)
            cls.tearDown = ns_teardown
        test_naming2.OfflineNameServerTests.setUp = offline_setup
        test_naming2.OfflineNameServerTests.tearDown = offline_teardown
        suite = select(test_naming, NAMING_RUN, NAMING_SKIP, NAMING_SKIPPED_CLASSES)
        suite.addTests(select(test_naming2, NAMING_RUN, NAMING_SKIP, NAMING_SKIPPED_CLASSES))
    elif PART == "echoserver":
        global PYRO_BINARY
        PYRO_BINARY = ARGS[0]
        import test_echoserver
        test_echoserver.TestEchoserver.setUp = echo_setup
        test_echoserver.TestEchoserver.tearDown = echo_teardown
        suite = select(test_echoserver, ECHO_RUN, ECHO_SKIP, {})
    else:
        sys.exit("unknown part %r" % PART)
    selected = suite.countTestCases()
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    print("PYRO4-SUITE selected=%d ran=%d failures=%d errors=%d skipped=%d"
          % (selected, result.testsRun, len(result.failures), len(result.errors), len(result.skipped)))
    ok = result.wasSuccessful() and result.testsRun == selected > 0 and not result.skipped
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
