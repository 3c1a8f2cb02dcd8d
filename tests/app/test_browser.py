"""Real-browser tests of the dashboard in headless Chromium (dash[testing])."""

import json
import time

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def _dom_id(**pattern) -> str:
    """The DOM id Dash gives a pattern-matching component id."""
    return json.dumps(pattern, sort_keys=True, separators=(",", ":"))


def _by_id(dash_duo, element_id: str):
    """Find by DOM id; XPath, because Selenium's By.ID does not escape the quotes in pattern ids."""
    return dash_duo.driver.find_element(By.XPATH, f"//*[@id='{element_id}']")


def _figure_y(dash_duo, graph_id: str):
    """The y data of every trace, serialised (plotly ships numpy arrays base64-encoded)."""
    return dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return g && g.data && g.data.length ? g.data.map(t => JSON.stringify(t.y)) : null;"
    )


def _wait(dash_duo, condition, timeout=20, message=""):
    WebDriverWait(dash_duo.driver, timeout).until(lambda _: condition(), message)


def _set_input(dash_duo, element_id: str, value) -> None:
    box = _by_id(dash_duo, element_id)
    box.clear()
    box.send_keys(str(value))
    box.send_keys("\n")  # debounced inputs commit on Enter


def _pick_dataset(dash_duo, title_fragment: str) -> None:
    dash_duo.find_element("#dataset-picker").click()
    option = dash_duo.driver.find_element(By.XPATH, f"//*[@role='option'][contains(., '{title_fragment}')]")
    option.click()


def test_page_loads_with_prior_samples_and_no_errors(studio):
    assert studio.find_element("h1").text == "GPP-NMF Studio"
    assert _figure_y(studio, "samples-D")
    assert _figure_y(studio, "samples-H")
    studio.wait_for_element("#simulated-data .main-svg")
    assert studio.get_logs() == []


def test_moving_the_length_scale_slider_redraws_the_prior_samples(studio):
    before = _figure_y(studio, "samples-D")
    box_id = _dom_id(factor="D", name="beta", type="param-input")
    assert _by_id(studio, box_id).get_attribute("value") == "10"
    slider = _by_id(studio, _dom_id(factor="D", name="beta", type="param-slider"))
    track = slider.find_element(By.CSS_SELECTOR, ".dash-slider-track")
    studio.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", track)
    # From the centre (β = 10) a third of the track to the left: a shorter length scale.
    ActionChains(studio.driver).move_to_element(track).move_by_offset(-track.size["width"] // 3, 0).click().perform()
    _wait(studio, lambda: _figure_y(studio, "samples-D") != before, message="samples did not change")
    new_beta = float(_by_id(studio, box_id).get_attribute("value"))
    assert new_beta < 10  # moved left on a log scale: shorter length scale
    assert f"{new_beta:.3g}" == _by_id(studio, box_id).get_attribute("value")


def test_csi_phantom_runs_all_three_methods_and_shows_the_results(studio):
    _pick_dataset(studio, "31P")
    studio.wait_for_contains_text("#dataset-heatmap", "397 × 512", timeout=20)
    studio.wait_for_contains_text("#preset-picker", "paper", timeout=20)
    time.sleep(0.5)  # let the preset's controls settle into the prior spec
    start = time.perf_counter()
    studio.find_element("#run-button").click()
    _wait(studio, lambda: len(studio.driver.find_elements(By.CSS_SELECTOR, "#results-columns .method-column")) == 3,
          timeout=60, message="three result columns did not appear")
    studio.wait_for_element("#rmse-chart .main-svg", timeout=20)
    elapsed = time.perf_counter() - start
    print(f"\nCSI phantom: Run to all three results on the page: {elapsed:.2f} s")
    for method in ("gppnmf", "cnmf", "ls_nmf"):
        maps = _by_id(studio, _dom_id(method=method, type="result-maps"))
        assert "axial slice" not in maps.text  # the slice selector is outside; the maps are drawn
        assert maps.find_elements(By.CSS_SELECTOR, ".main-svg")
    bars = studio.driver.execute_script(
        "return document.querySelector('#rmse-chart .js-plotly-plot').data.map(t => t.name);")
    assert bars == ["GPP-NMF", "CNMF", "LS-NMF"]
    assert studio.find_element("#run-button").is_enabled()
    assert studio.find_element("#job-message").text == ""


def test_cancel_stops_a_long_run_and_frees_the_run_button(studio):
    _set_input(studio, "iter-input", 1000000)
    _set_input(studio, "tol-input", 0)
    _set_input(studio, "replicates-input", 20)
    studio.find_element("#run-button").click()
    studio.wait_for_contains_text("#job-status", "CNMF", timeout=30)
    assert not studio.find_element("#run-button").is_enabled()
    studio.find_element("#cancel-button").click()
    cancelled_at = time.perf_counter()
    _wait(studio, lambda: studio.find_element("#run-button").is_enabled(), timeout=10,
          message="Run did not come back after Cancel")
    print(f"\nCancel to Run enabled again: {time.perf_counter() - cancelled_at:.2f} s")
    assert "Cancelled" in studio.find_element("#job-message").text
    assert not studio.driver.find_elements(By.CSS_SELECTOR, "#results-columns .method-column")


def test_bad_settings_give_messages_and_the_app_keeps_working(studio):
    _set_input(studio, _dom_id(factor="H", name="beta", type="param-input"), 0)
    studio.wait_for_contains_text("#prior-message", "beta must be a positive", timeout=10)
    _set_input(studio, _dom_id(factor="H", name="beta", type="param-input"), 10)
    _wait(studio, lambda: studio.find_element("#prior-message").text == "", timeout=10)
    _set_input(studio, "rank-input", 500)
    studio.find_element("#run-button").click()
    studio.wait_for_contains_text("#job-message", "rank must be a whole number from 1 to 20", timeout=30)
    _set_input(studio, "rank-input", 2)
    studio.find_element("#run-button").click()
    _wait(studio, lambda: len(studio.driver.find_elements(By.CSS_SELECTOR, "#results-columns .method-column")) == 3,
          timeout=60, message="the app did not recover from bad settings")
    assert studio.get_logs() == []
