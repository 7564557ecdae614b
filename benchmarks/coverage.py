"""Benchmark of the PCA coverage step: 10^6 environments x 100 features.

Run::

    python benchmarks/coverage.py [--rows 1000000] [--features 100] [--test-fraction 0.2]

Synthetic descriptors with a low-rank structure like real ones (a few latent factors mixed
into 100 correlated features plus noise); the last rows are the test set, drawn with a wider
latent spread so coverage is below 1. Train and test are views of one float64 matrix (no copy).

Prints the wall time of ``coverage_fraction`` (best of ``--repeat``), its ratio to one numpy
pass over the same matrix (``X.sum(axis=0)``), and the peak extra memory as a multiple of the
input matrix, measured two ways: tracemalloc (numpy buffers) and the growth of ru_maxrss
(everything, BLAS workspace included). Targets: <= 10 s on 2 cores, memory <= 3x the input.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

import numpy as np

from dpgen_llzo.coverage import coverage_fraction


def make_descriptors(
    rows: int, features: int, test_rows: int, latent: int = 6, seed: int = 0
) -> np.ndarray:
    """Low-rank synthetic descriptors, filled in place chunk by chunk (peak ~ the matrix).

    ``latent`` factors with geometrically decaying scales (5, 4.75, 4.5, ...) are mixed into
    ``features`` columns; noise of std 0.3 is added to every column.
    """
    rng = np.random.default_rng(seed)
    latent_scales = 5.0 * 0.95 ** np.arange(latent)
    mixing = rng.normal(size=(latent_scales.size, features))
    offsets = rng.normal(scale=10.0, size=features)
    x = np.empty((rows, features))
    chunk = 20_000
    for start in range(0, rows, chunk):
        stop = min(start + chunk, rows)
        spread = np.where(np.arange(start, stop) >= rows - test_rows, 1.3, 1.0)[:, None]
        z = rng.normal(size=(stop - start, latent_scales.size)) * latent_scales * spread
        x[start:stop] = z @ mixing + offsets
        x[start:stop] += rng.normal(scale=0.3, size=(stop - start, features))
    return x


def max_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--bins", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--latent", type=int, default=6, help="latent factors (sets m, hence the pair count)"
    )
    args = parser.parse_args(argv)

    n_test = int(args.rows * args.test_fraction)
    t0 = time.perf_counter()
    x = make_descriptors(args.rows, args.features, n_test, args.latent)
    input_bytes = x.nbytes
    print(
        f"input {x.shape[0]} x {x.shape[1]} float64 = {input_bytes / 2**20:.0f} MiB "
        f"({args.rows - n_test} train / {n_test} test rows), "
        f"generated in {time.perf_counter() - t0:.1f} s"
    )
    train, test = x[: args.rows - n_test], x[args.rows - n_test :]  # views

    rss_before = max_rss_bytes()

    pass_times = []
    for _ in range(3):
        t = time.perf_counter()
        x.sum(axis=0)
        pass_times.append(time.perf_counter() - t)
    one_pass = min(pass_times)

    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        result = coverage_fraction(train, test, bins=args.bins)
        times.append(time.perf_counter() - t)
    best = min(times)
    rss_growth = max(0, max_rss_bytes() - rss_before)

    tracemalloc.start()
    coverage_fraction(train, test, bins=args.bins)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(
        f"coverage {result.fraction:.4f}, m = {result.n_components}, "
        f"{len(result.pair_fractions)} pairs, bins = {result.bins}"
    )
    print(
        f"time: {best:.2f} s (best of {args.repeat}: {', '.join(f'{t:.2f}' for t in times)}); "
        f"one numpy pass (X.sum(axis=0)) {one_pass:.3f} s; ratio {best / one_pass:.1f}x"
    )
    print(
        f"peak extra memory: tracemalloc {traced_peak / 2**20:.0f} MiB "
        f"= {traced_peak / input_bytes:.3f}x input; "
        f"ru_maxrss growth {rss_growth / 2**20:.0f} MiB = {rss_growth / input_bytes:.3f}x input"
    )
    total_ratio = (input_bytes + max(traced_peak, rss_growth)) / input_bytes
    print(
        f"total memory incl. input: {total_ratio:.2f}x input (target <= 3x); "
        f"time target <= 10 s: {'met' if best <= 10 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
