"""Readers of uploaded data files, and a NIfTI-MRS writer.

>>> from gppnmf_core.io import read_dataset, ReadOptions
>>> ds = read_dataset(open("csi.nii.gz", "rb").read(), "csi.nii.gz",
...                   ReadOptions(ppm_range=(-20, 10)))  # doctest: +SKIP

A server reads untrusted files with :func:`read_dataset_isolated`: the same
reader in a separate process with memory, CPU and time limits, so a crafted
file that crashes a parser costs one refused upload.

Every problem with a file raises :class:`DataFormatError` (a ``ValueError``)
with a message meant for the person who uploaded it. Decoded sizes are capped
by :data:`MAX_BYTES` (override with the environment variable
``GPPNMF_MAX_DATA_BYTES``).
"""

from .errors import DataFormatError
from .isolated import read_dataset_isolated
from .limits import MAX_BYTES, MAX_BYTES_ENV, max_bytes
from .options import ReadOptions
from .reader import SUPPORTED_FORMATS, list_arrays, read_dataset
from .writer import write_nifti_mrs

__all__ = [
    "DataFormatError", "MAX_BYTES", "MAX_BYTES_ENV", "ReadOptions", "SUPPORTED_FORMATS", "list_arrays", "max_bytes",
    "read_dataset", "read_dataset_isolated", "write_nifti_mrs",
]
