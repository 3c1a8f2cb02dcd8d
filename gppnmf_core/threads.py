"""Deliberate BLAS thread counts for the solvers.

A multi-threaded BLAS only pays off when a single product is large enough to
amortise waking and synchronising its threads, and OpenBLAS's worker threads
keep spinning for a while after each call, stealing the core from whatever
the solver does between products (the paper's toy example fits in about
13 ms on one thread and takes tens of times longer with two spinning threads
on a 2-core machine). Solvers therefore run on one BLAS thread
unless their main product is large (``SINGLE_THREAD_WORK`` multiply-adds),
and a caller (the dashboard's job runner, a notebook) can always choose.

Measurements (2-core reference machine, OpenBLAS 0.3.31; wall-clock seconds
on 1 / 2 threads, first on the otherwise quiet machine (load average about
1), then with other jobs running on it (load average 4–6)):

* LS-NMF, rank 3 (one big product after another), 400 multiplicative
  updates: 512×1024 (1.6e6 multiply-adds per product) 0.34 / 0.21;
  512×2048 (3.1e6) 0.66 / 0.40, loaded 0.45 / 2.4–3.0; 512×4096 (6.3e6)
  1.37 / 0.78. 200 updates on 512×16384 (2.5e7): 3.7 / 1.7, loaded a wash
  (4.4–4.8 / 3.8–6.0); 40 on 256×131072 (1.0e8): 4.8 / 2.8. Two threads
  win from about a million multiply-adds on when the machine is otherwise
  idle, and lose badly on small products when it is not: the threshold
  stays at 4e6.
* GPP-NMF, the problems of ``benchmarks/bench_scale.py`` (Kronecker + mirror
  prior, voxel mask, rank 3, L-BFGS, a fixed number of iterations):
  32×32×16 × 512, 300 iterations: 2.4 / 5.7, loaded 3.5 / 39–41;
  64×64×32 × 256, 60 iterations: 4.2 / 6.3, loaded 14 / 22; the dense prior
  on 16×16×16 × 512 (a 4096² square root), 100 iterations: 6.8 / 10.8,
  loaded 8.0 / 11.2. One thread wins at every size, even where the single
  largest product (the dense 4096² one) alone runs faster on two: an
  evaluation interleaves small products, link functions and the L-BFGS
  update, which the spinning threads slow down. The objective's products
  with the data run on cache-sized column blocks (:mod:`gppnmf_core.objective`;
  about 4e5 multiply-adds each at rank 3), and ``fit_gppnmf`` hands the
  policy that block product, so GPP-NMF fits run on one thread by default.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache

from ._validation import check_int

#: Products with fewer multiply-adds than this run on one BLAS thread by default.
SINGLE_THREAD_WORK = 4_000_000


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def blas_threads(n_threads, work: int):
    """Context manager that sets the BLAS thread count for a solver run.

    Parameters
    ----------
    n_threads : int or None
        Threads to use; None chooses 1 when ``work < SINGLE_THREAD_WORK`` and
        otherwise leaves the BLAS library's own setting.
    work : int
        Multiply-adds of the solver's largest single product, e.g. ``K * L * M``
        for a product ``X @ H.T`` done in one piece.
    """
    if n_threads is None:
        if work >= SINGLE_THREAD_WORK:
            return nullcontext()
        n_threads = 1
    n_threads = check_int(n_threads, "n_threads")
    return _controller().limit(limits=n_threads, user_api="blas")
