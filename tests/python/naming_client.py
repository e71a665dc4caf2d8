"""Real Pyro4 4.82 name-server clients against the Rust name server (tests/tests/naming_interop.rs).

Usage: naming_client.py MODE ...

Modes:
  tour HOST PORT             locateNS(HOST, PORT), then every NameServer method with Pyro4's
                             expected results and NamingError/TypeError/ValueError texts, and
                             PYRONAME:/PYROMETA: proxies resolved through it (to an object of a
                             Python daemon started here). Leaves the name server as found.
  broadcast BCPORT NSPORT    locateNS(port=BCPORT): localhost:BCPORT has no name server, so
                             Pyro4 broadcasts GET_NSURI to BCPORT; the located proxy must be the
                             name server on NSPORT and answer ping().

Prints what it checks; any mismatch prints FAIL and exits 1.
"""

import sys
import threading

import Pyro4
import Pyro4.errors


def fail(text):
    print("FAIL:", text)
    sys.exit(1)


def check(cond, text):
    if not cond:
        fail(text)
    print("ok:", text)


def raises(cls, text, fn, *args, **kwargs):
    """fn(*args, **kwargs) must raise cls with str() == text (or starting with text[:-3] if it ends in '...')."""
    try:
        result = fn(*args, **kwargs)
    except cls as x:
        got = str(x)
        if text.endswith("..."):
            check(got.startswith(text[:-3]), "%s %r starts with %r" % (cls.__name__, got, text[:-3]))
        else:
            check(got == text, "%s %r == %r" % (cls.__name__, got, text))
        return
    except Exception as x:  # noqa: BLE001 - report any other class
        fail("expected %s(%r), got %s(%r)" % (cls.__name__, text, type(x).__name__, x))
    fail("expected %s(%r), got result %r" % (cls.__name__, text, result))


@Pyro4.expose
class Echo(object):
    def echo(self, x):
        return x


