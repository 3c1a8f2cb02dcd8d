"""Read a delimited text table (.csv, .tsv, .txt) with messages that point at rows and columns.

Rules (rows and columns are counted from 1, as in a text editor or a spreadsheet;
a "row" is a line of the file):

* Encoding UTF-8 (a byte-order mark is ignored), else Latin-1. Blank lines and
  lines starting with ``#`` are skipped.
* Delimiter: the first of tab, semicolon, comma found in the first line;
  otherwise runs of whitespace. A delimiter at the end of every line is ignored.
* Header: the first line is a header when one of its cells is not a number.
  Every other line must hold numbers only; empty cells, text, complex numbers
  (``1+2j``) and rows of different lengths are errors naming the row and column.
* Axis column: the first column holds the feature axis (e.g. ppm) when there
  is a header, the rows are the features (orientation not "observations_first"),
  the column is strictly increasing or decreasing, and either the header's
  first cell is empty or names an axis (ppm, Hz, frequency, shift, time, ...)
  or there are at least 8 rows (noise is almost never monotonic over 8 points).
  Without a header row the first column is always data.
* Two columns and no axis column are, for ``read_dataset`` with ``kind``
  "auto" or "fid", the real and imaginary parts of one FID.
* jMRUI text exports (a ``jMRUI Data Textfile`` header) are not tables:
  ``read_dataset`` sends them to spec2nii's jMRUI reader (:mod:`.vendor`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .errors import DataFormatError
from .limits import check_budget
from .sniff import is_text, wrong_content

__all__ = ["TextTable", "read_text", "count_cells", "MAX_TEXT_CELLS"]

_DELIMITERS = (("\t", "tab"), (";", "semicolon"), (",", "comma"))
_AXIS_WORDS = ("ppm", "hz", "freq", "shift", "time", "wavelength", "wavenumber", "nm", "index", "axis", "delta",
               "δ", "x", "t", "s", "h", "min", "point", "channel")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
_COMPLEX = re.compile(r"^[+-]?[\d.eE+-]*[+-][\d.eE]*[ij]$|^[+-]?[\d.eE]*[ij]$|^\(.*[ij]\)$")
_UNIT = re.compile(r"^(.*?)\s*[\(\[]\s*([^\)\]]*)\s*[\)\]]\s*$")
_MIN_ROWS_FOR_AXIS = 8
#: Most cells a text table may have. Parsing text costs about 1 µs and 100 bytes of Python objects per cell,
#: so a 64 MiB file of tiny cells ("1,2\n" ...) would take half a minute and gigabytes; larger data go in .npy/.npz.
MAX_TEXT_CELLS = 4_000_000
#: Bytes that end a cell or a line (str.splitlines breaks lines at several of them, and at U+0085, U+2028/9).
_BREAKS = np.frombuffer(b"\n\r\x0b\x0c\x1c\x1d\x1e\t,;\x85\xa8\xa9", dtype=np.uint8)
_COUNT_CHUNK = 1 << 23


@dataclass
class TextTable:
    """A parsed text table.

    Attributes
    ----------
    values : ndarray of shape (n_rows, n_cols)
        The numbers, float64 (axis column removed).
    header : list of str or None
        The header cells, when the first line is a header.
    axis_values : ndarray of shape (n_rows,) or None
        The first column when it was taken as the feature axis.
    axis_label, axis_unit : str
        What the axis column is, from its header cell.
    notes : list of str
        Sentences for the data set's description.
    """

    values: np.ndarray
    header: list[str] | None = None
    axis_values: np.ndarray | None = None
    axis_label: str = ""
    axis_unit: str = ""
    notes: list[str] = field(default_factory=list)


def _decode(data) -> str:
    raw = bytes(data)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def count_cells(data) -> int:
    """An upper bound of the cells and lines of a text table, counted on the bytes without parsing them.

    Every delimiter or line-break byte counts, and every run of spaces; so the
    count is at least the number of cells (and of lines) that parsing would create.
    """
    array = np.frombuffer(data, dtype=np.uint8)
    count = 1
    for start in range(0, array.size, _COUNT_CHUNK):
        chunk = array[start:start + _COUNT_CHUNK]
        space = chunk == 32
        count += int(np.count_nonzero(np.isin(chunk, _BREAKS))) + int(space[0])
        count += int(np.count_nonzero(space[1:] & ~space[:-1]))
    return count


def _check_cells(data, filename: str) -> None:
    cells = count_cells(data)
    if cells > MAX_TEXT_CELLS:
        raise DataFormatError(
            f"{filename} has up to {cells:,} cells or lines, more than the {MAX_TEXT_CELLS:,} a text table may "
            f"have (reading text is slow); save large data as .npy or .npz instead"
        )


def _splitter(first_line: str):
    for char, name in _DELIMITERS:
        if char in first_line:
            return (lambda line, c=char: [cell.strip().strip('"').strip() for cell in line.split(c)]), name
    return str.split, "whitespace"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _cell_error(filename: str, row: int, col: int, cell: str, delimiter: str) -> DataFormatError:
    where = f"{filename}: row {row}, column {col}"
    if cell == "":
        return DataFormatError(f"{where} is empty (a missing value); fill it in or remove the row")
    if _COMPLEX.match(cell.replace(" ", "")) and not _is_number(cell):
        return DataFormatError(
            f"{where}: {cell!r} is a complex number, but text files must hold real spectra, or a complex FID as "
            f"two columns (real part, imaginary part); or save complex FIDs as .npy, .npz, .mat or NIfTI-MRS"
        )
    if delimiter == "semicolon" and _DECIMAL_COMMA.match(cell):
        return DataFormatError(f"{where}: {cell!r} is not a number (decimal commas are not supported; use points)")
    shown = cell if len(cell) <= 40 else cell[:37] + "..."
    return DataFormatError(f"{where}: {shown!r} is not a number")


def _axis_name(name: str) -> tuple[str, str]:
    """``"chemical shift (ppm)"`` -> ``("chemical shift", "ppm")``; ``"ppm"`` -> ``("chemical shift", "ppm")``."""
    name = name.strip()
    match = _UNIT.match(name)
    label, unit = (match.group(1).strip(), match.group(2).strip()) if match else (name, "")
    if "ppm" in (label.lower(), unit.lower()):
        return "chemical shift", "ppm"
    if label.lower() in ("hz", "frequency", "freq") and unit in ("", "Hz", "hz"):
        return "frequency", "Hz"
    return label or "axis", unit


def _looks_like_axis_name(name: str) -> bool:
    words = re.findall(r"[a-zA-Zδ]+", name.lower())
    return not name.strip() or any(w in _AXIS_WORDS for w in words)


def _strictly_monotonic(column: np.ndarray) -> bool:
    d = np.diff(column)
    return bool(column.size >= 2 and np.all(np.isfinite(column)) and (np.all(d > 0) or np.all(d < 0)))


def read_text(data, filename: str, rows_are_features: bool = True) -> TextTable:
    """Parse a delimited text table of numbers (see the module docstring for the rules).

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Name used in messages.
    rows_are_features : bool
        False when the caller knows each row is an observation; then the
        first column is never taken as a feature axis.

    Returns
    -------
    TextTable
    """
    if len(data) == 0:
        raise DataFormatError(f"{filename} is empty (0 bytes)")
    if not is_text(data):
        raise wrong_content(filename, "a text table", data)
    _check_cells(data, filename)
    text = _decode(data)
    lines = [(i + 1, line) for i, line in enumerate(text.splitlines())
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise DataFormatError(f"{filename} is empty: it has no rows of numbers")
    split, delimiter = _splitter(lines[0][1])
    # Some exporters end every line with the delimiter; that last empty cell is not a value.
    trailing = delimiter != "whitespace" and split(lines[0][1])[-1] == ""

    def cells_of(line: str) -> list[str]:
        cells = split(line)
        if trailing and cells and cells[-1] == "":
            cells.pop()
        return cells

    header = None
    first_cells = cells_of(lines[0][1])
    # A first row is a header when it has a word in it, not merely a malformed number.
    numberlike = any(_COMPLEX.match(c.replace(" ", "")) or _DECIMAL_COMMA.match(c) for c in first_cells if c)
    if not all(_is_number(c) for c in first_cells) and not numberlike:
        header, header_row = first_cells, lines[0][0]
        lines = lines[1:]
    if not lines:
        raise DataFormatError(f"{filename} has a header row but no rows of numbers")
    n_cols = len(cells_of(lines[0][1]))
    first_row = lines[0][0]
    check_budget(8 * n_cols * len(lines), filename, f"its {len(lines)} rows × {n_cols} columns would take")
    values = np.empty((len(lines), n_cols), dtype=np.float64)
    for i, (row, line) in enumerate(lines):
        cells = cells_of(line)
        if len(cells) != n_cols:
            raise DataFormatError(f"{filename}: row {row} has {len(cells)} values but row {first_row} has {n_cols}")
        try:
            values[i] = [float(c) for c in cells]
        except ValueError:
            for j, cell in enumerate(cells):
                if not _is_number(cell):
                    raise _cell_error(filename, row, j + 1, cell, delimiter) from None
            raise
    if header is not None and len(header) != n_cols:
        raise DataFormatError(f"{filename}: the header (row {header_row}) has {len(header)} names but the rows "
                              f"below it have {n_cols} values")
    bad = ~np.isfinite(values)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DataFormatError(
            f"{filename} contains {int(bad.sum())} NaN or Inf value(s), the first at row {lines[i][0]}, "
            f"column {j + 1}; replace missing values before uploading"
        )
    table = TextTable(values=values, header=header)
    table.notes.append(f"Text table, {delimiter}-separated, {len(lines)} rows × {n_cols} columns"
                       + (" under a header row." if header is not None else " (no header row)."))
    if n_cols >= 2 and rows_are_features:
        column = values[:, 0]
        if header is not None and _strictly_monotonic(column) and (
                _looks_like_axis_name(header[0]) or len(column) >= _MIN_ROWS_FOR_AXIS):
            table.axis_values = column.copy()
            table.axis_label, table.axis_unit = _axis_name(header[0])
            table.values = values[:, 1:]
            shown = f"'{header[0]}'" if header[0].strip() else "(unnamed)"
            table.notes.append(f"The first column {shown} is strictly monotonic and was taken as the feature axis.")
        elif header is None and _strictly_monotonic(column) and len(column) >= _MIN_ROWS_FOR_AXIS:
            table.notes.append("The first column is strictly monotonic but was read as data because the file has "
                               "no header row; to use it as the axis, add a header such as 'ppm,...'.")
    return table
