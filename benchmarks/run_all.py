"""Run every benchmark script in this folder in turn and print their tables.

The library's benchmarks run as scripts; those that import the app (``components``, ``app``) run as modules
from the repository root (``python -m benchmarks.<name>``): the app is not an installed package.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Benchmarks of the app: run as modules from the checkout's root.
APP_BENCHMARKS = {"bench_dashboard.py", "bench_web_bounds.py", "bench_slider_redraw.py"}
SCRIPTS = ["bench_gppnmf.py", "bench_baselines.py", "bench_datasets.py", "bench_dashboard.py", "bench_io.py",
           "bench_isolation.py", "bench_real_files.py", "bench_web_bounds.py", "bench_long_axis.py",
           "bench_import.py", "bench_scale.py", "bench_iterations.py", "bench_posterior.py",
           "bench_model_selection.py", "bench_slider_redraw.py", "paper_figure3.py"]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        if script in APP_BENCHMARKS:
            subprocess.run([sys.executable, "-m", f"benchmarks.{script[:-3]}"], cwd=HERE.parent, check=True)
        else:
            subprocess.run([sys.executable, str(HERE / script)], check=True)
        print(flush=True)
