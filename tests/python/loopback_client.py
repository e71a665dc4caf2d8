"""The Python Pyro4 4.82 client of the loopback bench (tests/benches/loopback.rs).

Usage: loopback_client.py URI SECONDS

Runs every measurement of the bench against URI (an object with the methods
small(), echo(value), @oneway noop() and the generator gen(n)), each for about
SECONDS, and prints one JSON object: metric name -> rate (per second), or
{"error": text} for a metric that failed. The metric names and what they time
are the same as on the Rust side of the bench.
"""

import json
import sys
import threading
import time
import traceback

import Pyro4

URI = sys.argv[1]
SECONDS = float(sys.argv[2])
ECHO_TEXT = "x" * 100
BLOB = bytes(range(256)) * 4096  # 1 MiB
ONEWAY_ROUND = 1000
BATCH_SIZE = 100
STREAM_ITEMS = 1000
CLIENTS = 8


WINDOWS = 5  # each figure is the best of this many windows (as the Rust side)


def timed(step, warmup=20):
    """Run step() for SECONDS (after a short warm-up), in WINDOWS equal
    windows; step returns the units it did; returns the best window's units
    per second (the one least disturbed by other processes on the CPU)."""
    for _ in range(warmup):
        step()
    best = 0.0
    for _ in range(WINDOWS):
        units = 0
        start = time.perf_counter()
        deadline = start + SECONDS / WINDOWS
        now = start
        while now < deadline:
            units += step()
            now = time.perf_counter()
        best = max(best, units / (now - start))
    return best


def sync_calls():
    with Pyro4.Proxy(URI) as p:
        def step():
            p.small()
            return 1
        return timed(step)


def echo_100():
    with Pyro4.Proxy(URI) as p:
        def step():
            p.echo(ECHO_TEXT)
            return 1
        return timed(step)


def echo_1mib(serializer="marshal"):
    with Pyro4.Proxy(URI) as p:
        p._pyroSerializer = serializer
        def step():
            r = p.echo(BLOB)
            if len(r) != len(BLOB):
                raise ValueError("echo returned %d bytes" % len(r))
            return len(BLOB)
        return timed(step, warmup=3) / 1e6  # MB/s


def oneway_calls():
    with Pyro4.Proxy(URI) as p:
        p._pyroBind()
        if "noop" not in p._pyroOneway:
            raise ValueError("noop is not oneway in the metadata")
        def step():
            for _ in range(ONEWAY_ROUND):
                p.noop()
            p.small()
            return ONEWAY_ROUND
        return timed(step, warmup=1)


def batches():
    with Pyro4.Proxy(URI) as p:
        def step():
            b = Pyro4.batch(p)
            for _ in range(BATCH_SIZE):
                b.small()
            n = sum(1 for _ in b())
            if n != BATCH_SIZE:
                raise ValueError("batch gave %d results" % n)
            return 1
        return timed(step, warmup=2)


def stream_items():
    with Pyro4.Proxy(URI) as p:
        def step():
            n = sum(1 for _ in p.gen(STREAM_ITEMS))
            if n != STREAM_ITEMS:
                raise ValueError("stream gave %d items" % n)
            return n
        return timed(step, warmup=1)


def connects():
    def step():
        with Pyro4.Proxy(URI) as p:
            p.small()
        return 1
    return timed(step, warmup=5)


def concurrent_calls():
    proxies = [Pyro4.Proxy(URI) for _ in range(CLIENTS)]
    for p in proxies:
        p._pyroBind()
        p.small()
    counts = [0] * CLIENTS
    errors = []
    barrier = threading.Barrier(CLIENTS + 1)
    stop = threading.Event()

    def run(i):
        p = proxies[i]
        try:
            barrier.wait()
            while not stop.is_set():
                p.small()
                counts[i] += 1
        except Exception as e:  # reported, not swallowed
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    barrier.wait()
    best = 0.0
    for _ in range(WINDOWS):
        start, before = time.perf_counter(), sum(counts)
        time.sleep(SECONDS / WINDOWS)
        best = max(best, (sum(counts) - before) / (time.perf_counter() - start))
    stop.set()
    for t in threads:
        t.join()
    for p in proxies:
        p._pyroRelease()
    if errors:
        raise RuntimeError(errors[0])
    return best


METRICS = [
    ("sync", sync_calls),
    ("echo100", echo_100),
    ("echo1mib", echo_1mib),
    ("echo1mib_pickle", lambda: echo_1mib("pickle")),
    ("oneway", oneway_calls),
    ("batch100", batches),
    ("stream", stream_items),
    ("connect", connects),
    ("clients8", concurrent_calls),
]


def main():
    out = {}
    for name, f in METRICS:
        try:
            out[name] = f()
        except Exception:
            out[name] = {"error": traceback.format_exc(limit=2).strip().splitlines()[-1]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
