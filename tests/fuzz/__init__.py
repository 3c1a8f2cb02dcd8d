"""A bounded, reproducible mutation fuzzer of the upload readers (``make fuzz``; see fuzz_readers.py)."""
