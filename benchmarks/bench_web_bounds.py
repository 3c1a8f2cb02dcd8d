"""What the web process spends and sends for large data: server time and JSON size of each response.

Run from the repository root (it imports the app): python -m benchmarks.bench_web_bounds [--repeats N]

Cases: an 8000-point spectrum (8000 × 4, as an uploaded .npy), a 4096 × 32768
data set (1 GiB of float64, stored as an upload is), and the CSI phantom's slider
move for comparison with benchmarks/bench_dashboard.py (about 77–85 ms before the
bounds). Before the bounds, the 8000-point prior redraw took about 59 s (a dense
8000 × 8000 eigendecomposition, +1.6 GB) and the 4096 × 32768 heat map was
hundreds of MB of JSON. Each callback is called as a function and its outputs
encoded as Dash encodes a response; times are medians, the prior redraws with a
new length scale each time (no cached square root).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("GPPNMF_CACHE_DIR", tempfile.mkdtemp(prefix="gppnmf-bench-"))
os.environ.setdefault("GPPNMF_SESSION_QUOTA_MB", "4096")

import numpy as np  # noqa: E402
from plotly.io.json import to_json_plotly  # noqa: E402

import app  # noqa: E402, F401 - configures sessions
import gppnmf_core as gp  # noqa: E402
from benchmarks.bench_dashboard import slider_move  # noqa: E402
from components.panels import data_panel, prior_panel  # noqa: E402
from components.services import store
from components.services.data_source import load_dataset, put_upload  # noqa: E402
from components.views.specs import default_spec  # noqa: E402


def stored_upload(X: np.ndarray, rows, cols, digest: str) -> tuple[str, str]:
    session = store.new_session_id()
    dataset = gp.Dataset(name="upload", title="upload.npy", X=X, rows=rows, cols=cols, truth=None, noise_var=1.0,
                         rank=2)
    return put_upload(session, dataset, digest), session


def long_spectrum() -> tuple[str, str]:
    ppm = np.linspace(10.0, -10.0, 8000)
    return stored_upload(np.random.default_rng(0).random((8000, 4)),
                         gp.Axis(ppm, label="chemical shift", unit="ppm", reversed=True), gp.Axis(np.arange(4.0)),
                         "b1" * 12)


def huge_matrix() -> tuple[str, str]:
    K, L = 4096, 32768
    ppm = np.linspace(20.0, -20.0, K)
    spectrum = np.exp(-(((ppm - 3.0) / 0.5) ** 2)) + 0.5 * np.exp(-(((ppm + 7.0) / 0.3) ** 2))
    X = np.tile(np.outer(spectrum, np.random.default_rng(0).random(64)), (1, L // 64)) - 0.01
    return stored_upload(X, gp.Axis(ppm, label="chemical shift", unit="ppm", reversed=True),
                         gp.Axis(np.arange(float(L)), label="observation"), "b2" * 12)


def timed(call, repeats: int) -> tuple[float, int]:
    """Median seconds of ``call(i)`` (including the JSON encoding) and the JSON bytes of its last response."""
    times, size = [], 0
    for i in range(repeats):
        start = time.perf_counter()
        size = len(to_json_plotly(list(call(i))))
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def prior_redraw(key: str, session: str):
    dataset = load_dataset(key, session)
    specs = {"dataset": key, "D": default_spec(dataset, "D"), "H": default_spec(dataset, "H"), "noise_var": 1.0}

    def redraw(i):
        kernels = specs["D"]["kernel"]  # a slider move: the (first axis's) β
        first = kernels[0] if isinstance(kernels, list) else kernels
        moved = {**first, "beta": first["beta"] * (1.0 + 0.01 * (i + 1))}
        specs["D"] = {**specs["D"], "kernel": [moved, *kernels[1:]] if isinstance(kernels, list) else moved}
        return prior_panel.draw_prior_samples(specs, 0, session)

    return redraw


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    spectrum, spectrum_session = long_spectrum()
    huge, huge_session = huge_matrix()
    slider_move(2.0)  # warm up imports and the data set
    rows = [
        ("8000-point spectrum: prior redraw", timed(prior_redraw(spectrum, spectrum_session), args.repeats)),
        ("8000-point spectrum: data panel (show_dataset)",
         timed(lambda i: data_panel.show_dataset(spectrum, spectrum_session), args.repeats)),
        ("4096 × 32768: prior redraw", timed(prior_redraw(huge, huge_session), args.repeats)),
        ("4096 × 32768: data panel (show_dataset)",
         timed(lambda i: data_panel.show_dataset(huge, huge_session), args.repeats)),
        ("4096 × 32768: data panel (show_preview)",
         timed(lambda i: data_panel.show_preview(huge, 10, huge_session), args.repeats)),
        ("CSI 397 × 512: slider move (collect + redraw)",
         timed(lambda i: [slider_move(1.0 + 0.05 * i)], max(args.repeats, 15))),
    ]
    print(f"{'response':<50} {'server time':>12} {'JSON':>12}")
    print("-" * 76)
    for name, (seconds, size) in rows:
        shown = f"{size / 2**20:.2f} MiB" if size > 2**10 else "(encoded inside)"
        print(f"{name:<50} {seconds * 1e3:>10.0f}ms {shown:>12}")


if __name__ == "__main__":
    main()
