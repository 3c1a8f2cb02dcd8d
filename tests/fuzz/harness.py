"""The fuzz loop: mutate seeds, read them in the child, count outcomes, minimise and save the findings."""

from __future__ import annotations

import hashlib
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from .child import REPO_ROOT, Outcome, ReaderChild
from .mutate import mutate
from .seeds import EXTENSIONS, SEEDS

__all__ = ["ReaderStats", "Finding", "fuzz_reader", "minimise", "save_finding", "REGRESSIONS", "STATUSES"]

#: Where findings are kept: exceptions, timeouts and memory blow-ups here, crashes under crashers/.
REGRESSIONS = REPO_ROOT / "tests" / "data" / "fuzz_regressions"
#: Outcome classes, in the order of the table.
STATUSES = ("ok", "dfe", "other", "crash", "timeout", "memory")
_CORPUS_MAX = 256
_CRASHES_KEPT = 3
_NOTE_WORDS = {"other": "exception", "crash": "crash", "timeout": "timeout", "memory": "memory"}


@dataclass
class Finding:
    """An input that did something other than ok or DataFormatError, and where it was saved."""

    reader: str
    data: bytes
    outcome: Outcome
    index: int
    path: Path | None = None


@dataclass
class ReaderStats:
    """Counts of one reader's fuzz run."""

    reader: str
    tried: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


def _shape_of(outcome: Outcome) -> tuple[str, str]:
    """A coarse signature for corpus feedback: the outcome and its message without numbers or quotes."""
    return outcome.status, re.sub(r"\d+|'[^']*'|\([^)]*\)", "#", outcome.message)[:80]


def minimise(child: ReaderChild, data: bytes, filename: str, outcome: Outcome, budget: int) -> bytes:
    """Remove chunks of ``data`` while reading it still gives the same finding (at most ``budget`` reads)."""
    size = max(len(data) // 2, 1)
    while size >= 1 and budget > 0:
        i, shrunk = 0, False
        while i < len(data) and budget > 0:
            candidate = data[:i] + data[i + size:]
            budget -= 1
            if candidate and child.read(candidate, filename).signature == outcome.signature:
                data, shrunk = candidate, True
            else:
                i += size
        if not shrunk:
            size //= 2
    return data


def save_finding(finding: Finding, directory: Path, seed: int) -> Path:
    """Write the input as ``<reader>-<sha>.<ext>`` (crashes under ``crashers/``) with a one-line ``.txt`` note."""
    outcome = finding.outcome
    target = directory / "crashers" if outcome.status == "crash" else directory
    target.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(finding.data).hexdigest()[:10]
    path = target / f"{finding.reader}-{sha}{EXTENSIONS[finding.reader]}"
    if not path.exists():
        path.write_bytes(finding.data)
        message = " ".join(outcome.message.split())[:160]
        where = f" at {outcome.where}" if outcome.where else ""
        note = (f"{_NOTE_WORDS[outcome.status]} {outcome.type}: {message}{where} "
                f"(make fuzz, FUZZ_SEED={seed}, {finding.reader} input {finding.index})")
        Path(f"{path}.txt").write_text(note + "\n", encoding="utf-8")
    return path


def fuzz_reader(reader: str, child: ReaderChild, seconds: float, seed: int, save_to: Path | None,
                minimise_budget: int = 150, log=print) -> ReaderStats:
    """Fuzz one reader for about ``seconds`` and return its counts.

    Every seed is read first; then each step picks an input of the corpus
    (the seeds plus every mutant that gave an outcome not seen before),
    mutates it and reads it in the child. The first input of each new kind of
    finding is minimised a little and saved under ``save_to``; None saves nothing.
    """
    rng = random.Random(f"{seed}:{reader}")
    filename = "fuzz" + EXTENSIONS[reader]
    corpus = list(SEEDS[reader]())
    stats = ReaderStats(reader)
    seen_shapes: set[tuple[str, str]] = set()
    seen_findings: set[tuple[str, str, str]] = set()
    start = time.monotonic()
    pending = list(corpus)
    while pending or time.monotonic() - start < seconds:
        data = pending.pop(0) if pending else mutate(reader, rng.choice(corpus), rng, corpus)
        outcome = child.read(data, filename)
        stats.tried += 1
        stats.counts[outcome.status] += 1
        shape = _shape_of(outcome)
        if shape not in seen_shapes and len(corpus) < _CORPUS_MAX and data:
            seen_shapes.add(shape)
            corpus.append(data)
        if outcome.status in ("ok", "dfe") or outcome.signature in seen_findings:
            continue
        seen_findings.add(outcome.signature)
        if outcome.status == "crash":  # a crash has no traceback: keep up to _CRASHES_KEPT different inputs
            crashes = sum(f.outcome.status == "crash" for f in stats.findings) + 1
            if crashes < _CRASHES_KEPT:
                seen_findings.discard(outcome.signature)
        budget = minimise_budget if outcome.status == "other" else minimise_budget // 15  # restarts are slow
        if outcome.status == "timeout":
            budget = 0
        small = minimise(child, data, filename, outcome, budget) if budget else data
        finding = Finding(reader, small, outcome, stats.tried)
        if save_to is not None:
            finding.path = save_finding(finding, save_to, seed)
        stats.findings.append(finding)
        log(f"  {reader}: {outcome.status} {outcome.type}: {outcome.message[:100]} {outcome.where} "
            f"({len(data)} -> {len(small)} bytes){' -> ' + str(finding.path) if finding.path else ''}")
    stats.seconds = time.monotonic() - start
    return stats
