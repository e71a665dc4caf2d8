"""Python Pyro4 4.82 clients for `pyro ns` and `pyro echoserver -N` (pyro-cli/tests/cli_naming.rs).

Usage: cli_naming_client.py MODE ...

Modes:
  ns HOST PORT       locateNS(HOST, PORT); register, lookup (with metadata), list (prefix,
                     regex, metadata), set_metadata, remove, count, and the NamingError texts
                     of an unknown name and a duplicate safe registration. Leaves the name
                     server as found.
  echo MESSAGE       Pyro4.Proxy("PYRONAME:test.echoserver") (the name server found as
                     Pyro4's config says: PYRO_NS_PORT etc.), then echo(MESSAGE); prints
                     the reply's repr.

Prints what it checks; any mismatch prints FAIL and exits 1; success ends with "all ok".
"""

import sys

import Pyro4
import Pyro4.errors


def fail(text):
    print("FAIL:", text)
    sys.exit(1)


def check(cond, text):
    if not cond:
        fail(text)
    print("ok:", text)


def expect_naming_error(call, text):
    try:
        call()
    except Pyro4.errors.NamingError as x:
        check(str(x) == text, "NamingError %r (got %r)" % (text, str(x)))
    else:
        fail("no NamingError, expected %r" % text)


def ns_mode(host, port):
    ns = Pyro4.locateNS(host, port)
    check(str(ns._pyroUri) == "PYRO:Pyro.NameServer@%s:%d" % (host, port), "located %s" % ns._pyroUri)
    ns.ping()
    before = ns.count()
    check(before >= 1, "count() %d includes the name server itself" % before)
    ns.register("cli.test.one", "PYRO:one@example.com:1111", metadata={"colour:red"})
    ns.register("cli.test.two", Pyro4.URI("PYRO:two@example.com:2222"))
    check(ns.count() == before + 2, "two registrations counted")
    uri = ns.lookup("cli.test.two")
    check(isinstance(uri, Pyro4.URI) and str(uri) == "PYRO:two@example.com:2222", "lookup gives a URI")
    uri, meta = ns.lookup("cli.test.one", return_metadata=True)
    check(str(uri) == "PYRO:one@example.com:1111" and set(meta) == {"colour:red"}, "lookup with metadata")
    listed = ns.list(prefix="cli.test.")
    check(listed == {"cli.test.one": "PYRO:one@example.com:1111",
                     "cli.test.two": "PYRO:two@example.com:2222"}, "list(prefix)")
    check(sorted(ns.list(regex=r"cli\.test\.t.*")) == ["cli.test.two"], "list(regex)")
    check(sorted(ns.list(metadata_all={"colour:red"})) == ["cli.test.one"], "list(metadata_all)")
    ns.set_metadata("cli.test.two", {"colour:red", "size:big"})
    check(sorted(ns.list(metadata_any={"size:big", "nothing"})) == ["cli.test.two"], "set_metadata, list(metadata_any)")
    expect_naming_error(lambda: ns.lookup("cli.test.none"), "unknown name: cli.test.none")
    expect_naming_error(lambda: ns.register("cli.test.one", "PYRO:x@h:1", safe=True),
                        "name already registered: cli.test.one")
    check(ns.remove("cli.test.one") == 1, "remove(name)")
    check(ns.remove(regex=r"cli\.test\..*") == 1, "remove(regex)")
    check(ns.count() == before, "back to %d registrations" % before)
    # A PYRONAME proxy resolved through this name server: the name server's own entry.
    with Pyro4.Proxy("PYRONAME:Pyro.NameServer@%s:%d" % (host, port)) as p:
        check(p.count() == before, "PYRONAME:Pyro.NameServer proxy works")


def echo_mode(message):
    with Pyro4.Proxy("PYRONAME:test.echoserver") as p:
        reply = p.echo(message)
        check(reply == message, "echo(%r) through PYRONAME:test.echoserver" % message)
        print(repr(reply))


def main():
    mode = sys.argv[1]
    if mode == "ns":
        ns_mode(sys.argv[2], int(sys.argv[3]))
    elif mode == "echo":
        echo_mode(sys.argv[2])
    else:
        fail("unknown mode %r" % mode)
    print("all ok")


if __name__ == "__main__":
    main()
