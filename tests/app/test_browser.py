"""Real-browser tests of the dashboard in headless Chromium (dash[testing])."""

import time

from page import (
    by_id,
    dom_id,
    figure_y,
    pick_dataset,
    result_columns,
    set_input,
    start_long_run,
    wait,
    wait_for_prior_samples_on,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By


def test_page_loads_with_prior_samples_and_no_errors(studio):
    assert studio.find_element("h1").text == "GPP-NMF Studio"
    assert figure_y(studio, "samples-D")
    assert figure_y(studio, "samples-H")
    studio.wait_for_element("#simulated-data .main-svg")
    buttons = studio.driver.execute_script(
        "return Array.from(document.querySelectorAll('.modebar-btn')).map(b => b.getAttribute('data-title'));")
    assert buttons and not [b for b in buttons if "Share" in (b or "") or "Chart Studio" in (b or "")]
    assert studio.get_logs() == []


def test_moving_the_length_scale_slider_redraws_the_prior_samples(studio):
    before = figure_y(studio, "samples-D")
    box_id = dom_id(factor="D", name="beta", type="param-input")
    assert by_id(studio, box_id).get_attribute("value") == "10"
    slider = by_id(studio, dom_id(factor="D", name="beta", type="param-slider"))
    track = slider.find_element(By.CSS_SELECTOR, ".dash-slider-track")
    studio.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", track)
    # From the centre (β = 10) a third of the track to the left: a shorter length scale.
    ActionChains(studio.driver).move_to_element(track).move_by_offset(-track.size["width"] // 3, 0).click().perform()
    wait(studio.driver, lambda: figure_y(studio, "samples-D") != before, message="samples did not change")
    new_beta = float(by_id(studio, box_id).get_attribute("value"))
    assert new_beta < 10  # moved left on a log scale: shorter length scale
    assert f"{new_beta:.3g}" == by_id(studio, box_id).get_attribute("value")


def test_csi_phantom_runs_all_three_methods_and_shows_the_results(studio):
    pick_dataset(studio, "31P")
    studio.wait_for_contains_text("#dataset-heatmap", "397 × 512", timeout=20)
    studio.wait_for_contains_text("#preset-picker", "paper", timeout=20)
    wait_for_prior_samples_on(studio.driver, "chemical shift")  # the prior spec is the CSI one
    start = time.perf_counter()
    studio.find_element("#run-button").click()
    wait(studio.driver, lambda: result_columns(studio.driver) == 3,
          timeout=60, message="three result columns did not appear")
    studio.wait_for_element("#rmse-chart .main-svg", timeout=20)
    elapsed = time.perf_counter() - start
    print(f"\nCSI phantom: Run to all three results on the page: {elapsed:.2f} s")
    for method in ("gppnmf", "cnmf", "ls_nmf"):
        maps = by_id(studio, dom_id(method=method, type="result-maps"))
        assert "axial slice" not in maps.text  # the slice selector is outside; the maps are drawn
        assert maps.find_elements(By.CSS_SELECTOR, ".main-svg")
    bars = studio.driver.execute_script(
        "return document.querySelector('#rmse-chart .js-plotly-plot').data.map(t => t.name);")
    assert bars == ["GPP-NMF", "CNMF", "LS-NMF"]
    assert studio.find_element("#run-button").is_enabled()
    assert studio.find_element("#job-message").text == ""


def test_cancel_stops_a_long_run_and_frees_the_run_button(studio):
    start_long_run(studio)
    assert not studio.find_element("#run-button").is_enabled()
    studio.find_element("#cancel-button").click()
    cancelled_at = time.perf_counter()
    wait(studio.driver, lambda: studio.find_element("#run-button").is_enabled(), timeout=10,
          message="Run did not come back after Cancel")
    print(f"\nCancel to Run enabled again: {time.perf_counter() - cancelled_at:.2f} s")
    assert "Cancelled" in studio.find_element("#job-message").text
    if studio.driver.find_elements(By.CSS_SELECTOR, "#results-columns .method-column"):
        # a method that finished before Cancel stays, and the page says the run was cut short
        studio.wait_for_contains_text("#results-provenance", "partial: cancelled during", timeout=10)


def test_bad_settings_give_messages_and_the_app_keeps_working(studio):
    box = dom_id(factor="H", name="beta", type="param-input")
    beside = dom_id(factor="H", name="beta", type="param-message")
    set_input(studio, box, 0)
    wait(studio.driver, lambda: "β of H must be a positive number" in by_id(studio, beside).text, timeout=10,
         message="no message beside the box")
    container = by_id(studio, box).find_element(By.XPATH, "..")  # dcc.Input's className sits on its container
    assert "invalid" in container.get_attribute("class") and by_id(studio, box).get_attribute("value") == "0"
    studio.find_element("#run-button").click()  # Run waits: it never fits the last valid β while the box shows 0
    studio.wait_for_contains_text("#job-message", "prior settings", timeout=30)
    set_input(studio, box, "1,5")  # a decimal comma is read as 1.5, never as 15
    wait(studio.driver, lambda: studio.find_element("#prior-message").text == "", timeout=10)
    assert "invalid" not in by_id(studio, box).find_element(By.XPATH, "..").get_attribute("class")
    slider = by_id(studio, dom_id(factor="H", name="beta", type="param-slider"))
    wait(studio.driver, lambda: abs(float(slider.find_element(By.CSS_SELECTOR, "[role=slider]")
                                          .get_attribute("aria-valuenow")) - 0.176) < 0.01, timeout=10,
         message="the slider did not move to log10(1.5)")
    set_input(studio, box, 10)
    set_input(studio, "rank-input", 500)
    studio.find_element("#run-button").click()
    studio.wait_for_contains_text("#job-message", "rank must be a whole number from 1 to 20", timeout=30)
    set_input(studio, "rank-input", 2)
    studio.find_element("#run-button").click()
    wait(studio.driver, lambda: result_columns(studio.driver) == 3,
          timeout=60, message="the app did not recover from bad settings")
    assert studio.get_logs() == []
