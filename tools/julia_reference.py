#!/usr/bin/env python3
"""The blog post's Julia-set algorithm in NumPy, writing the counts for comparison.

    python3 tools/julia_reference.py --out target/julia_reference.u16
    cargo test -p mpiview-apps --lib julia -- --ignored --nocapture    # counts pixels that differ

The algorithm is the seed's (IPython parallel Julia post), in Python 3 (`~mask` for the old
`-mask`). Output: raw little-endian uint16, row-major, rows along the imaginary axis.
"""
import argparse
import time

import numpy as np


def f(z, c):
    return z**2 + c


def julia(Z, c, tmax):
    J = np.ones(Z.shape) * tmax
    for t in range(tmax):
        mask = np.abs(Z) <= 2.0
        Z[mask] = f(Z[mask], c)
        J[~mask] -= 1
    return J


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="target/julia_reference.u16")
    p.add_argument("--rows", type=int, default=1024)
    p.add_argument("--cols", type=int, default=1024)
    p.add_argument("--c", type=complex, default=complex(-0.065, 0.66))
    p.add_argument("--zmin", type=complex, default=complex(-1.3, -1.3))
    p.add_argument("--zmax", type=complex, default=complex(1.3, 1.3))
    p.add_argument("--tmax", type=int, default=256)
    a = p.parse_args()

    xs = np.linspace(a.zmin.real, a.zmax.real, a.cols)
    ys = np.linspace(a.zmin.imag, a.zmax.imag, a.rows)
    X, Y = np.meshgrid(xs, ys)
    Z = X + 1j * Y
    t0 = time.perf_counter()
    J = julia(Z, a.c, a.tmax)
    dt = time.perf_counter() - t0
    J.astype("<u2").tofile(a.out)
    print(f"numpy {np.__version__}: {a.rows}x{a.cols}, tmax {a.tmax}: {dt:.2f} s -> {a.out}")


if __name__ == "__main__":
    main()
