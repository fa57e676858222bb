# The seed lab's Problems 1-6 (ipyparallel-lab.md) as a notebook's code cells would hold them:
# the reference that examples/ipyparallel_lab.rs is measured against (tests/examples.rs counts
# the lines of both: code lines, without blank lines and comments).
import time
import numpy as np
import matplotlib.pyplot as plt
from ipyparallel import Client

# Problem 1: one core busy.
for i in range(10000):
    np.random.random(100000)

# Problem 2: every engine busy.
client = Client()
dview = client[:]
dview.execute("""
import numpy as np
for i in range(10000):
    np.random.random(100000)
""", block=True)

# Problem 3: mean, max and min of n normals on each engine.
def draw_stats(n=1000000):
    import numpy as np
    draws = np.random.randn(n)
    return draws.mean(), draws.max(), draws.min()

means, maxs, mins = zip(*dview.apply_sync(draw_stats))
print("means =", list(means))
print("maxs =", list(maxs))
print("mins =", list(mins))

# Problem 4: parallel against serial.
def compare_times(n):
    start = time.time()
    dview.apply_sync(draw_stats, n)
    parallel = time.time() - start
    start = time.time()
    for _ in client.ids:
        draw_stats(n)
    return parallel, time.time() - start

for n in [1000000, 5000000, 10000000, 15000000]:
    parallel, serial = compare_times(n)
    print(f"n = {n}: parallel {parallel:.3f} s, serial {serial:.3f} s")

# Problem 5: the max of N normals, 500,000 draws split evenly over the engines.
def max_normal(N, draws=500000):
    def draw_maxes(N, k):
        import numpy as np
        return np.random.randn(k, N).max(axis=1)
    k = draws // len(client.ids)
    samples = np.concatenate(dview.apply_sync(draw_maxes, N, k))
    plt.hist(samples, bins=50, density=True)
    plt.title(f"max of {N} standard normals")
    plt.show()

max_normal(10)

# Problem 6: the trapezoidal rule, the interval split over the engines.
def parallel_trapezoidal_rule(f, a, b, n=200):
    def trapezoid(f, a, b, n):
        import numpy as np
        x = np.linspace(a, b, n)
        return (x[1] - x[0]) / 2 * (f(x[:-1]) + f(x[1:])).sum()
    k = len(client.ids)
    edges = np.linspace(a, b, k + 1)
    return sum(dview.map_sync(trapezoid, [f] * k, edges[:-1], edges[1:], [n // k + 1] * k))

print(parallel_trapezoidal_rule(np.sin, 0, np.pi, 1000000))
