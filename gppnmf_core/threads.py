"""Deliberate BLAS thread counts for the solvers.

On the small matrices of a typical fit (a few hundred by a few hundred), a
multi-threaded BLAS spends more time waking and synchronising threads than
computing: the paper's toy example fits in about 13 ms on one thread and takes
tens of times longer with two spinning threads on a 2-core machine. Solvers
therefore run on one BLAS thread unless the work per product is large, and a
caller (the dashboard's job runner, a notebook) can always choose.
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
        Multiply-adds of the solver's main product, e.g. ``K * L * M``.
    """
    if n_threads is None:
        if work >= SINGLE_THREAD_WORK:
            return nullcontext()
        n_threads = 1
    n_threads = check_int(n_threads, "n_threads")
    return _controller().limit(limits=n_threads, user_api="blas")
