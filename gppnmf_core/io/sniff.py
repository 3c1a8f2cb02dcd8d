"""What a file is: its extension, and what its first bytes say it contains.

Each reader checks that the content matches the extension before parsing, so
that a misnamed file gets a message such as ``"data.npy is not a NumPy .npy
file (it looks like a ZIP archive; rename it .npz?)"`` instead of a parser error.
"""

from __future__ import annotations

import struct

from .errors import DataFormatError

__all__ = [
    "SUPPORTED_EXTENSIONS", "extension_of", "describe_content", "wrong_content", "nifti_version",
    "is_text", "looks_like_jmrui_text", "VENDOR_EXTENSIONS", "NPY_MAGIC", "ZIP_MAGIC", "GZIP_MAGIC", "HDF5_MAGIC",
    "MAT73_TEXT", "RDA_TEXT", "DICOM_MAGIC", "UNKNOWN_BINARY",
]

#: Vendor and MRS-software formats that go through the spec2nii converter (see :mod:`.vendor`): Siemens RDA and
#: DICOM, Philips SPAR/SDAT (a pair, uploaded as a .zip), GE P-files, jMRUI .mrui, LCModel .RAW/.H2O.
VENDOR_EXTENSIONS = (".rda", ".ima", ".dcm", ".spar", ".sdat", ".7", ".zip", ".mrui", ".raw", ".h2o")

#: Extensions read_dataset understands, longest first where one ends another.
SUPPORTED_EXTENSIONS = (".nii.gz", ".nii", ".npy", ".npz", ".csv", ".tsv", ".txt", ".mat") + VENDOR_EXTENSIONS

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAT73_TEXT = b"MATLAB 7.3 MAT-file"
RDA_TEXT = b">>> Begin of header <<<"
#: A DICOM file has these four bytes after a 128-byte preamble.
DICOM_MAGIC = b"DICM"
UNKNOWN_BINARY = "binary data of an unknown kind"

_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"%PDF", "a PDF document"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)


def extension_of(filename: str) -> str | None:
    """The supported extension ``filename`` ends with (lower case), or None."""
    lower = filename.lower()
    for ext in SUPPORTED_EXTENSIONS:
        if lower.endswith(ext):
            return ext
    return None


def nifti_version(data) -> tuple[int, str] | None:
    """``(1 or 2, byte order)`` when ``data`` starts with a single-file or pair NIfTI header, else None."""
    if len(data) < 348:
        return None
    for order in ("<", ">"):
        (size,) = struct.unpack(order + "i", bytes(data[:4]))
        if size == 348 and bytes(data[344:347]) in (b"n+1", b"ni1"):
            return 1, order
        if size == 540 and len(data) >= 540 and bytes(data[4:7]) in (b"n+2", b"ni2"):
            return 2, order
    return None


def is_text(data, sample_size: int = 65536) -> bool:
    """Whether ``data`` looks like text: no NUL bytes and no control characters but tab, CR, LF, FF."""
    sample = bytes(data[:sample_size])
    if not sample:
        return False
    controls = bytes(range(32)).replace(b"\t", b"").replace(b"\n", b"").replace(b"\r", b"").replace(b"\x0c", b"")
    return not any(c in controls for c in sample) and b"\x7f" not in sample


def looks_like_jmrui_text(data) -> bool:
    """Whether ``data`` is a jMRUI text export: its first line or its header names jMRUI's keys.

    jMRUI writes ``jMRUI Data Textfile`` on the first line, then ``Key: value``
    lines (``PointsInDataset``, ``SamplingInterval``, ``TransmitterFrequency`` ...)
    and ``Signal 1 out of N in file`` before the numbers.
    """
    head = bytes(data[:4096]).lstrip(b"\xef\xbb\xbf").lower()
    if head.lstrip().startswith(b"jmrui"):
        return True
    return b"pointsindataset:" in head and b"samplinginterval:" in head


def describe_content(data) -> tuple[str, str | None]:
    """What the first bytes of ``data`` look like, and the extension such content should have.

    Returns
    -------
    description : str
        E.g. ``"a ZIP archive"``, ``"text"``, ``"a PNG image"``.
    extension : str or None
        The supported extension for this content, if any (``".npz"`` for a ZIP archive).
    """
    head = bytes(data[:1024])
    if not head:
        return "an empty file", None
    if head.startswith(NPY_MAGIC):
        return "a NumPy .npy file", ".npy"
    if head.startswith(ZIP_MAGIC):
        if b"[Content_Types].xml" in head or b"xl/" in head or b"word/" in head:
            return "an Excel or other Office document (a ZIP archive)", None
        return "a ZIP archive", ".npz"
    if head.startswith(GZIP_MAGIC):
        return "gzip-compressed data", ".nii.gz"
    if nifti_version(data) is not None:
        return "an uncompressed NIfTI file", ".nii"
    if head.startswith(MAT73_TEXT):
        return "a MATLAB v7.3 MAT-file", ".mat"
    if head.startswith(b"MATLAB"):
        return "a MATLAB MAT-file", ".mat"
    if head.startswith(HDF5_MAGIC):
        return "an HDF5 file", None
    if head.startswith(RDA_TEXT):
        return "a Siemens RDA file", ".rda"
    if head[128:132] == DICOM_MAGIC:
        return "a DICOM file", ".dcm"
    for magic, what in _IMAGES:
        if head.startswith(magic):
            return what, None
    if is_text(data):
        return "text", ".csv"
    return UNKNOWN_BINARY, None


def wrong_content(filename: str, expected: str, data) -> DataFormatError:
    """The error for a file whose content does not match its extension.

    Parameters
    ----------
    filename : str
        The file's name.
    expected : str
        What the extension promised, e.g. ``"a NumPy .npy file"``.
    data : bytes-like
        The file's content.
    """
    what, ext = describe_content(data)
    hint = ""
    if ext is not None and not filename.lower().endswith(ext):
        hint = f"; rename it {ext}?"
    return DataFormatError(f"{filename} is not {expected} (it looks like {what}{hint})")
