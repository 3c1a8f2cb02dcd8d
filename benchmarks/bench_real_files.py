"""Read time of the real example files (tests/data/real), in this process and in the limited reader process.

Run from the repository root::

    python benchmarks/bench_real_files.py [--repeats 5]

One row per real file (the Philips SPAR/SDAT pair zipped, as the page takes it):
the median wall time of ``read_dataset`` in this process (after one warm-up
read, so imports are not counted) and of ``read_dataset_isolated`` (a fresh
interpreter per read, so its start and imports are counted), the shape of X and
the converter. The first row, a tiny .npy, is the fixed cost of a reader process
(interpreter start and imports). Target: ≤ 1 s per file. Prints a table; no assertions.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gppnmf_core.io import DataFormatError, ReadOptions, read_dataset, read_dataset_isolated  # noqa: E402

REAL = ROOT / "tests" / "data" / "real"
TARGET_S = 1.0


def _philips_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for ext in ("spar", "sdat"):
            zf.write(REAL / f"osprey_sub-01_PRESS_35_act.{ext}", f"act.{ext.upper()}")
    return buffer.getvalue()


def cases() -> list[tuple[str, str, bytes, ReadOptions]]:
    """(row label, upload name, content, options) for every real file."""
    read = lambda name: (REAL / name).read_bytes()  # noqa: E731
    larson = ReadOptions(variable="spectra_dynamic", axis_variable="f", axis_unit="Hz", spectrometer_mhz=32.1,
                         reference_ppm=179.06, conjugate="no")
    small = io.BytesIO()
    np.save(small, np.arange(1.0, 17.0).reshape(4, 4))
    return [
        ("baseline: a 4×4 .npy (the reader process's start)", "small.npy", small.getvalue(), ReadOptions()),
        ("nmt_metab_raw.nii.gz", "nmt_metab_raw.nii.gz", read("nmt_metab_raw.nii.gz"), ReadOptions()),
        ("nmt_wref_raw.nii.gz", "nmt_wref_raw.nii.gz", read("nmt_wref_raw.nii.gz"), ReadOptions()),
        ("suspect_SVS_30.rda (spec2nii rda)", "SVS_30.rda", read("suspect_SVS_30.rda"), ReadOptions()),
        ("osprey .spar+.sdat as .zip (spec2nii philips)", "sub-01_press.zip", _philips_zip(), ReadOptions()),
        ("s2n_metab.txt (two-column FID)", "s2n_metab.txt", read("s2n_metab.txt"),
         ReadOptions(spectrometer_mhz=297.219948, dwell_time_s=83.3e-6)),
        ("larson_ratkidney_rat1_shot1.mat (variables chosen)", "shot1.mat",
         read("larson_ratkidney_rat1_shot1.mat"), larson),
    ]


def _median(call, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            result = call()
        except DataFormatError as exc:
            result = exc
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"Read time of the real files, median of {args.repeats} (target <= {TARGET_S:g} s per file)")
    print(f"{'file':<52} {'size':>9} {'in process':>11} {'isolated':>9}  {'X':>10}  note")
    for label, name, content, options in cases():
        try:
            read_dataset(content, name, options)  # warm-up: imports (spec2nii, pydicom) are loaded once
        except DataFormatError:
            pass
        direct, result = _median(lambda c=content, n=name, o=options: read_dataset(c, n, o), args.repeats)
        isolated, _ = _median(lambda c=content, n=name, o=options: read_dataset_isolated(c, n, o), args.repeats)
        if isinstance(result, DataFormatError):
            shape, note = "-", f"refused: {str(result)[:60]}"
        else:
            shape = "×".join(map(str, result.X.shape))
            note = next((word for word in ("spec2nii rda", "spec2nii philips") if word in result.description), "")
        flag = "" if max(direct, isolated) <= TARGET_S else "  > target"
        print(f"{label:<52} {len(content) / 1024:>7.0f}KB {direct:>10.3f}s {isolated:>8.3f}s  {shape:>10}  "
              f"{note}{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
