"""Inputs found by the fuzzer (tests/fuzz, ``make fuzz``) and a short fuzz run through the same harness.

Every file in tests/data/fuzz_regressions/ has a one-line note ``<file>.txt``
that starts with what the input did when it was found: ``exception``,
``timeout``, ``memory`` or ``crash``. Inputs that raised an exception are read
in this process and must now raise DataFormatError naming the file; inputs
that hung or exhausted memory are read in the fuzzer's child process (time-
and memory-limited); inputs that crashed the interpreter (crashers/) are never
read in this process: only through ``read_dataset_isolated`` or the child.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import gppnmf_core.io
from gppnmf_core.io import DataFormatError, read_dataset
from tests.fuzz.child import ReaderChild
from tests.fuzz.fuzz_readers import format_table, run

REGRESSIONS = Path(__file__).parent / "data" / "fuzz_regressions"
CRASHERS = REGRESSIONS / "crashers"


def _saved(directory: Path) -> list[tuple[Path, str]]:
    """``(input, note)`` for every input with its ``.txt`` note in ``directory``."""
    pairs = []
    for note in sorted(directory.glob("*.txt")):
        data = note.with_name(note.name[: -len(".txt")])
        if data.is_file():
            pairs.append((data, note.read_text(encoding="utf-8").strip()))
    return pairs


SAVED = _saved(REGRESSIONS)
RAISED = [path for path, note in SAVED if note.startswith("exception ")]
BOUNDED = [path for path, note in SAVED if note.startswith(("timeout ", "memory "))]
CRASHED = [path for path, _ in _saved(CRASHERS)]


def test_every_saved_input_has_a_known_kind_of_note():
    assert RAISED, "the fuzz regressions are missing"
    for path, note in SAVED + _saved(CRASHERS):
        assert note.split()[0] in ("exception", "timeout", "memory", "crash"), (path.name, note)
    assert all(note.startswith("crash ") for _, note in _saved(CRASHERS))
    assert not [note for _, note in SAVED if note.startswith("crash ")], "crashers belong in crashers/"


@pytest.mark.parametrize("path", RAISED, ids=[p.name for p in RAISED])
def test_input_that_raised_now_raises_data_format_error(path):
    with pytest.raises(DataFormatError) as info:
        read_dataset(path.read_bytes(), path.name)
    assert type(info.value) is DataFormatError
    assert str(info.value).startswith(path.name), str(info.value)


@pytest.fixture(scope="module")
def child():
    with ReaderChild(timeout_s=60.0) as process:
        yield process


def test_inputs_that_hung_or_blew_up_now_raise_data_format_error(child):
    outcomes = {path.name: child.read(path.read_bytes(), path.name) for path in BOUNDED}
    assert all(outcome.status == "dfe" for outcome in outcomes.values()), outcomes


@pytest.mark.parametrize("path", CRASHED, ids=[p.name for p in CRASHED])
def test_crasher_never_raises_anything_but_data_format_error(path, child):
    """Read in the child: it may still crash there (scipy's loadmat is not hardened), but never raise another type."""
    outcome = child.read(path.read_bytes(), path.name)
    assert outcome.status in ("crash", "dfe"), outcome


@pytest.mark.parametrize("path", CRASHED, ids=[p.name for p in CRASHED])
def test_crasher_read_in_isolation_raises_data_format_error(path):
    with pytest.raises(DataFormatError) as info:
        gppnmf_core.io.read_dataset_isolated(path.read_bytes(), path.name)
    assert str(info.value).startswith(path.name), str(info.value)


def test_short_fuzz_run_finds_no_exception_other_than_data_format_error(tmp_path):
    """16 s over all readers with a fixed seed; a generous timeout, since the machine may be loaded."""
    results = run(seconds=16.0, seed=20240, save_to=tmp_path, timeout_s=60.0, minimise_budget=10, log=lambda _: None)
    print(format_table(results))
    assert all(stats.tried > 0 for stats in results)
    bugs = [(f.reader, f.outcome) for stats in results for f in stats.findings if f.outcome.status != "crash"]
    assert not bugs, bugs
