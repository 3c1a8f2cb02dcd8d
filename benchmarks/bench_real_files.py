"""Read time of each real example file in tests/data/real (prints a table; no assertions).

Run from the repository root::

    python benchmarks/bench_real_files.py

For each file (a Philips .sdat with its .spar goes in as the .zip the app asks
for): its size, the data set's shape and the median wall time of 3 reads with
the default options — except the 13C rat kidney .mat, which holds several
arrays and is read with the choices a user makes in "How to read the file"
(the spectra variable, the axis variable in Hz, 32.1 MHz, the reference and the
mirrored sense; see tests/test_io_arrays.py). Target: each real file read and
converted in at most 1 s. The last column reads the same bytes through the
reader process the app uses (``read_dataset_isolated``: a fresh interpreter
with limits), which adds the interpreter's start-up.
"""

from __future__ import annotations

import io
import statistics
import time
import zipfile
from pathlib import Path

from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset, read_dataset_isolated

ROOT = Path(__file__).resolve().parents[1]

REAL = ROOT / "tests" / "data" / "real"
TARGET_S = 1.0
#: Reading choices for files that need them (what a user picks on the page).
OPTIONS = {
    "larson_ratkidney_rat1_shot1.mat": ReadOptions(
        variable="spectra_dynamic", axis_variable="f", axis_unit="Hz", spectrometer_mhz=32.1,
        reference_ppm=179.06, conjugate="no"),
}


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


def median_read(read, data, name, options) -> tuple[float, object]:
    """Median wall time of 3 reads, and the data set read."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        ds = read(data, name, options)
        times.append(time.perf_counter() - start)
    return statistics.median(times), ds


def main() -> None:
    print(f"{'file':<36} {'size':>10} {'shape':>11} {'in process':>11} {'reader process':>15} {'target':>8}")
    for name, data in uploads():
        options = OPTIONS.get(name, ReadOptions())
        try:
            took, ds = median_read(read_dataset, data, name, options)
            took_isolated, _ = median_read(read_dataset_isolated, data, name, options)
        except DataFormatError as exc:
            print(f"{name:<36} not read: {exc}")
            continue
        shape = "×".join(map(str, ds.X.shape))
        print(f"{name:<36} {len(data) / 1024:>6.0f} KiB {shape:>11} {took * 1e3:>8.0f} ms "
              f"{took_isolated * 1e3:>12.0f} ms {f'<= {TARGET_S:g} s':>8}")


if __name__ == "__main__":
    main()
