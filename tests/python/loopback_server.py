"""The Python Pyro4 4.82 daemon of the loopback bench (tests/benches/loopback.rs).

Usage: loopback_server.py

Serves the bench object (the same methods as the Rust daemon the bench starts)
under the id "loopback" on 127.0.0.1, a free port, with Pyro4's defaults
(thread pool server, serializers serpent/json/marshal) plus pickle. Prints the object's URI
as the first line of stdout, then serves until stdin is closed.
"""

import sys
import threading

import Pyro4


@Pyro4.expose
class Loopback(object):
    def small(self):
        """No arguments, a small result: the per-call floor."""
        return 42

    def echo(self, value):
        """Returns its argument (100 characters, 1 MiB of bytes...)."""
        return value

    @Pyro4.oneway
    def noop(self):
        """A oneway call: the client does not wait."""
        pass

    def gen(self, n):
        """A stream of n items, fetched one round trip each."""
        for i in range(n):
            yield i


def main():
    # pickle too, for the bench's 1 MiB pickle echo (loopback only).
    Pyro4.config.SERIALIZERS_ACCEPTED.add("pickle")
    daemon = Pyro4.Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Loopback(), "loopback")
    print(uri, flush=True)

    def watch_stdin():
        sys.stdin.read()
        daemon.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    daemon.requestLoop()
    daemon.close()


if __name__ == "__main__":
    main()
