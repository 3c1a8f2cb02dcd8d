"""Time and memory of reading a NIfTI-MRS CSI file with ``gppnmf_core.io.read_dataset`` (prints a table).

Run from the repository root::

    python benchmarks/bench_io.py            # 16×16×16×1024 complex64 (.nii and .nii.gz) and 32×32×16×1024
    python benchmarks/bench_io.py --quick    # the first case only

For each file: the file size; the median wall time of 3 reads (``ppm_range``
-20…10 ppm, as the app uses it); the peak of memory allocated during one read
(``tracemalloc``, which sees NumPy's buffers; the file's bytes themselves are
allocated before and not counted) and its ratio to the file size; and how far
one read in a fresh subprocess raises the process's peak resident set size
above its resident size just before the read (on Linux the peak, VmHWM, is
reset through /proc/self/clear_refs first; elsewhere the growth of
``ru_maxrss``), which also counts memory tracemalloc cannot see (FFT scratch
buffers, the interpreter). Targets: at most 2 s and a peak of at
most 4 times the file size. No assertions.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from gppnmf_core.datasets.csi import PEAKS_31P
from gppnmf_core.io import ReadOptions, read_dataset, write_nifti_mrs

ROOT = Path(__file__).resolve().parents[1]

SF_MHZ = 25.85
DWELL_S = 1.0 / 2000.0
OPTIONS = ReadOptions(ppm_range=(-20.0, 10.0))

_CHILD = r"""
import resource, sys
from gppnmf_core.io import ReadOptions, read_dataset


def status_kib(key):
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith(key + ":"))


data = open(sys.argv[2], "rb").read()
options = ReadOptions(ppm_range=(-20.0, 10.0))
try:  # Linux: reset the peak RSS (VmHWM) to the current RSS, then read it after the call
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    before, peak = status_kib("VmRSS"), lambda: status_kib("VmHWM")
except OSError:  # elsewhere: ru_maxrss (kilobytes on Linux, bytes on macOS; only grows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
read_dataset(data, sys.argv[3], options)
print((peak() - before) * 1024)
"""


def synthetic_fids(grid: tuple[int, int, int], n_t: int, seed: int = 0) -> np.ndarray:
    """31P brain-like FIDs with a random amplitude, zero-order phase and noise per voxel (NIfTI-MRS convention)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_t) * DWELL_S
    signal = np.zeros(n_t, dtype=np.complex64)
    for peak in PEAKS_31P:
        signal += (peak.brain * np.exp((2j * np.pi * peak.ppm * SF_MHZ - np.pi * peak.linewidth_hz) * t)).astype(
            np.complex64)
    scale = (rng.random(grid) * np.exp(2j * np.pi * rng.random(grid))).astype(np.complex64)
    fids = np.empty((*grid, n_t), dtype=np.complex64)
    fids.real = rng.standard_normal(fids.shape, dtype=np.float32)
    fids.imag = rng.standard_normal(fids.shape, dtype=np.float32)
    fids *= np.float32(0.05)
    fids += scale[..., None] * signal
    np.conjugate(fids, out=fids)
    return fids


def measure(content: bytes, filename: str, repeats: int = 3) -> dict:
    """Median read time, tracemalloc peak of one read, and ru_maxrss growth of one read in a subprocess."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        data = read_dataset(content, filename, OPTIONS)
        times.append(time.perf_counter() - start)
    del data
    tracemalloc.start()
    tracemalloc.reset_peak()
    data = read_dataset(content, filename, OPTIONS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    shape = data.X.shape
    del data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(content)
        out = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT), str(path), filename],
                             capture_output=True, text=True, check=True)
        rss = int(out.stdout.strip().splitlines()[-1])
    return {"size": len(content), "time": statistics.median(times), "peak": peak, "rss": rss, "shape": shape}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only the 16×16×16×1024 .nii case")
    args = parser.parse_args()
    cases = [((16, 16, 16), 1024, False)]
    if not args.quick:
        cases += [((16, 16, 16), 1024, True), ((32, 32, 16), 1024, False)]
    mib = 2.0**20
    header = (f"{'file':<26}{'size MiB':>9}{'X shape':>14}{'time s (median 3)':>19}{'peak MiB':>10}"
              f"{'peak/size':>10}{'RSS peak +MiB':>14}")
    print(header)
    print("-" * len(header))
    for grid, n_t, compressed in cases:
        fids = synthetic_fids(grid, n_t)
        with tempfile.TemporaryDirectory() as tmp:
            name = f"csi_{'x'.join(map(str, grid))}x{n_t}.nii" + (".gz" if compressed else "")
            content = write_nifti_mrs(fids, DWELL_S, SF_MHZ, path_or_none=Path(tmp) / name)
        del fids
        r = measure(content, name)
        print(f"{name:<26}{r['size'] / mib:>9.1f}{str(r['shape']):>14}{r['time']:>19.3f}{r['peak'] / mib:>10.1f}"
              f"{r['peak'] / r['size']:>10.2f}{r['rss'] / mib:>14.1f}")
    print("targets: time <= 2 s, peak <= 4 x file size (for .nii.gz the file is the compressed size)")


if __name__ == "__main__":
    main()
