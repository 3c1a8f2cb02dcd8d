"""Sliders in a real browser: the prior samples follow a slider while it is dragged (issue 13), and its decade
labels fit inside the page at a phone's and a projector's width."""

import pytest
from page import by_id, dom_id, set_input, wait
from selenium.webdriver.common.by import By


def _box_value(studio, factor: str, name: str) -> str:
    return by_id(studio, dom_id(factor=factor, name=name, type="param-input")).get_attribute("value")


class Hand:
    """A mouse driven through the DevTools protocol: Selenium's action chains lose the slider's pointer capture
    between two ``perform()`` calls, so a drag could not be checked while the button is held."""

    def __init__(self, driver, element):
        self.driver = driver
        self.x, self.y = driver.execute_script(
            "arguments[0].scrollIntoView({block: 'center'}); const r = arguments[0].getBoundingClientRect();"
            "return [r.left + r.width / 2, r.top + r.height / 2];", element)

    def _mouse(self, kind: str, buttons: int) -> None:
        self.driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": self.x, "y": self.y,
                                                                 "button": "left", "buttons": buttons,
                                                                 "clickCount": 1})

    def press(self) -> None:
        self._mouse("mouseMoved", 0)
        self._mouse("mousePressed", 1)

    def move_by(self, dx: float) -> None:
        self.x += dx
        self._mouse("mouseMoved", 1)

    def release(self) -> None:
        self._mouse("mouseReleased", 0)


def _relay(studio) -> dict:
    return studio.driver.execute_script("return window.gppnmfSliderRelay || {sent: 0, busy: false};")


MARK_TRACES = "document.querySelector('#' + arguments[0] + ' .js-plotly-plot').data[0].__kept = true;"
KEPT_TRACES = "return !!document.querySelector('#' + arguments[0] + ' .js-plotly-plot').data[0].__kept;"


def _drag(studio, factor: str, name: str, graph: str, moves: int = 2, steps: int = 8) -> None:
    """Press the slider's thumb and move it ``moves`` times, each move drawn in ``graph`` before the button is let
    go; then release and wait until the relay has nothing left in flight."""
    slider = by_id(studio, dom_id(factor=factor, name=name, type="param-slider"))
    thumb = slider.find_element(By.CSS_SELECTOR, "[role=slider]")
    step = slider.find_element(By.CSS_SELECTOR, ".dash-slider-track").size["width"] / steps
    box_before, sent_before = _box_value(studio, factor, name), _relay(studio)["sent"]
    hand = Hand(studio.driver, thumb)
    hand.press()
    try:
        for move in range(moves):
            drawn = figure_data(studio, graph)
            hand.move_by(step)
            wait(studio.driver, lambda drawn=drawn: figure_data(studio, graph) != drawn, timeout=30,
                 message=f"move {move + 1} of the held {factor} {name} slider was not drawn in {graph}")
        assert float(_box_value(studio, factor, name)) > float(box_before)
        assert _relay(studio)["sent"] >= sent_before + moves
    finally:
        hand.release()
    wait(studio.driver, lambda: not _relay(studio)["busy"], timeout=30, message="the last redraw never came")


def figure_data(studio, graph: str):
    """Every trace's y and z, serialised: what a redraw with new samples changes."""
    return studio.driver.execute_script(
        "const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => JSON.stringify([t.y, t.z])) : null;", graph)


@pytest.mark.parametrize("width, height, presentation", [(1400, 900, False), (390, 844, False), (1280, 720, True)],
                         ids=["desktop", "phone", "projector"])
