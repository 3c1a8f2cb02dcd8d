"""Run history in a real browser: two toy runs (correct and incorrect prior) pinned in one RMSE chart; a
cancelled run keeps the methods that finished."""

from page import result_columns, start_long_run, wait
from selenium.webdriver.common.by import By


def _runs_listed(driver) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#history-pins label")]


def _chart_bars(driver) -> list[str] | None:
    return driver.execute_script(
        "const g = document.querySelector('#history-chart .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name) : null;")


def _run_and_wait(studio, n_runs: int) -> None:
    wait(studio.driver, lambda: studio.find_element("#run-button").is_enabled(), timeout=30,
         message="Run is not enabled")
    studio.find_element("#run-button").click()
    wait(studio.driver, lambda: len(_runs_listed(studio.driver)) == n_runs, timeout=120,
         message=f"run {n_runs} did not appear in the runs list: {_runs_listed(studio.driver)}")
    wait(studio.driver, lambda: result_columns(studio.driver) == 3, timeout=30, message="no results shown")


def _pick_preset(studio, name: str) -> None:
    studio.find_element("#preset-picker").click()
    studio.driver.find_element(By.XPATH, f"//*[@role='option'][normalize-space(.)='{name}']").click()


def test_two_pinned_runs_with_the_correct_and_incorrect_prior_share_one_rmse_chart(studio):
    studio.wait_for_contains_text("#preset-picker", "correct", timeout=20)
    assert "No runs yet" in studio.find_element("#history-empty").text
    _run_and_wait(studio, 1)  # the toy's correct prior
    _pick_preset(studio, "incorrect")
    studio.wait_for_contains_text("#results-provenance", "prior of D", timeout=30)  # the page took the preset
    _run_and_wait(studio, 2)
    listed = _runs_listed(studio.driver)
    assert listed[0].startswith("run 2 · ") and listed[1].startswith("run 1 · ")  # newest first
    assert "rbf kernel β 3.16" in listed[0] and "rbf kernel β 10" in listed[1]  # each run says its priors
    for box in studio.driver.find_elements(By.CSS_SELECTOR, "#history-pins input[type=checkbox]"):
        box.click()
    wait(studio.driver, lambda: _chart_bars(studio.driver) is not None and len(_chart_bars(studio.driver)) == 4,
         timeout=30, message=f"the pinned runs' chart: {_chart_bars(studio.driver)}")
    # The paper's Figure 3: the baselines (identical in both runs) once, then GPP-NMF with either prior.
    assert _chart_bars(studio.driver) == ["LS-NMF · run 2", "CNMF · run 2", "GPP-NMF · run 1", "GPP-NMF · run 2"]
    studio.driver.refresh()  # the pins are the session's: a reloaded page shows the same comparison
    wait(studio.driver, lambda: _chart_bars(studio.driver) is not None and len(_chart_bars(studio.driver)) == 4,
         timeout=30, message="the reloaded page lost the pinned runs")
    assert studio.get_logs() == []


def test_cancel_during_a_later_method_keeps_the_methods_that_finished(studio):
    start_long_run(studio)  # GPP-NMF converges on the toy; CNMF then runs a million iterations, 20 times
    studio.wait_for_contains_text("#job-status", "CNMF (2/3)", timeout=120)
    studio.find_element("#cancel-button").click()
    wait(studio.driver, lambda: result_columns(studio.driver) == 1, timeout=30,
         message="the finished GPP-NMF result was not shown")
    studio.wait_for_contains_text("#results-provenance", "partial: cancelled during CNMF: GPP-NMF finished",
                                  timeout=10)
    studio.wait_for_contains_text("#job-message", "Cancelled", timeout=10)  # said after the results are drawn
    assert studio.find_element("#job-status").text == "cancelled"
    wait(studio.driver, lambda: len(_runs_listed(studio.driver)) == 1, timeout=10, message="not in the runs list")
    assert "partial: cancelled during CNMF" in _runs_listed(studio.driver)[0]
    assert studio.get_logs() == []
