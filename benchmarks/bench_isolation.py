"""What reading uploads in a separate, limited process costs and buys (prints a table; no assertions).

Run from the repository root::

    python benchmarks/bench_isolation.py

Rows: an ordinary small file and a 16×16×16×1024 NIfTI-MRS CSI file, read in
this process (``read_dataset``) and in a reader process
(``read_dataset_isolated``: a fresh interpreter, limits, the answer parsed
without pickle); then hostile files through the reader process only — a 1 MiB
.npz that declares 0.5 GiB (target: refused in ≤ 2 s), a reader that crashes
(SIGSEGV), a reader that hangs (killed at the wall-clock limit, here 3 s).
Each time is the median of 3 runs.
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from bench_io import DWELL_S, OPTIONS, SF_MHZ, synthetic_fids

from gppnmf_core.io import DataFormatError, isolated, read_dataset, read_dataset_isolated, write_nifti_mrs

ROOT = Path(__file__).resolve().parents[1]

CRASHING_READER = [sys.executable, str(ROOT / "tests" / "app" / "crashing_reader.py")]
HANGING_READER = [sys.executable, "-c", "import sys, time; sys.stdin.buffer.read(); time.sleep(3600)", "--"]


def _median_time(call, repeats: int = 3) -> tuple[float, str]:
    times, outcome = [], ""
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            dataset = call()
            outcome = f"read {dataset.X.shape[0]} × {dataset.X.shape[1]}"
        except DataFormatError as exc:
            outcome = "refused: " + str(exc)[:60] + "…"
        times.append(time.perf_counter() - start)
    return statistics.median(times), outcome


def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": (2**13, 2**13)})
            for _ in range(512):
                member.write(bytes(2**20))
    return buffer.getvalue()


def main() -> None:
    small = _npy(np.abs(np.random.default_rng(0).standard_normal((397, 512))))
    with tempfile.TemporaryDirectory() as tmp:
        csi = write_nifti_mrs(synthetic_fids((16, 16, 16), 1024), DWELL_S, SF_MHZ, path_or_none=Path(tmp) / "c.nii")
    rows = [
        ("397×512 .npy (1.6 MiB)", "in process", lambda: read_dataset(small, "x.npy")),
        ("397×512 .npy (1.6 MiB)", "reader process", lambda: read_dataset_isolated(small, "x.npy")),
        ("16×16×16×1024 .nii (32 MiB)", "in process", lambda: read_dataset(csi, "c.nii", OPTIONS)),
        ("16×16×16×1024 .nii (32 MiB)", "reader process", lambda: read_dataset_isolated(csi, "c.nii", OPTIONS)),
    ]
    bomb = _bomb()
    rows.append((f".npz declaring 0.5 GiB ({len(bomb) / 2**20:.2f} MiB)", "reader process",
                 lambda: read_dataset_isolated(bomb, "bomb.npz", max_data_bytes=256 * 2**20)))
    header = f"{'file':<34}{'where':<16}{'median s':>9}  outcome"
    print(header)
    print("-" * (len(header) + 50))
    for name, where, call in rows:
        seconds, outcome = _median_time(call)
        print(f"{name:<34}{where:<16}{seconds:>9.3f}  {outcome}")
    for name, argv, wall in (("a reader that segfaults", CRASHING_READER, 120.0),
                             ("a reader that hangs (limit 3 s)", HANGING_READER, 3.0)):
        isolated.WORKER_ARGV = argv
        seconds, outcome = _median_time(lambda w=wall: read_dataset_isolated(small, "x.npy", wall_seconds=w))
        print(f"{name:<34}{'reader process':<16}{seconds:>9.3f}  {outcome}")
    print("target: the 0.5 GiB declaration refused in <= 2 s; the server process is never the one that crashes")


if __name__ == "__main__":
    main()