def test_dragging_a_slider_redraws_its_factor_and_the_prior_check_while_the_mouse_is_still_down(studio, width,
                                                                                                height, presentation):
    studio.driver.set_window_size(width, height)
    if presentation:
        studio.find_element("#presentation-switch input").click()
        wait(studio.driver, lambda: studio.driver.execute_script(
            "return !!document.querySelector('#samples-D .js-plotly-plot').layout.meta.presentation;"),
             message="presentation mode did not reach the prior samples")
    for graph in ("samples-H", "hist-H"):
        studio.driver.execute_script(MARK_TRACES, graph)
    check = figure_data(studio, "simulated-data")
    _drag(studio, "D", "beta", "samples-D")
    wait(studio.driver, lambda: figure_data(studio, "simulated-data") != check, timeout=30,
         message="the prior check was not redrawn for the new length scale of D")
    for graph in ("samples-H", "hist-H"):  # H's prior did not change: its figures are neither re-sent nor redrawn
        assert studio.driver.execute_script(KEPT_TRACES, graph), f"{graph} was redrawn for a slider of D"
    if presentation:  # the new figures are drawn in presentation style too
        wait(studio.driver, lambda: studio.driver.execute_script(
            "return !!document.querySelector('#samples-D .js-plotly-plot').layout.meta.presentation;"),
             message="the redrawn samples are not in presentation style")
    assert studio.get_logs() == []


def test_dragging_the_noise_slider_redraws_the_prior_check_move_after_move(studio):
    """σ² changes the prior check alone: each of its redraws frees the relay for the next dragged value (were the
    relay waiting for the samples, which σ² leaves as they are, the second move would never be drawn)."""
    studio.driver.execute_script(MARK_TRACES, "samples-D")
    _drag(studio, "noise", "var", "simulated-data", moves=3, steps=12)
    assert studio.driver.execute_script(KEPT_TRACES, "samples-D")
    assert studio.get_logs() == []


def test_a_typed_value_moves_the_slider_and_redraws(studio):
    thumb = by_id(studio, dom_id(factor="D", name="beta", type="param-slider")).find_element(
        By.CSS_SELECTOR, "[role=slider]")
    drawn = figure_data(studio, "samples-D")
    set_input(studio, dom_id(factor="D", name="beta", type="param-input"), "1")
    wait(studio.driver, lambda: thumb.get_attribute("aria-valuenow") == "0", timeout=20,
         message="the slider did not move to log10(1) = 0")
    wait(studio.driver, lambda: figure_data(studio, "samples-D") != drawn, timeout=30, message="not redrawn")
    assert _box_value(studio, "D", "beta") == "1" and thumb.get_attribute("aria-valuetext") == "β = 1"


#: (slider moved, slider, box, drag value) → (slider, box) to write, None where nothing changes (assets/sliders.js).
SYNC_CASES = [
    ((True, -0.5228787452803376, 0.2, None), [None, 0.3]),  # released at log10(0.3): the box shows 0.3
    ((True, 1.23456, 10, None), [None, 17.2]),  # 3 significant digits
    ((True, 1.23456, 17.2, None), [None, None]),  # the drag wrote it: no second redraw
    ((True, 1.23456, "17.2", None), [None, None]),
    ((False, 0, 17.2, 1.23456), [None, None]),  # the drag wrote it: the thumb stays under the hand
    ((False, 0, 100.0, 0.5), [2, None]),  # typed: the slider follows
    ((False, 0, "1,5", None), [0.17609125905568124, None]),  # a decimal comma
    ((False, 0, 0, None), [None, None]),
    ((False, 0, None, None), [None, None]),
    ((False, 0, "abc", None), [None, None]),
]
TYPED_CASES = [(2, 2), ("1e8", 1e8), (" 0.3 ", 0.3), ("1,5", 1.5), ("\u22123", None), ("-3", None),
               ("1,500.5", None), ("1,5,3", None), ("0x10", None), ("inf", None), ("", None), (True, None)]


