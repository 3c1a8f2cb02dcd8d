"""Server time of the dashboard's two hot paths, on the CSI phantom.

Run from the repository root (it imports the app): python -m benchmarks.bench_dashboard [--repeats N]

1. A slider move: the prior spec is collected and the prior samples, the
   histograms and the simulated data are redrawn for a new length scale (a
   memoization miss every time), including the JSON encoding Dash does for
   the response. Target: <= 150 ms.
2. A Run of all three methods: the job (fits, matching, scores, storing) plus
   the results callback and its JSON encoding. The browser test prints the
   end-to-end figure (target <= 3 s from the click to all three results).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("GPPNMF_CACHE_DIR", tempfile.mkdtemp(prefix="gppnmf-bench-"))

from plotly.io.json import to_json_plotly  # noqa: E402

import app  # noqa: E402, F401 - binds the cache
from components.jobs import compute  # noqa: E402
from components.panels import prior_panel, results_panel
from components.panels.decompose_panel import _store_results  # noqa: E402
from components.services import store
from components.services.data_source import builtin_key, load_dataset  # noqa: E402
from components.views.specs import controls_of, factor_axis, prior_for  # noqa: E402

CSI = builtin_key("csi_phantom")


def paper_specs():
    p = load_dataset(CSI).presets["paper"]
    return {"dataset": CSI, "D": p.prior_D.to_spec(), "H": p.prior_H.to_spec(), "noise_var": p.noise_var}


def slider_move(beta: float) -> None:
    specs = paper_specs()
    shown = {f: controls_of(specs[f]) for f in ("D", "H")}
    ids = [{"type": "param-input", "factor": f, "name": n} for f, n in prior_panel.PARAMS]
    values = {("D", "beta"): shown["D"]["beta"], ("D", "scale"): shown["D"]["scale"], ("H", "beta"): beta,
              ("H", "scale"): shown["H"]["scale"], ("noise", "var"): specs["noise_var"]}
    collected, message, *_ = prior_panel.collect_prior_specs(
        CSI, ["rbf", "rbf"], ["exponential", "exponential"], [[], ["mirror"]],
        [values[(i["factor"], i["name"])] for i in ids],
        [{"type": "kernel", "factor": "D"}, {"type": "kernel", "factor": "H"}], ids)
    assert not message, message
    to_json_plotly(list(prior_panel.draw_prior_samples(collected, 0)))  # as Dash encodes responses


def run_all_three(session: str) -> None:
    dataset = load_dataset(CSI)
    specs = paper_specs()
    priors = [prior_for(specs[f], factor_axis(dataset, f), f) for f in ("D", "H")]
    settings = compute.JobSettings(methods=("gppnmf", "cnmf", "ls_nmf"), rank=2, max_iter=1000, tol=1e-6,
                                n_replicates=1, noise_var=specs["noise_var"])
    _store_results(session, CSI, dataset, settings, compute.run_decomposition(dataset, *priors, settings))
    out = results_panel.show_results({"error": None}, 4, session)
    to_json_plotly([out[0], out[1]])


def timed(task, args):
    times = []
    for a in args:
        start = time.perf_counter()
        task(a)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    slider_move(2.0)  # warm up imports and the data set
    rows = [
        ("slider move → prior samples redrawn (new β each time)",
         timed(slider_move, [1.0 + 0.05 * i for i in range(args.repeats)])),
        ("Run: 3 methods + results drawn (server side)",
         timed(run_all_three, [store.new_session_id() for _ in range(max(3, args.repeats // 3))])),
    ]
    print(f"{'CSI phantom 397×512, task':<58} {'median':>10} {'min':>10} {'max':>10}")
    print("-" * 92)
    for name, (median, lo, hi) in rows:
        print(f"{name:<58} {median * 1e3:>8.1f}ms {lo * 1e3:>8.1f}ms {hi * 1e3:>8.1f}ms")


if __name__ == "__main__":
    main()
