"""Every file of the bad-file corpus (tests/bad_files.py) raises DataFormatError with a specific message.

No test here asserts on time (the suite must pass on a loaded machine); how long reads take is bounded
from outside by the fuzzer (tests/fuzz), whose child process times out reads after 5 s.
"""

import io
import re

import numpy as np
import pytest
from bad_files import CASES, pickled_npy

from gppnmf_core.io import DataFormatError, read_dataset


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 25
    assert len({func.__name__ for func in CASES}) == len(CASES)


@pytest.mark.parametrize("make_case", CASES, ids=[func.__name__ for func in CASES])
def test_bad_file_raises_a_clear_data_format_error(make_case, tmp_path, monkeypatch):
    bad = make_case(tmp_path)
    for key, value in (bad.env or {}).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(DataFormatError) as info:
        read_dataset(bad.data, bad.filename, bad.options)
    assert type(info.value) is DataFormatError
    message = str(info.value)
    assert re.search(bad.match, message), f"message {message!r} does not match {bad.match!r}"
    assert message.startswith(bad.filename), message
    if bad.marker is not None:
        assert not bad.marker.exists(), "the pickle payload ran"


def test_the_pickle_payload_is_real(tmp_path):
    """Sanity check of the corpus: unpickling the payload (which the reader never does) creates the marker."""
    bad = pickled_npy(tmp_path)
    assert not bad.marker.exists()
    np.load(io.BytesIO(bad.data), allow_pickle=True)
    assert bad.marker.exists()
