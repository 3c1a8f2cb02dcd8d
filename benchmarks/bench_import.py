"""Time ``import gppnmf_core`` in fresh interpreters (``python -X importtime``) and list what it loads.

    python benchmarks/bench_import.py [--repeat 5]

Prints the cumulative import time of the package (median and minimum over the
runs), the modules that take longest, and whether any heavy module (scipy.signal,
nibabel, scikit-learn, Dash ...) came along. The goal is <= 0.3 s on a quiet machine;
numpy and the parts of SciPy the model needs (linalg, fft, special) are most of it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

HEAVY = ("scipy.signal", "scipy.io", "scipy.optimize", "scipy.stats", "nibabel", "sklearn", "dash", "plotly")


def import_times(statement: str) -> dict[str, tuple[int, int]]:
    """``{module: (self_us, cumulative_us)}`` from one ``python -X importtime -c statement``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                         check=True)
    times = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|")
        times[name.strip()] = (int(self_us), int(cumulative_us))
    return times


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    runs = [import_times("import gppnmf_core") for _ in range(args.repeat)]
    totals = [run["gppnmf_core"][1] / 1e6 for run in runs]
    print(f"import gppnmf_core: median {statistics.median(totals):.3f} s, min {min(totals):.3f} s "
          f"over {args.repeat} fresh interpreters (python -X importtime)")
    last = runs[-1]
    print("\nlargest cumulative times (last run):")
    tops = sorted(((cum, name) for name, (_, cum) in last.items() if name.count(".") <= 1), reverse=True)[:12]
    for cum, name in tops:
        print(f"  {cum / 1e3:8.1f} ms  {name}")
    heavy = [m for m in HEAVY if m in last]
    print("\nheavy modules loaded:", ", ".join(heavy) if heavy else "none")


if __name__ == "__main__":
    main()
