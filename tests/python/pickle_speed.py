"""Time CPython's pickle on the call tuple of tests/tests/pickle_speed.rs.

Prints '<loads ns> <dumps ns>' per operation (best of 5 runs, loop overhead
included as in any Python caller), in CPU time of this thread, like the Rust
side, so that waiting for a core on a busy machine does not count."""
import pickle
import time
import timeit

call = ("test.obj", "multiply", (6, 7), {})
data = pickle.dumps(call, 5)
n = 200000
loads = min(timeit.repeat("loads(data)", globals={"loads": pickle.loads, "data": data}, number=n, repeat=5,
                          timer=time.thread_time))
dumps = min(timeit.repeat("dumps(call, 5)", globals={"dumps": pickle.dumps, "call": call}, number=n, repeat=5,
                          timer=time.thread_time))
print("%.1f %.1f" % (loads / n * 1e9, dumps / n * 1e9))
