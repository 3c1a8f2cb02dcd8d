"""Fuzz every upload reader of ``gppnmf_core.io.read_dataset`` for a bounded time, reproducibly.

Run ``make fuzz`` or ``python -m tests.fuzz.fuzz_readers [--seconds S] [--seed N] [--readers npz,mat]``.
Environment: ``FUZZ_SECONDS`` (default 180, split evenly across the readers)
and ``FUZZ_SEED`` (default 0). Inputs are mutated seed files of each format
(see seeds.py and mutate.py), read one at a time in a child process with a
2 GiB address-space limit and a 5 s timeout. Each input is ok, a
DataFormatError naming the file, another exception (a bug), a crash of the
child (a signal), a timeout or a MemoryError. The first input of each new
finding is minimised a little and saved under tests/data/fuzz_regressions/
(crashes under crashers/) with a one-line ``.txt`` note. The exit status is 1
when a finding other than a crash was made (crashes of scipy's loadmat are
contained by reading in a sandboxed process, not fixed in the readers).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .child import ReaderChild
from .harness import REGRESSIONS, ReaderStats, fuzz_reader
from .seeds import EXTENSIONS, READERS

__all__ = ["main", "run", "format_table"]


def run(seconds: float, seed: int, readers=READERS, save_to: Path | None = REGRESSIONS, timeout_s: float = 5.0,
        minimise_budget: int = 150, log=None) -> list[ReaderStats]:
    """Fuzz ``readers`` for ``seconds`` in all (split evenly) and return their counts."""
    if log is None:
        def log(line: str) -> None:
            print(line, flush=True)
    per_reader = seconds / len(readers)
    results = []
    with ReaderChild(timeout_s=timeout_s) as child:
        for reader in readers:
            log(f"fuzzing {reader} ({EXTENSIONS[reader]}) for {per_reader:.0f} s, seed {seed}")
            results.append(fuzz_reader(reader, child, per_reader, seed, save_to, minimise_budget, log=log))
    return results


def format_table(results: list[ReaderStats]) -> str:
    """The summary: one row per reader, the inputs tried and the outcomes by class."""
    head = ("reader", "inputs", "ok", "DataFormatError", "other exc.", "crashes", "timeouts", "memory", "inputs/s")
    rows = [head]
    for s in results:
        c = s.counts
        rows.append((EXTENSIONS[s.reader], s.tried, c["ok"], c["dfe"], c["other"], c["crash"], c["timeout"],
                     c["memory"], f"{s.tried / max(s.seconds, 1e-9):.0f}"))
    totals = [sum(r[i] for r in rows[1:]) for i in range(1, 8)]
    rows.append(("total", *totals, ""))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    lines = ["  ".join(str(v).rjust(w) if i else str(v).ljust(w)
                       for i, (v, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 180)))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 0)))
    parser.add_argument("--readers", default=",".join(READERS), help=f"comma-separated, of {', '.join(READERS)}")
    parser.add_argument("--out", type=Path, default=REGRESSIONS, help="where findings are saved")
    args = parser.parse_args(argv)
    readers = tuple(r.strip() for r in args.readers.split(",") if r.strip())
    unknown = [r for r in readers if r not in EXTENSIONS]
    if unknown:
        parser.error(f"unknown readers {unknown}; choose from {', '.join(READERS)}")
    results = run(args.seconds, args.seed, readers, args.out)
    print()
    print(format_table(results))
    findings = [f for s in results for f in s.findings]
    for f in findings:
        print(f"{f.outcome.status:8s} {f.reader:6s} {f.outcome.type}: {f.outcome.where} -> {f.path}")
    return 1 if any(f.outcome.status != "crash" for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
