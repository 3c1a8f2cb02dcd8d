"""Time ``import gppnmf_core`` in fresh interpreters (``python -X importtime``) and list what it loads.

    python benchmarks/bench_import.py [--repeat 5]

Prints, for the bare import and for the first use of the model (``gp.fit_gppnmf``:
numpy and SciPy's linalg, fft, special and optimize) and of the file readers
(``gp.io``: nibabel, scipy.io ...), the import time (median and minimum over the
runs, the top-level imports of ``-X importtime`` summed) and which heavy modules
(scipy.signal, nibabel, scikit-learn, Dash ...) were loaded; then the modules that
take longest in the model's first use. The goal for the bare import is <= 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

HEAVY = ("scipy.signal", "scipy.io", "scipy.optimize", "scipy.stats", "nibabel", "sklearn", "dash", "plotly")

STATEMENTS = ("import gppnmf_core",
              "import gppnmf_core as gp; gp.fit_gppnmf",
              "import gppnmf_core as gp; gp.io.read_dataset")


def import_times(statement: str) -> tuple[float, dict[str, int]]:
    """Seconds spent importing (top-level imports summed) and ``{module: cumulative_us}`` for one run."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True,
                         check=True)
    total_us, cumulative = 0, {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative_us, name = line[len("import time:"):].split("|")
        cumulative[name.strip()] = int(cumulative_us)
        if not name.startswith("  "):  # one space of indentation: imported by the statement itself
            total_us += int(cumulative_us)
    return total_us / 1e6, cumulative


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{args.repeat} fresh interpreters per statement (python -X importtime), seconds\n")
    print(f"{'statement':<48} {'median':>7} {'min':>7}  heavy modules loaded")
    model = None
    for statement in STATEMENTS:
        runs = [import_times(statement) for _ in range(args.repeat)]
        totals = [total for total, _ in runs]
        loaded = runs[-1][1]
        heavy = [m for m in HEAVY if m in loaded]
        print(f"{statement:<48} {statistics.median(totals):7.3f} {min(totals):7.3f}  {', '.join(heavy) or 'none'}")
        if "fit_gppnmf" in statement:
            model = loaded
    print("\nlargest cumulative times in the model's first use (last run):")
    tops = sorted(((us, name) for name, us in model.items() if name.count(".") <= 1), reverse=True)[:12]
    for us, name in tops:
        print(f"  {us / 1e3:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
