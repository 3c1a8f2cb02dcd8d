"""Sliders in a real browser: the prior samples follow a slider while it is dragged (issue 13), and its decade
labels fit inside the page at a phone's and a projector's width."""

import pytest
from page import by_id, dom_id, figure_y, wait
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


def test_dragging_a_slider_redraws_the_samples_while_the_mouse_is_still_down(studio):
    slider = by_id(studio, dom_id(factor="D", name="beta", type="param-slider"))
    thumb = slider.find_element(By.CSS_SELECTOR, "[role=slider]")
    step = slider.find_element(By.CSS_SELECTOR, ".dash-slider-track").size["width"] / 8
    box_before, sent_before = _box_value(studio, "D", "beta"), _relay(studio)["sent"]
    hand = Hand(studio.driver, thumb)
    hand.press()
    try:
        for move in range(2):  # two moves, each drawn before the button is let go
            drawn = figure_y(studio, "samples-D")
            hand.move_by(step)
            wait(studio.driver, lambda drawn=drawn: figure_y(studio, "samples-D") != drawn, timeout=30,
                 message=f"move {move + 1} of the held slider was not drawn")
        assert float(_box_value(studio, "D", "beta")) > float(box_before)
        assert _relay(studio)["sent"] >= sent_before + 2
    finally:
        hand.release()
    wait(studio.driver, lambda: not _relay(studio)["busy"], timeout=30, message="the last redraw never came")
    assert studio.get_logs() == []


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
