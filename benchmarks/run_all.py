"""Run every benchmark script in this folder in turn and print their tables."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["bench_gppnmf.py", "bench_baselines.py", "bench_datasets.py", "bench_dashboard.py", "bench_io.py",
           "bench_isolation.py", "bench_real_files.py", "bench_web_bounds.py", "bench_long_axis.py",
           "paper_figure3.py"]

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], check=True)
        print(flush=True)
