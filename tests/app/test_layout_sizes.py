"""Every chart fits its card and keeps its title clear of the toolbar: on a phone (390 × 844), a projector
(1280 × 720, also at 150 % zoom and in presentation mode) and a desktop (1400 × 900)."""

from __future__ import annotations

import pytest
from page import run_csi_phantom_to_results, wait

#: (name, CSS width, CSS height, device pixel ratio, mobile): 150 % zoom is a 853 × 480 CSS viewport.
SIZES = [
    ("phone", 390, 844, 3, True),
    ("projector", 1280, 720, 1, False),
    ("projector at 150 %", 853, 480, 1.5, False),
    ("desktop", 1400, 900, 1, False),
]

#: Every visible graph: its width, whether it fits inside its card, and any mode bar / title overlap.
PROBLEMS = """
const problems = [];
const inside = (a, b) => a.left >= b.left - 1 && a.right <= b.right + 1;
const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
for (const gd of document.querySelectorAll('.js-plotly-plot')) {
  if (!gd.offsetParent) continue;  // a hidden graph (e.g. results before a run)
  const name = gd.parentElement.id || gd.id || '?';
  const box = gd.getBoundingClientRect();
  if (box.width < 1) { problems.push(name + ': 0 px wide'); continue; }
  const card = gd.closest('.card');
  if (card && !inside(box, card.getBoundingClientRect()))
    problems.push(name + ': ' + Math.round(box.width) + ' px, outside its card');
  const svg = gd.querySelector('.main-svg');
  if (svg && svg.getBoundingClientRect().width > box.width + 1) problems.push(name + ': plot wider than its box');
  const bar = gd.querySelector('.modebar');
  const title = gd.querySelector('.gtitle');
  if (bar && title && overlap(bar.getBoundingClientRect(), title.getBoundingClientRect()))
    problems.push(name + ': the toolbar covers the title');
}
return problems;
"""


def set_size(driver, width, height, ratio, mobile) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": ratio, "mobile": mobile})
    driver.execute_script("window.dispatchEvent(new Event('resize'));")


def layout_problems(dash_duo, size) -> list[str]:
    """Wait until every graph has settled at this size; the problems that remain."""
    set_size(dash_duo.driver, *size[1:])
    found = []

    def settled():
        found[:] = dash_duo.driver.execute_script(PROBLEMS)
        return not found

    try:
        wait(dash_duo.driver, settled, timeout=10)
    except Exception:  # noqa: BLE001 - report what is still wrong below
        pass
    return found


def presentation(dash_duo, on: bool) -> None:
    switch = dash_duo.find_element("#presentation-switch input")
    if switch.is_selected() != on:
        switch.click()
    wait(dash_duo.driver, lambda: dash_duo.driver.execute_script(
        "return document.body.classList.contains('presentation');") == on, timeout=10)


@pytest.mark.parametrize("size", SIZES, ids=[s[0] for s in SIZES])
def test_graphs_fit_their_cards_and_titles_stay_clear_of_toolbars(studio, size):
    assert layout_problems(studio, size) == []


def test_results_fit_at_every_size_also_in_presentation_mode(studio):
    run_csi_phantom_to_results(studio)
    for on in (False, True):
        presentation(studio, on)
        for size in SIZES:
            assert layout_problems(studio, size) == [], (size[0], "presentation" if on else "normal")


def test_presentation_mode_enlarges_every_chart_and_can_be_undone(studio):
    fonts = ("return Array.from(document.querySelectorAll('.js-plotly-plot')).filter(g => g.offsetParent)"
             ".map(g => g._fullLayout.font.size);")
    assert set(studio.driver.execute_script(fonts)) == {12}
    presentation(studio, True)
    wait(studio.driver, lambda: set(studio.driver.execute_script(fonts)) == {18}, timeout=10,
         message="not every chart took the presentation fonts")
    ticks = studio.driver.execute_script(
        "return Math.min(...Array.from(document.querySelectorAll('.js-plotly-plot .xtick text, "
        ".js-plotly-plot .ytick text, .js-plotly-plot .legendtext'))"
        ".filter(t => t.closest('.js-plotly-plot').offsetParent)"  # drawn graphs (not the hidden, empty ones)
        ".map(t => parseFloat(getComputedStyle(t).fontSize)));")
    assert ticks >= 18
    widths = studio.driver.execute_script(
        "const g = document.querySelector('#samples-D .js-plotly-plot');"
        "return g._fullData.map(t => t.line && t.line.width);")
    assert min(widths) >= 3
    presentation(studio, False)
    wait(studio.driver, lambda: set(studio.driver.execute_script(fonts)) == {12}, timeout=10,
         message="presentation fonts stayed after switching it off")