def tour(host, port):
    ns = Pyro4.locateNS(host, port)
    ns_uri = "PYRO:Pyro.NameServer@%s:%d" % (host, port)
    check(str(ns._pyroUri) == ns_uri, "located %s" % ns._pyroUri)
    check(ns.ping() is None, "ping() is None")
    check(ns.count() == 1, "count() == 1 at start")
    me = ns.lookup("Pyro.NameServer")
    check(isinstance(me, Pyro4.core.URI) and str(me) == ns_uri, "lookup(Pyro.NameServer) is its URI object")
    me, meta = ns.lookup("Pyro.NameServer", return_metadata=True)
    check(meta == ["class:Pyro4.naming.NameServer"], "own metadata %r" % (meta,))

    check(ns.register("example.one", "PYRO:obj1@127.0.0.1:5555") is None, "register(str) is None")
    uri2 = Pyro4.URI("PYRO:obj2@127.0.0.1:5555")
    check(ns.register("example.two", uri2, metadata={"blue", "red"}) is None, "register(URI, metadata)")
    raises(Pyro4.errors.NamingError, "name already registered: example.one",
           ns.register, "example.one", "PYRO:obj1@127.0.0.1:5555", safe=True)
    raises(TypeError, "metadata should not be a str, but another iterable (set, list, etc)",
           ns.register, "example.x", "PYRO:x@h:1", metadata="red")
    raises(TypeError, "only URIs or strings can be registered", ns.register, "example.x", 42)
    raises(TypeError, "name must be a str", ns.register, 42, "PYRO:x@h:1")
    raises(Pyro4.errors.PyroError, "invalid uri", ns.register, "example.x", "nonsense")
    check(ns.count() == 3, "count() == 3")

    one = ns.lookup("example.one")
    check(isinstance(one, Pyro4.core.URI) and str(one) == "PYRO:obj1@127.0.0.1:5555", "lookup -> URI object")
    two, meta = ns.lookup("example.two", return_metadata=True)
    check(str(two) == "PYRO:obj2@127.0.0.1:5555" and isinstance(meta, list) and set(meta) == {"red", "blue"},
          "lookup(return_metadata=True) -> (URI, list) %r" % (meta,))
    raises(Pyro4.errors.NamingError, "unknown name: nonexisting", ns.lookup, "nonexisting")

    everything = ns.list()
    check(everything == {"Pyro.NameServer": ns_uri, "example.one": "PYRO:obj1@127.0.0.1:5555",
                         "example.two": "PYRO:obj2@127.0.0.1:5555"}, "list() -> strings %r" % everything)
    check(list(everything) == ["Pyro.NameServer", "example.one", "example.two"], "list() in registration order")
    check(ns.list(prefix="example.") == {"example.one": "PYRO:obj1@127.0.0.1:5555",
                                         "example.two": "PYRO:obj2@127.0.0.1:5555"}, "list(prefix)")
    check(ns.list(regex=r"example\.t.*") == {"example.two": "PYRO:obj2@127.0.0.1:5555"}, "list(regex)")
    check(ns.list(regex="one") == {}, "list(regex) anchored at the start like re.match")
    check(ns.list(metadata_all={"red"}) == {"example.two": "PYRO:obj2@127.0.0.1:5555"}, "list(metadata_all)")
    check(ns.list(metadata_all={"red", "green"}) == {}, "list(metadata_all) needs all")
    got = ns.list(metadata_any={"green", "red"}, return_metadata=True)
    check(list(got) == ["example.two"] and got["example.two"][0] == "PYRO:obj2@127.0.0.1:5555"
          and set(got["example.two"][1]) == {"red", "blue"}, "list(metadata_any, return_metadata) %r" % got)
    raises(ValueError, "you can only filter on one thing at a time", ns.list, prefix="a", regex="b")
    raises(Pyro4.errors.NamingError, "invalid regex: ...", ns.list, regex="(unclosed")
    raises(TypeError, "metadata_all should not be a str, but another iterable (set, list, etc)",
           ns.list, metadata_all="red")

    check(ns.set_metadata("example.one", {"green"}) is None, "set_metadata")
    check(ns.list(metadata_any=["green"]) == {"example.one": "PYRO:obj1@127.0.0.1:5555"}, "new metadata found")
    raises(Pyro4.errors.NamingError, "unknown name: nope", ns.set_metadata, "nope", {"x"})

    # PYRONAME / PYROMETA through the Rust name server to a Python daemon's object.
    daemon = Pyro4.Daemon(host="127.0.0.1")
    echo_uri = daemon.register(Echo(), "echo.obj")
    thread = threading.Thread(target=daemon.requestLoop, daemon=True)
    thread.start()
    try:
        ns.register("example.echo", echo_uri, metadata=["kind:echo", "lang:python"])
        check(str(Pyro4.resolve("PYRONAME:example.echo@%s:%d" % (host, port))) == str(echo_uri),
              "Pyro4.resolve(PYRONAME:...)")
        with Pyro4.Proxy("PYRONAME:example.echo@%s:%d" % (host, port)) as p:
            check(p.echo("via name") == "via name", "call through a PYRONAME proxy")
        with Pyro4.Proxy("PYROMETA:kind:echo,lang:python@%s:%d" % (host, port)) as p:
            check(p.echo("via meta") == "via meta", "call through a PYROMETA proxy")
        raises(Pyro4.errors.NamingError, "no registrations available with desired metadata properties {'kind:none'}",
               Pyro4.resolve, "PYROMETA:kind:none@%s:%d" % (host, port))
        with Pyro4.Proxy("PYRONAME:nothing@%s:%d" % (host, port)) as p:
            raises(Pyro4.errors.NamingError, "unknown name: nothing", p._pyroBind)
        with Pyro4.Proxy("PYROMETA:class:Pyro4.naming.NameServer@%s:%d" % (host, port)) as p:
            check(p.count() == 4, "the name server found by its class metadata")
    finally:
        daemon.shutdown()
        thread.join(5)

    check(ns.remove("Pyro.NameServer") == 0, "remove(Pyro.NameServer) == 0")
    check(ns.remove("nope") == 0, "remove(unknown) == 0")
    check(ns.remove("example.one") == 1, "remove(name) == 1")
    check(ns.remove(prefix="example.") == 2, "remove(prefix) == 2")
    check(ns.remove(regex=".*") == 0, "remove(regex) never removes the name server")
    check(ns.count() == 1, "count() == 1 at the end")
    ns._pyroRelease()


def broadcast(bcport, nsport):
    ns = Pyro4.locateNS(port=bcport)
    check(ns._pyroUri.port == nsport, "broadcast located %s" % ns._pyroUri)
    check(ns._pyroUri.object == "Pyro.NameServer", "object is Pyro.NameServer")
    check(ns._pyroUri.host != "0.0.0.0", "host %s is an address to connect to" % ns._pyroUri.host)
    check(ns.ping() is None, "ping() through the broadcast-located proxy")
    ns._pyroRelease()


def main():
    mode = sys.argv[1]
    if mode == "tour":
        tour(sys.argv[2], int(sys.argv[3]))
    elif mode == "broadcast":
        broadcast(int(sys.argv[2]), int(sys.argv[3]))
    else:
        fail("unknown mode %r" % mode)
    print("all checks passed")


if __name__ == "__main__":
    main()
