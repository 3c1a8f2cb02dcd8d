"""The suite's own guard: a test during which a traceback is logged fails."""

from pathlib import Path

pytest_plugins = ["pytester"]


def test_a_logged_traceback_fails_the_test(pytester):
    pytester.makeconftest(Path(__file__).with_name("conftest.py").read_text())
    pytester.makepyfile("""
        import logging

        def test_quiet():
            logging.getLogger("app").warning("a refused input, one line")

        def test_noisy():
            try:
                {}["missing"]
            except KeyError:
                logging.getLogger("app").exception("callback failed")
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)  # the noisy test errors in its teardown
    result.stdout.fnmatch_lines(["*1 traceback(s) logged, the first by app: callback failed (KeyError)*"])
