"""Fixtures for tests against real services: Redis, a Celery worker and gunicorn on loopback.

Skipped (with the reason) when ``redis-server``, the Python packages celery, redis and gunicorn, or
Chromium is missing, unless
``GPPNMF_REQUIRE_SERVICES`` (or, for the browser, ``GPPNMF_REQUIRE_BROWSER``) is
set: then a missing piece fails the tests instead.
"""

import os

import pytest

from tests.services.stack import Stack, StackError, chrome, have_browser, have_redis, missing_packages, open_page


def _missing(what: str, variable: str, hint: str) -> None:
    if os.environ.get(variable):
        pytest.fail(f"{variable} is set but {what} is missing ({hint})")
    pytest.skip(f"{what} is not installed ({hint}); set {variable}=1 to make this a failure")


def redis_of_its_own(tmp_path_factory, name: str):
    """Yield the URL of a redis-server of the caller's own (loopback, with a password); stop it afterwards.

    For a module-scoped fixture: ``yield from redis_of_its_own(tmp_path_factory, "name")``.
    """
    if not have_redis():
        _missing("redis-server", "GPPNMF_REQUIRE_SERVICES", "apt-get install redis-server")
    if "redis" in missing_packages():
        _missing("the Python package redis", "GPPNMF_REQUIRE_SERVICES", "pip install redis")
    stack = Stack(tmp_path_factory.mktemp(name), backend="celery")
    try:
        stack.start_redis()
    except StackError as exc:
        stack.stop()
        pytest.fail(f"redis-server did not start: {exc}")
    try:
        yield stack.redis_url
    finally:
        problems = stack.stop()
        assert not problems, problems


def _need_browser() -> None:
    if not have_browser():
        _missing("Chromium/chromedriver", "GPPNMF_REQUIRE_BROWSER", "apt-get install chromium chromium-driver")


@pytest.fixture(scope="session")
def celery_stack(tmp_path_factory):
    """Redis + one Celery worker (prefork, concurrency 2) + ``gunicorn -w 2 app:server``, all on 127.0.0.1.

    Yields the started :class:`Stack` (``base_url``, ``services``, Celery inspection).
    Teardown stops every process group and fails if a process or a port is left.
    """
    if not have_redis():
        _missing("redis-server", "GPPNMF_REQUIRE_SERVICES", "apt-get install redis-server")
    if missing_packages():
        _missing(f"Python package(s) {', '.join(missing_packages())}", "GPPNMF_REQUIRE_SERVICES",
                 "pip install celery redis gunicorn")
    _need_browser()  # every test here drives a browser: start no services for tests that would skip anyway
    stack = Stack(tmp_path_factory.mktemp("scale-out"), backend="celery")
    try:
        stack.start()
    except StackError as exc:
        pytest.fail(f"the Celery stack did not start: {exc}")
    try:
        yield stack
    finally:
        problems = stack.stop()
        assert not problems, f"left running after teardown: {problems}"


@pytest.fixture
def browser(request):
    """A headless Chromium on the gunicorn URL, page loaded and prior samples drawn; a fresh session each test."""
    _need_browser()
    celery_stack = request.getfixturevalue("celery_stack")
    driver = chrome()
    try:
        open_page(driver, celery_stack.base_url)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def batch_workers(tmp_path_factory):
    """Redis (with a password) and two Celery workers of the app (``app:celery_app``, concurrency 1 each).

    No web server and no browser: ``gppnmf batch`` talks to the workers through Redis only. The workers
    read ``--shared-fs`` paths below ``stack.shared_root`` (``GPPNMF_BATCH_SHARED_ROOT``).
    """
    if not have_redis():
        _missing("redis-server", "GPPNMF_REQUIRE_SERVICES", "apt-get install redis-server")
    if missing_packages():
        _missing(f"Python package(s) {', '.join(missing_packages())}", "GPPNMF_REQUIRE_SERVICES",
                 "pip install celery redis")
    workdir = tmp_path_factory.mktemp("batch-stack")
    shared_root = workdir / "shared"
    shared_root.mkdir()
    stack = Stack(workdir, backend="celery", env={"GPPNMF_BATCH_SHARED_ROOT": str(shared_root)})
    stack.shared_root = shared_root
    try:
        stack.start_redis()
        stack.start_worker(name="worker1", concurrency=1)
        stack.start_worker(name="worker2", concurrency=1)
    except StackError as exc:
        stack.stop()
        pytest.fail(f"Redis and the Celery workers did not start: {exc}")
    try:
        yield stack
    finally:
        problems = stack.stop()
        assert not problems, f"left running after teardown: {problems}"
