"""Accessibility: axe-core (from the npm registry, tests/app/package.json; `.ci/run` runs `npm ci --prefix
tests/app`) injected into the real page, on the first view and after a run: no critical or serious violations."""

from __future__ import annotations

from pathlib import Path

import pytest
from page import by_id, dom_id, run_csi_phantom_to_results, set_input, wait
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("critical", "serious")


def axe_violations(dash_duo) -> list[dict]:
    """Every axe-core violation on the page as it stands: id, impact, help and the first few targets."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing ({AXE}); run `npm ci --prefix tests/app`")
    driver = dash_duo.driver
    if not driver.execute_script("return !!window.axe"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.length, targets: v.nodes.slice(0, 4).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: 0, targets: []}]));")
    return result


def counts_by_impact(violations) -> dict:
    out = {}
    for v in violations:
        out[v["impact"]] = out.get(v["impact"], 0) + v["nodes"]
    return out


def blocking(violations) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def report(violations) -> str:
    return "\n".join(f"{v['impact']:9} {v['id']} ({v['nodes']}): {v['help']} — {v['targets']}" for v in violations)


def test_first_view_has_no_critical_or_serious_violations(studio):
    violations = axe_violations(studio)
    print("\nfirst view, axe-core nodes by impact:", counts_by_impact(violations))
    print(report(violations))
    assert not blocking(violations), report(blocking(violations))


def test_results_have_no_critical_or_serious_violations(studio):
    run_csi_phantom_to_results(studio)
    violations = axe_violations(studio)
    print("\nafter a run, axe-core nodes by impact:", counts_by_impact(violations))
    print(report(violations))
    assert not blocking(violations), report(blocking(violations))


def thumb(dash_duo, factor: str, name: str):
    return by_id(dash_duo, dom_id(factor=factor, name=name, type="param-slider")).find_element(
        By.CSS_SELECTOR, "[role=slider]")


def test_sliders_are_named_and_announce_the_value_in_the_unit_shown(studio):
    box = dom_id(factor="noise", name="var", type="param-input")
    set_input(studio, box, 25)
    sigma = thumb(studio, "noise", "var")
    wait(studio.driver, lambda: sigma.get_attribute("aria-valuetext") == "σ² = 25", timeout=10,
         message=f"the σ² slider says {sigma.get_attribute('aria-valuetext')!r}, not 'σ² = 25'")
    assert abs(float(sigma.get_attribute("aria-valuenow")) - 1.39794) < 0.01  # the slider itself is log10
    label = by_id(studio, sigma.get_attribute("aria-labelledby"))
    assert "noise variance σ²" in label.text
    assert by_id(studio, dom_id(factor="D", name="beta", type="param-input")).get_attribute("aria-describedby") \
        == dom_id(factor="D", name="beta", type="param-message")  # a bad value's message is tied to its box


def test_skip_link_is_the_first_tab_stop_and_reaches_run(studio):
    body = studio.find_element("body")
    body.send_keys(Keys.TAB)
    focused = studio.driver.switch_to.active_element
    assert focused.text == "Skip to Run"
    focused.send_keys(Keys.ENTER)
    wait(studio.driver, lambda: studio.driver.switch_to.active_element.get_attribute("id") == "run-button",
         timeout=5, message="Enter on the skip link did not put the focus on Run")


def test_charts_have_a_text_alternative_with_their_numbers(studio):
    names = studio.driver.execute_script(
        "return Array.from(document.querySelectorAll('.js-plotly-plot')).filter(g => g.offsetParent)"
        ".map(g => { const s = g.querySelector('svg.main-svg'); return [g.parentElement.id,"
        " s && s.getAttribute('role'), s && s.getAttribute('aria-label')]; });")
    assert names
    for graph, role, label in names:
        assert role == "img" and label and len(label) > 20, (graph, role, label)
    tabbable = studio.driver.execute_script(
        "return document.querySelectorAll('.modebar-btn:not([tabindex=\"-1\"])').length;")
    assert tabbable == 0  # chart toolbars are not in the tab order


def test_white_kernel_greys_out_its_length_scale(studio):
    studio.find_element(f"[id='{dom_id(factor='D', type='kernel')}']").click()
    studio.driver.find_element(By.XPATH, "//*[@role='option'][contains(., 'White')]").click()
    box = by_id(studio, dom_id(factor="D", name="beta", type="param-input"))
    wait(studio.driver, lambda: not box.is_enabled(), timeout=10, message="β box still enabled for White")
    assert thumb(studio, "D", "beta").get_attribute("data-disabled") is not None or \
        by_id(studio, dom_id(factor="D", name="beta", type="param-slider")).find_elements(
            By.CSS_SELECTOR, "[data-disabled]")
    assert by_id(studio, dom_id(factor="H", name="beta", type="param-input")).is_enabled()
