"""Read time of each real example file in tests/data/real (prints a table; no assertions).

Run from the repository root::

    python benchmarks/bench_real_files.py

For each file (a Philips .sdat with its .spar goes in as the .zip the app asks
for): its size, the data set's shape and the median wall time of 3 reads with
the default options. Target: nmt_metab_raw.nii.gz (1H 7 T, 4096 points,
4 coils × 16 repeats) read in at most 1 s.
"""

from __future__ import annotations

import io
import statistics
import time
import zipfile
from pathlib import Path

from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset

ROOT = Path(__file__).resolve().parents[1]

REAL = ROOT / "tests" / "data" / "real"
TARGETS_S = {"nmt_metab_raw.nii.gz": 1.0}


def uploads():
    """(name, bytes) of each file as it would be uploaded."""
    for path in sorted(REAL.iterdir()):
        if path.is_dir() or path.suffix.lower() in (".md", ".spar"):
            continue
        if path.suffix.lower() == ".sdat":
            spar = path.with_suffix(".spar")
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.write(path, path.name)
                if spar.exists():
                    archive.write(spar, spar.name)
            yield path.stem + ".zip", buffer.getvalue()
        else:
            yield path.name, path.read_bytes()


def main() -> None:
    print(f"{'file':<40} {'size':>10} {'shape':>12} {'read (median of 3)':>20} {'target':>8}")
    for name, data in uploads():
        times, shape = [], "-"
        try:
            for _ in range(3):
                start = time.perf_counter()
                ds = read_dataset(data, name, ReadOptions())
                times.append(time.perf_counter() - start)
            shape = "×".join(map(str, ds.X.shape))
            took = f"{statistics.median(times) * 1e3:.0f} ms"
        except DataFormatError as exc:
            took = "not read: " + str(exc)[:60]
        target = TARGETS_S.get(name)
        print(f"{name:<40} {len(data) / 1024:>8.0f} KiB {shape:>12} {took:>20} "
              f"{(f'<= {target:g} s' if target else ''):>8}")


if __name__ == "__main__":
    main()
