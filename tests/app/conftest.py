"""App tests: a fresh cache directory per test session, set before the app is imported."""

import os
import shutil
import socket
import tempfile

import pytest
from selenium.webdriver.support.ui import WebDriverWait

os.environ["GPPNMF_CACHE_DIR"] = tempfile.mkdtemp(prefix="gppnmf-test-")

HAVE_BROWSER = bool(shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("google-chrome")))


@pytest.fixture
def studio(request):
    """The app started in a real headless Chromium, page loaded and first figures drawn."""
    if not HAVE_BROWSER:
        if os.environ.get("GPPNMF_REQUIRE_BROWSER"):
            pytest.fail("GPPNMF_REQUIRE_BROWSER is set but Chromium/chromedriver are missing")
        pytest.skip("no Chromium/chromedriver installed (.ci/run installs them)")
    from app import app

    dash_duo = request.getfixturevalue("dash_duo")
    dash_duo.start_server(app, port=_free_port())  # never Dash's fixed 8050: another suite may hold it
    dash_duo.wait_for_element("#samples-D .main-svg", timeout=20)
    has_samples = ("const g = document.querySelector('#samples-D .js-plotly-plot');"
                   "return !!(g && g.data && g.data.length);")
    WebDriverWait(dash_duo.driver, 20).until(lambda d: d.execute_script(has_samples), "no prior samples drawn")
    return dash_duo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def second_browser():
    """Another, independent headless Chromium: a second user with a session of their own."""
    if not HAVE_BROWSER:
        pytest.skip("no Chromium/chromedriver installed (.ci/run installs them)")
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1400,900",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options)
    yield driver
    driver.quit()


def pytest_configure(config):
    """Browser tests always run headless (dash[testing]'s ``--headless``, set here and not in the
    project's global pytest options, so the core tests run where dash[testing] is not installed)."""
    if hasattr(config.option, "headless"):
        config.option.headless = True
