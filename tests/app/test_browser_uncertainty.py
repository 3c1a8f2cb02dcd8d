"""How sure?, Suggest settings and Estimate σ² in a real browser (headless Chromium), on the toy.

Each waits for what the page says, never for a fixed time; the time-outs are generous because a loaded
2-core machine samples slowly (they bound a hang, they do not assert a speed).
"""

import re

from page import box_value, by_id, dom_id, pick_preset, run_to_results, untick, wait
from test_accessibility import axe_violations, blocking, report

from components.jobs import posterior_job

#: Sampling and cross-validation take minutes on a loaded 2-core machine: bound a hang, not a speed.
JOB_S = 420


def test_how_sure_after_a_run_shows_bands_with_rhat_and_ess(studio):
    run_to_results(studio)
    studio.find_element("#how-sure-start").click()
    studio.wait_for_contains_text("#how-sure-diagnostics", "R̂ max", timeout=JOB_S)
    text = studio.find_element("#how-sure-diagnostics").text
    assert re.search(r"R̂ max \d\.\d{3}", text) and re.search(r"bulk ESS min \d+", text)
    draws = int(re.search(r"2 chains × (\d+) draws", text).group(1))
    assert posterior_job.N_DRAWS <= draws <= posterior_job.MAX_DRAWS  # more only while R̂ or ESS missed
    studio.wait_for_element("#posterior-bands .main-svg", timeout=20)
    names = studio.driver.execute_script(
        "return document.querySelector('#posterior-bands .js-plotly-plot').data.map(t => t.name);")
    assert sum(1 for n in names if n.endswith("(median, 90 % band)")) == 2
    assert studio.find_element("#how-sure-source").text.startswith("From run #1: GPP-NMF, rank 2")
    studio.wait_for_element("#posterior-maps .main-svg", timeout=20)
    assert studio.find_element("#how-sure-start").is_enabled() and studio.find_element("#run-button").is_enabled()
    assert studio.get_logs() == []
    assert not blocking(axe_violations(studio)), report(blocking(axe_violations(studio)))


def test_cancel_stops_a_sampling_job_and_the_page_comes_back(studio, monkeypatch):
    monkeypatch.setattr(posterior_job, "N_DRAWS", 10**6)  # the web server builds the request: it runs for hours
    run_to_results(studio)
    studio.find_element("#how-sure-start").click()
    studio.wait_for_contains_text("#how-sure-status", "sampling", timeout=JOB_S)
    assert not studio.find_element("#how-sure-start").is_enabled()
    studio.find_element("#how-sure-cancel").click()
    wait(studio.driver, lambda: studio.find_element("#how-sure-start").is_enabled(), timeout=30,
         message="How sure? did not come back after Cancel")
    studio.wait_for_contains_text("#how-sure-message", "Cancelled", timeout=10)
    assert not studio.find_element("#how-sure-cancel").is_enabled()
    assert studio.find_element("#how-sure-diagnostics").text == ""  # a cancelled sampling job keeps nothing
    run_to_results(studio)  # the session's job slot is free again


def test_suggest_settings_prefers_the_correct_preset_and_apply_sets_the_controls(studio):
    pick_preset(studio, "incorrect")
    wait(studio.driver, lambda: box_value(studio, "D", "beta") == "3.16", timeout=20,
         message="the incorrect preset's β of D did not arrive")
    untick(studio, "suggest-families", "ranks around")
    untick(studio, "suggest-families", "β of each factor")
    studio.find_element("#suggest-start").click()
    studio.wait_for_contains_text("#suggest-text", "Suggested:", timeout=JOB_S)
    assert studio.find_element("#suggest-text").text.startswith("Suggested: preset 'correct', rank 2")
    studio.wait_for_element("#suggest-figure .main-svg", timeout=20)
    studio.find_element("#suggest-apply").click()
    studio.wait_for_contains_text("#suggest-applied", "Applied: preset 'correct', rank 2", timeout=20)
    wait(studio.driver, lambda: box_value(studio, "D", "beta") == "10" and box_value(studio, "H", "beta") == "10",
         timeout=20, message="Apply did not set the length scales")
    assert "Rectified" in by_id(studio, dom_id(factor="D", type="link")).text
    assert by_id(studio, "rank-input").get_attribute("value") == "2"
    assert studio.get_logs() == []
    assert not blocking(axe_violations(studio)), report(blocking(axe_violations(studio)))


def test_estimate_sigma2_is_near_the_toys_noise_variance_and_sets_the_noise_box(studio):
    studio.find_element("#noise-estimate-start").click()
    studio.wait_for_contains_text("#noise-estimate-text", "σ² ≈", timeout=JOB_S)
    value = float(re.search(r"σ² ≈ ([0-9.]+)", studio.find_element("#noise-estimate-text").text).group(1))
    assert abs(value - 25.0) / 25.0 < 0.05  # the toy's noise variance is 25
    studio.find_element("#noise-apply").click()
    wait(studio.driver, lambda: box_value(studio, "noise", "var") == f"{value:.3g}", timeout=20,
         message="Use this σ² did not set the noise box")
    studio.wait_for_contains_text("#noise-applied", "σ² set to", timeout=10)
    assert studio.get_logs() == []
