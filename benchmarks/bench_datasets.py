"""Time the built-in data set generators (prints a table; no assertions).

Run from the repository root::

    python benchmarks/bench_datasets.py
"""

from __future__ import annotations

import time

from gppnmf_core import datasets


def main(repeats: int = 5) -> None:
    print(f"{'data set':<18}{'shape':>14}{'best of ' + str(repeats) + ' (ms)':>20}")
    for name in datasets.NAMES:
        best = float("inf")
        for seed in range(repeats):
            start = time.perf_counter()
            data = datasets.load(name, random_state=seed)
            best = min(best, time.perf_counter() - start)
        print(f"{name:<18}{str(data.X.shape):>14}{1e3 * best:>20.1f}")


if __name__ == "__main__":
    main()
