"""Time per iteration of LS-NMF and CNMF against scikit-learn's multiplicative-update NMF.

Usage::

    python benchmarks/bench_baselines.py [--single-thread] [--iters 200] [--repeats 7]

Every fit runs exactly ``--iters`` iterations (``tol=0``), so the time per
iteration of each method is its whole fit time (initialisation included)
divided by that number; the table shows the median over ``--repeats`` runs.
scikit-learn's ``NMF(solver="mu", beta_loss="frobenius")`` needs X >= 0 and
gets ``max(X, 0)``; our ``ls_nmf`` clips internally and ``cnmf`` takes the raw X.
Prints a table; no assertions on time.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
import warnings

import numpy as np

from gppnmf_core.baselines import cnmf, ls_nmf


def make_data(K: int, L: int, M: int, noise_std: float, scale: float, seed: int) -> np.ndarray:
    """A random nonnegative rank-M matrix of shape (K, L) plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    D = np.abs(rng.standard_normal((K, M)))
    H = np.abs(rng.standard_normal((M, L)))
    return scale * (D @ H) + noise_std * rng.standard_normal((K, L))


def median_ms_per_iter(fit, n_iter: int, repeats: int) -> float:
    """Median over ``repeats`` runs of the wall-clock milliseconds per iteration."""
    fit()  # warm-up (imports, BLAS thread start-up, caches)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times) / n_iter


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    info = [f"{p['internal_api']}: {p['num_threads']}" for p in threadpool_info() if p["user_api"] == "blas"]
    return ", ".join(info) or "no BLAS found"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single-thread", action="store_true", help="limit BLAS to one thread (threadpoolctl)")
    parser.add_argument("--iters", type=int, default=200, help="iterations per fit (default 200)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per entry (default 7)")
    args = parser.parse_args(argv)

    from sklearn import __version__ as sklearn_version
    from sklearn.decomposition import NMF

    limits = contextlib.nullcontext()
    if args.single_thread:
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(1)

    data_sets = [
        # the paper's toy size, noise std 5 (variance 25)
        ("toy 100x200 M=2", make_data(100, 200, 2, noise_std=5.0, scale=3.0, seed=0), 2),
        # CSI-sized: 400 spectral points x 512 voxels, values ~1e4, noise variance 1e8
        ("CSI 400x512 M=2", make_data(400, 512, 2, noise_std=1e4, scale=3e4, seed=1), 2),
    ]
    n = args.iters
    with limits:
        print(f"numpy {np.__version__}, scikit-learn {sklearn_version}; BLAS threads: {blas_threads()}")
        print(f"{n} iterations per fit (tol=0), median of {args.repeats} runs\n")
        header = f"{'data':<18} {'method':<18} {'ms/iter':>9} {'ratio to sklearn':>17}"
        print(header)
        print("-" * len(header))
        for name, X, M in data_sets:
            X_pos = np.maximum(X, 0.0)

            def run_sklearn(X_pos=X_pos, M=M):
                model = NMF(
                    n_components=M,
                    solver="mu",
                    beta_loss="frobenius",
                    init="random",
                    max_iter=n,
                    tol=0,
                    random_state=0,
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached
                    model.fit_transform(X_pos)
                assert model.n_iter_ == n, model.n_iter_

            def run_ls(X=X, M=M):
                assert ls_nmf(X, M, max_iter=n, tol=0, random_state=0).n_iter == n

            def run_c(X=X, M=M):
                assert cnmf(X, M, max_iter=n, tol=0, random_state=0).n_iter == n

            rows = [
                ("sklearn NMF mu", median_ms_per_iter(run_sklearn, n, args.repeats)),
                ("ls_nmf", median_ms_per_iter(run_ls, n, args.repeats)),
                ("cnmf", median_ms_per_iter(run_c, n, args.repeats)),
            ]
            reference = rows[0][1]
            for method, ms in rows:
                print(f"{name:<18} {method:<18} {ms:>9.4f} {ms / reference:>17.2f}")


if __name__ == "__main__":
    main()
