import logging

import pytest


class _TracebackRecorder(logging.Handler):
    """Keeps every log record that carries a traceback (an unexpected exception somewhere in the server)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if record.exc_info or "Traceback (most recent call last)" in record.getMessage():
            self.records.append(record)


@pytest.fixture(autouse=True)
def no_traceback_in_the_log():
    """The server's log of the whole suite has no traceback: any test during which one is logged fails."""
    recorder = _TracebackRecorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        yield recorder
    finally:
        root.removeHandler(recorder)
    if recorder.records:
        first = recorder.records[0]
        pytest.fail(f"{len(recorder.records)} traceback(s) logged, the first by {first.name}: {first.getMessage()} "
                    f"({first.exc_info[0].__name__ if first.exc_info else ''})", pytrace=False)
