"""A reader process that dies the way a parser bug kills it (a null-pointer read: SIGSEGV), for isolation tests.

Used in place of ``python -m gppnmf_core.io.worker`` (``gppnmf_core.io.isolated.WORKER_ARGV``): it takes the
same limits and the same request, then crashes instead of reading the file.
"""

import ctypes
import sys

from gppnmf_core.io import worker


def crash(data, filename, options):
    ctypes.string_at(0)  # reads address 0: the kernel kills the process


if __name__ == "__main__":
    sys.exit(worker.main(read=crash))
