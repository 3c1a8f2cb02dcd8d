"""The one exception type the readers raise for a file they cannot use."""

from __future__ import annotations

__all__ = ["DataFormatError"]


class DataFormatError(ValueError):
    """A file could not be read as a data set.

    The message is written for the scientist who uploaded the file: it names
    the file, says what is wrong with it and, where it helps, what to do, e.g.
    ``"spectra.csv: row 3 has 511 values but row 1 has 512"``. Every problem
    with a file's content is reported with this type; errors from numpy,
    nibabel, zipfile, zlib or scipy never leak through the readers.
    """
