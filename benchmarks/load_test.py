"""N simultaneous browser sessions, each decomposing its own upload, against a stack started on loopback.

Run: python benchmarks/load_test.py --backend embedded|celery --sessions 8

* ``embedded``: ``gunicorn -w 2 app:server`` without ``REDIS_URL`` (each job in
  a fresh process, at most ``GPPNMF_MAX_JOBS`` at once, the rest wait).
* ``celery``: ``redis-server`` + one Celery worker (prefork, concurrency 2) +
  ``gunicorn -w 2 app:server`` (the code in tests/services/stack.py).

Session k (1 … N) uploads the 31P CSI phantom with X scaled by k (``.npz`` with
X, ppm, grid_shape), all sessions press Run together, and each waits for its
three result columns. Checks per session: the heat-map title names its own file
and no other session's, no error message, and its LS-NMF and CNMF RMSE (vs the
data) divided by k equal session 1's (both fits are scale-equivariant: a session
shown another's results would be off by a factor). Prints each session's time
from its click to its results and a table: backend, sessions, p50, p95, max, failures.

Everything listens on 127.0.0.1 and is stopped at the end, on failure too.
At most 16 sessions; every wait is bounded by ``--timeout`` and the whole run by ``--deadline``.
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import gppnmf_core as gp
from tests.services.stack import (
    Stack,
    chrome,
    have_browser,
    have_redis,
    missing_packages,
    open_page,
)

MAX_SESSIONS = 16
RESULT_COLUMNS = "#results-columns .method-column"
#: Each trace of the RMSE chart: [name, [values]] (plotly's full data holds decoded numbers).
RMSE_JS = ("const g = document.querySelector('#rmse-chart .js-plotly-plot');"
           "return g && g._fullData ? g._fullData.map(t => [t.name, Array.from(t.y)]) : null;")
SAMPLES_AXIS_JS = ("return Array.from(document.querySelectorAll('#samples-D .xtitle'))"
                   ".map(e => e.textContent).join(' ');")
SCALE_CHECKED = ("LS-NMF", "CNMF")  # scale-equivariant fits: RMSE(k X) = k RMSE(X)


class Deadline:
    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        left = max(0.0, self.end - time.monotonic())
        return left if cap is None else min(left, cap)


def _wait(driver, condition, timeout: float, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    if timeout <= 0:
        raise TimeoutError(f"global deadline reached: {message}")
    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(lambda _: condition(), message)


def _text(driver, selector: str) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text if found else ""


def _n_results(driver) -> int:
    from selenium.webdriver.common.by import By

    return len(driver.find_elements(By.CSS_SELECTOR, RESULT_COLUMNS))


def write_inputs(folder: Path, n: int) -> list[Path]:
    """Session k's file: the CSI phantom's X times k, as the upload tests write it."""
    csi = gp.datasets.csi_phantom(random_state=0)
    paths = []
    for k in range(1, n + 1):
        path = folder / f"load-s{k:02d}.npz"
        np.savez(path, X=k * csi.X, ppm=csi.rows.values, grid_shape=np.array(csi.cols.shape))
        paths.append(path)
    return paths


class Session:
    """One browser, its factor k and file, and what happened to its run."""

    def __init__(self, k: int, path: Path):
        self.k, self.path, self.name = k, path, path.name
        self.driver = None
        self.clicked_at: float | None = None
        self.seconds: float | None = None
        self.error: str | None = None
        self.rmse: dict[str, list[float]] = {}
        self.title = ""
        self.statuses: list[str] = []  # what #job-status said while waiting, in order (first words)

    def _done(self) -> bool:
        status = " ".join(_text(self.driver, "#job-status").split()[:2])
        if status and (not self.statuses or self.statuses[-1] != status) and len(self.statuses) < 20:
            self.statuses.append(status)
        return _n_results(self.driver) == 3 or bool(_text(self.driver, "#job-message"))

    def prepare(self, url: str, deadline: Deadline, timeout: float) -> None:
        from selenium.webdriver.common.by import By

        self.driver = chrome()
        open_page(self.driver, url, timeout=deadline.left(timeout))
        self.driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(self.path))
        _wait(self.driver, lambda: f"Read {self.name}: 397 × 512" in _text(self.driver, "#upload-message"),
              deadline.left(timeout), f"{self.name} was not read")
        _wait(self.driver, lambda: self.name in _text(self.driver, "#dataset-heatmap .gtitle"),
              deadline.left(timeout), f"{self.name} not shown in the heat map")
        # The prior samples are drawn from the prior spec Run sends: a ppm axis there means it names the upload
        # (the default data set has none), so Run cannot start on the previous data.
        _wait(self.driver, lambda: "ppm" in self.driver.execute_script(SAMPLES_AXIS_JS),
              deadline.left(timeout), "the prior spec did not move to the upload")

    def run(self, barrier: threading.Barrier, deadline: Deadline, timeout: float) -> None:
        """Click Run together with the others; wait for three results or an error message."""
        from selenium.webdriver.common.by import By

        try:
            barrier.wait(timeout=deadline.left(60))
            self.clicked_at = time.perf_counter()
            self.driver.find_element(By.ID, "run-button").click()
            _wait(self.driver, self._done, deadline.left(timeout), "no results")
            self.seconds = time.perf_counter() - self.clicked_at
            message = _text(self.driver, "#job-message")
            if message:
                self.error = f"job message: {message!r}"
                return
            _wait(self.driver, lambda: self.driver.execute_script(RMSE_JS), deadline.left(30), "no RMSE chart")
            self.rmse = {name: list(values) for name, values in self.driver.execute_script(RMSE_JS)}
            self.title = _text(self.driver, "#dataset-heatmap .gtitle")
        except Exception as exc:  # recorded as this session's failure; the others go on
            self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"

    def quit(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception as exc:
                print(f"session {self.k}: closing the browser: {exc!r}", file=sys.stderr)
            self.driver = None


def check(sessions: list[Session]) -> None:
    """Each completed session shows its own file and results that scale with its own factor."""
    names = [s.name for s in sessions]
    reference = next((s for s in sessions if s.error is None and s.k == 1), None)
    for s in sessions:
        if s.error is not None:
            continue
        others = [n for n in names if n != s.name and n in s.title]
        if s.name not in s.title or others:
            s.error = f"heat-map title {s.title!r} (expected {s.name} only)"
            continue
        missing = [m for m in SCALE_CHECKED if not s.rmse.get(m)]
        if missing:
            s.error = f"no RMSE bars for {missing}: {s.rmse}"
            continue
        if reference is None:
            continue
        for method in SCALE_CHECKED:
            mine, ref = s.rmse[method][0] / s.k, reference.rmse[method][0]
            if not math.isclose(mine, ref, rel_tol=1e-3):
                s.error = (f"{method} RMSE / k = {mine:.6g} but session 1 has {ref:.6g}: "
                           "not the results of this session's data")
                break
    if reference is None:
        for s in sessions:
            if s.error is None:
                s.error = "session 1 failed: no reference for the scale check"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0…100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("embedded", "celery"), required=True)
    parser.add_argument("--sessions", type=int, default=8, help=f"1 … {MAX_SESSIONS} (default 8)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a session may wait for its results")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds for the whole run, start to stop")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (service logs) afterwards")
    args = parser.parse_args(argv)
    if not 1 <= args.sessions <= MAX_SESSIONS:
        parser.error(f"--sessions must be from 1 to {MAX_SESSIONS}")
    if not have_browser():
        parser.error("Chromium and chromedriver are needed (apt-get install chromium chromium-driver)")
    if args.backend == "celery" and (not have_redis() or missing_packages()):
        parser.error(f"the celery backend needs redis-server and {missing_packages() or 'celery, redis, gunicorn'}")
    if args.backend == "embedded" and "gunicorn" in missing_packages():
        parser.error("gunicorn is needed (pip install gunicorn)")

    deadline = Deadline(args.deadline)
    workdir = Path(tempfile.mkdtemp(prefix=f"gppnmf-load-{args.backend}-"))
    stack = Stack(workdir / "stack", backend=args.backend)
    sessions = [Session(k, p) for k, p in enumerate(write_inputs(workdir, args.sessions), start=1)]
    problems: list[str] = []
    try:
        started = time.perf_counter()
        url = stack.start()
        print(f"{args.backend} stack up at {url} in {time.perf_counter() - started:.1f} s (logs in {stack.workdir})",
              flush=True)
        started = time.perf_counter()
        for s in sessions:
            s.prepare(url, deadline, 120)
        print(f"{len(sessions)} browser sessions loaded their uploads in {time.perf_counter() - started:.1f} s",
              flush=True)
        time.sleep(1.0)  # the prior controls settle on the new data (as the upload tests do)
        barrier = threading.Barrier(len(sessions))
        threads = [threading.Thread(target=s.run, args=(barrier, deadline, args.timeout), daemon=True)
                   for s in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=deadline.left(args.timeout + 90))
        for s, t in zip(sessions, threads, strict=True):
            if t.is_alive() and s.error is None:
                s.error = "still waiting at the deadline"
        check(sessions)
    finally:
        for s in sessions:
            s.quit()
        problems = stack.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    clicks = [s.clicked_at for s in sessions if s.clicked_at is not None]
    print(f"\nclicks spread over {1e3 * (max(clicks) - min(clicks)):.0f} ms" if clicks else "\nno clicks")
    print(f"{'session':>7}  {'factor':>6}  {'seconds':>8}  {'LS-NMF RMSE/k':>13}  result  (#job-status seen)")
    for s in sessions:
        seconds = f"{s.seconds:8.2f}" if s.seconds is not None else f"{'-':>8}"
        rmse = f"{s.rmse['LS-NMF'][0] / s.k:13.6g}" if s.rmse.get("LS-NMF") else f"{'-':>13}"
        print(f"{s.k:>7}  {s.k:>6}  {seconds}  {rmse}  {s.error or 'ok'}  ({' → '.join(s.statuses)})")
    times = [s.seconds for s in sessions if s.error is None]
    failures = sum(s.error is not None for s in sessions)
    print("\n| backend | sessions | p50 (s) | p95 (s) | max (s) | failures |\n|---|---|---|---|---|---|")
    if times:
        print(f"| {args.backend} | {len(sessions)} | {statistics.median(times):.2f} | {percentile(times, 95):.2f} "
              f"| {max(times):.2f} | {failures} |")
    else:
        print(f"| {args.backend} | {len(sessions)} | - | - | - | {failures} |")
    if problems:
        print(f"left running after the stop: {problems}", file=sys.stderr)
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
