"""Real Pyro4 4.82 clients checking that the async (smol) Rust daemon is never
stalled by servant code that blocks (tests/tests/smol_interop.rs).

Usage: smol_daemon_stall.py URI SLOW_SECONDS CLIENTS

One client calls slow(SLOW_SECONDS) (a servant that sleeps); while it runs,
CLIENTS other clients, each on its own connection, make quick calls. All quick
calls must be answered while the slow call is still running: a daemon that
ran servants on its event loop would hold them all up. Exits 1 on a stall.
"""

import sys
import threading
import time

import Pyro4


def fail(text):
    print("FAIL:", text)
    sys.exit(1)


def main():
    uri, slow, clients = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    Pyro4.config.COMMTIMEOUT = 30
    proxies = [Pyro4.Proxy(uri) for _ in range(clients)]
    for p in proxies:
        p._pyroBind()
    slow_done = []
    slow_proxy = Pyro4.Proxy(uri)
    slow_proxy._pyroBind()
    t_slow = threading.Thread(target=lambda: slow_done.append(slow_proxy.slow(slow)))
    t0 = time.time()
    t_slow.start()
    time.sleep(0.1)  # the slow call is running now
    errors = []
    finished = []

    def quick(i, p):
        try:
            for j in range(10):
                if p.add(i, j) != i + j:
                    errors.append("client %d: wrong sum" % i)
            if list(p.count(3)) != [0, 1, 2]:
                errors.append("client %d: wrong stream" % i)
            finished.append(time.time() - t0)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("client %d: %r" % (i, e))

    threads = [threading.Thread(target=quick, args=(i, p)) for i, p in enumerate(proxies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    quick_done = time.time() - t0
    t_slow.join()
    slow_elapsed = time.time() - t0
    if errors:
        fail("%d quick clients failed: %s" % (len(errors), errors[:3]))
    if slow_done != [slow]:
        fail("slow call gave %r" % slow_done)
    if quick_done >= slow - 0.2:
        fail("quick calls took %.2fs while a %.1fs servant call ran: the daemon stalled" % (quick_done, slow))
    print("OK %d quick clients done in %.2fs while the %.1fs call ran (it ended at %.2fs)"
          % (clients, quick_done, slow, slow_elapsed))


if __name__ == "__main__":
    main()