def test_slider_and_box_stay_in_step(studio):
    for args, expected in SYNC_CASES:
        got = studio.driver.execute_script("return window.gppnmfSliders.syncedValues(...arguments);", *args)
        assert all(g is None if e is None else g == pytest.approx(e) for g, e in zip(got, expected, strict=True)), \
            (args, got)
    for typed, expected in TYPED_CASES:
        got = studio.driver.execute_script(
            "const x = window.gppnmfSliders.typedPositive(arguments[0]); return isNaN(x) ? null : x;", typed)
        assert got == (pytest.approx(expected) if expected is not None else None), (typed, got)


MARKS_AND_NEIGHBOURS = (
    "const row = arguments[0].closest('.param-row'); const box = row.querySelector('input').getBoundingClientRect();"
    "const fieldset = row.closest('fieldset').getBoundingClientRect();"
    "return Array.from(arguments[0].querySelectorAll('.dash-slider-mark')).map(m => {"
    " const r = m.getBoundingClientRect(); return {text: m.textContent, left: r.left, right: r.right,"
    " size: getComputedStyle(m).fontSize, box: box.left, fieldset: [fieldset.left, fieldset.right]}; });")


@pytest.mark.parametrize("presentation", [False, True], ids=["normal", "presentation"])
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 720)])
def test_the_noise_sliders_end_labels_are_neither_covered_nor_cut(studio, width, height, presentation):
    studio.driver.set_window_size(width, height)
    if presentation:
        studio.find_element("#presentation-switch input").click()
        wait(studio.driver, lambda: "presentation" in studio.find_element("body").get_attribute("class"),
             message="presentation mode did not switch on")
    slider = by_id(studio, dom_id(factor="noise", name="var", type="param-slider"))
    wait(studio.driver, lambda: studio.driver.execute_script(MARKS_AND_NEIGHBOURS, slider), timeout=20,
         message="the σ² slider has no marks")
    marks = studio.driver.execute_script(MARKS_AND_NEIGHBOURS, slider)
    assert {m["size"] for m in marks} == {"15px" if presentation else "12px"}
    for mark in marks:
        assert mark["right"] <= mark["box"], f"{mark['text']!r} runs under the number box at {width} px: {mark}"
        assert mark["fieldset"][0] <= mark["left"] and mark["right"] <= mark["fieldset"][1], \
            f"{mark['text']!r} sticks out of its fieldset at {width} px: {mark}"


CHECK = "document.querySelector('#simulated-data .js-plotly-plot')"


def test_a_wrapped_title_fits_without_a_relayout_and_clears_the_map_names(studio):
    """On a phone the prior check's title is broken into lines (assets/presentation.js) with Plotly.react: a
    relayout would be copied back into the graph's figure by dcc.Graph and drawn a second time on every redraw."""
    studio.driver.set_window_size(390, 844)
    wrapped = f"return String({CHECK}.layout.title.text).indexOf('<br>') >= 0;"
    wait(studio.driver, lambda: studio.driver.execute_script(wrapped), message="the title was not wrapped at 390 px")
    # Only relayouts of the title count: a late resize of the graph to the new window (plotly's autosize,
    # debounced, later on a loaded machine) is a relayout too, of width and height.
    studio.driver.execute_script(f"const g = {CHECK}; g.__relayouts = 0; g.on('plotly_relayout', (e) => "
                                 "{ if (Object.keys(e || {}).some(k => k.startsWith('title'))) g.__relayouts += 1; });"
                                 " g.data[0].__kept = true;")
    studio.find_element("#resample-button").click()
    wait(studio.driver, lambda: studio.driver.execute_script(f"return !{CHECK}.data[0].__kept;") and
         studio.driver.execute_script(wrapped), timeout=30, message="the resampled prior check was not fitted")
    assert studio.driver.execute_script(f"return {CHECK}.__relayouts;") == 0
    title, *names = studio.driver.execute_script(
        f"return Array.from({CHECK}.querySelectorAll('.gtitle, .annotation-text'))"
        ".map(e => e.getBoundingClientRect()).map(r => [r.top, r.bottom]);")
    assert title[1] <= min(top for top, _ in names) + 1, f"the title {title} runs into the map names {names}"
