"""Helpers the real-browser tests share: find, type, wait, and the long run that Cancel and faults need."""

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def dom_id(**pattern) -> str:
    """The DOM id Dash gives a pattern-matching component id."""
    return json.dumps(pattern, sort_keys=True, separators=(",", ":"))


def by_id(dash_duo, element_id: str):
    """Find by DOM id; XPath, because Selenium's By.ID does not escape the quotes in pattern ids."""
    return dash_duo.driver.find_element(By.XPATH, f"//*[@id='{element_id}']")


def figure_y(dash_duo, graph_id: str):
    """The y data of every trace, serialised (plotly ships numpy arrays base64-encoded)."""
    return dash_duo.driver.execute_script(
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        "return g && g.data && g.data.length ? g.data.map(t => JSON.stringify(t.y)) : null;"
    )


def wait(driver, condition, timeout=20, message=""):
    WebDriverWait(driver, timeout).until(lambda _: condition(), message)


def set_input(dash_duo, element_id: str, value) -> None:
    box = by_id(dash_duo, element_id)
    box.clear()
    box.send_keys(str(value))
    box.send_keys("\n")  # debounced inputs commit on Enter


def pick_dataset(dash_duo, title_fragment: str) -> None:
    dash_duo.find_element("#dataset-picker").click()
    option = dash_duo.driver.find_element(By.XPATH, f"//*[@role='option'][contains(., '{title_fragment}')]")
    option.click()


def result_columns(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, "#results-columns .method-column"))


#: What #job-status says once a job runs (its first method has started).
RUNNING = ("starting", "(1/3)", "(2/3)", "(3/3)")


def job_running(dash_duo) -> bool:
    return any(word in dash_duo.find_element("#job-status").text for word in RUNNING)


def start_long_run(dash_duo, wait_until_running: bool = True) -> None:
    """A run that takes minutes (a million iterations, no tolerance, 20 replicates), seen running."""
    set_input(dash_duo, "iter-input", 1000000)
    set_input(dash_duo, "tol-input", 0)
    set_input(dash_duo, "replicates-input", 20)
    dash_duo.find_element("#run-button").click()
    if wait_until_running:
        wait(dash_duo.driver, lambda: job_running(dash_duo), timeout=60, message="the long run did not start")


def wait_for_prior_samples_on(driver, axis_text: str, timeout=30) -> None:
    """Wait until the prior samples of D are drawn on an axis whose title contains ``axis_text``: the prior
    designer has taken up the data set now selected (a condition, never a fixed pause)."""
    script = ("return Array.from(document.querySelectorAll('#samples-D .xtitle'))"
              ".map(e => e.textContent).join(' ');")
    wait(driver, lambda: axis_text in (driver.execute_script(script) or ""), timeout=timeout,
         message=f"the prior samples were not redrawn on an axis '{axis_text}'")


def run_csi_phantom_to_results(dash_duo) -> None:
    """Pick the 31P CSI phantom with its paper preset, press Run and wait for the three columns and the RMSE chart."""
    pick_dataset(dash_duo, "31P")
    dash_duo.wait_for_contains_text("#dataset-heatmap", "397 × 512", timeout=20)
    dash_duo.wait_for_contains_text("#preset-picker", "paper", timeout=20)
    dash_duo.find_element("#run-button").click()
    wait(dash_duo.driver, lambda: result_columns(dash_duo.driver) == 3, timeout=90, message="no results")
    dash_duo.wait_for_element("#rmse-chart .main-svg", timeout=20)


def pick_preset(dash_duo, name: str) -> None:
    """Choose a preset of the data set in the prior designer's picker."""
    dash_duo.find_element("#preset-picker").click()
    option = dash_duo.driver.find_element(By.XPATH, f"//*[@role='option'][contains(., '{name}')]")
    option.click()
    dash_duo.wait_for_contains_text("#preset-picker", name, timeout=20)


def run_to_results(dash_duo, timeout=120) -> None:
    """Press Run and wait for the three result columns."""
    dash_duo.find_element("#run-button").click()
    wait(dash_duo.driver, lambda: result_columns(dash_duo.driver) == 3, timeout=timeout, message="no results")


def box_value(dash_duo, factor: str, name: str) -> str:
    """What a prior designer's number box shows."""
    return by_id(dash_duo, dom_id(factor=factor, name=name, type="param-input")).get_attribute("value")


def untick(dash_duo, checklist_id: str, label_fragment: str) -> None:
    """Untick the option of a checklist whose label contains ``label_fragment`` (ticked before)."""
    box = dash_duo.driver.find_element(
        By.XPATH, f"//*[@id='{checklist_id}']//label[contains(., \"{label_fragment}\")]//input")
    assert box.is_selected()
    box.click()
    wait(dash_duo.driver, lambda: not box.is_selected(), timeout=10, message=f"{label_fragment} still ticked")
