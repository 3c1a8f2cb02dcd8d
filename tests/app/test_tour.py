"""The classroom tour: its steps as pure logic, and the whole tour in a real browser (every step sets the page
up through the page's own controls; axe-core finds nothing critical or serious with the tour open)."""

from __future__ import annotations

from page import by_id, dom_id, result_columns, wait
from test_accessibility import axe_violations, blocking, report

import gppnmf_core as gp
from components.panels import tour
from components.services.data_source import builtin_key, load_dataset


def test_steps_move_forward_back_and_close():
    last = len(tour.STEPS) - 1
    assert tour.next_step("start", None) == 0 and tour.next_step("start", 2) == 0
    assert tour.next_step("next", 0) == 1 and tour.next_step("next", last) is None  # Finish closes
    assert tour.next_step("back", 0) == 0 and tour.next_step("back", 2) == 1
    assert tour.next_step("close", 1) is None and tour.next_step("next", None) is None
    assert tour.next_step("next", "2") is None and tour.next_step("next", True) is None  # forged steps


def test_every_step_names_a_built_in_data_set_and_one_of_its_presets():
    for step in tour.STEPS:
        assert step.dataset in gp.datasets.NAMES
        assert step.preset in load_dataset(builtin_key(step.dataset)).presets
        assert step.text and all(len(t) > 40 for t in step.text)
    assert [s.dataset for s in tour.STEPS] == ["factories", "paper_toy", "paper_toy", "csi_phantom"]


def test_show_step_hides_the_panel_when_closed_and_says_finish_on_the_last_step():
    assert tour.show_tour_step(None)[0] == tour.HIDDEN
    style, progress, title, text, back_disabled, next_label, _ = tour.show_tour_step(len(tour.STEPS) - 1)
    assert style == tour.SHOWN and progress == f"Step {len(tour.STEPS)} of {len(tour.STEPS)}"
    assert next_label == "Finish" and not back_disabled
    assert tour.show_tour_step(0)[4] is True  # no Back on the first step


def _at_step(dash_duo, number: int, heatmap_text: str, preset: str) -> None:
    dash_duo.wait_for_contains_text("#tour-progress", f"Step {number} of {len(tour.STEPS)}", timeout=10)
    dash_duo.wait_for_contains_text("#dataset-heatmap", heatmap_text, timeout=20)
    dash_duo.wait_for_contains_text("#preset-picker", preset, timeout=20)
    step = tour.STEPS[number - 1]
    wait(dash_duo.driver, lambda: step.preset in dash_duo.find_element("#preset-picker").text, timeout=20,
         message=f"step {number}: the preset is not {step.preset}")
    assert dash_duo.find_element("#tour-title").text == step.title


def test_the_tour_runs_end_to_end(studio):
    studio.find_element("#tour-start").click()
    _at_step(studio, 1, "Factories", "smooth")
    assert "X ≈ D·H" in studio.find_element("#tour-text").text
    violations = axe_violations(studio)
    assert not blocking(violations), report(blocking(violations))

    studio.find_element("#tour-next").click()
    _at_step(studio, 2, "Toy example", "correct")
    studio.wait_for_contains_text("#preset-description", "true length scale", timeout=20)
    studio.find_element("#run-button").click()  # the step says: press Run
    wait(studio.driver, lambda: result_columns(studio.driver) == 3, timeout=90, message="no results")
    studio.wait_for_element("#rmse-chart .main-svg", timeout=20)

    studio.find_element("#tour-next").click()
    _at_step(studio, 3, "Toy example", "incorrect")
    studio.wait_for_contains_text("#preset-description", "incorrect prior", timeout=20)

    studio.find_element("#tour-next").click()
    _at_step(studio, 4, "397 × 512", "paper")
    mirror = by_id(studio, dom_id(factor="H", type="mirror")).find_element("css selector", "input")
    wait(studio.driver, lambda: mirror.is_selected(), timeout=20, message="the maps' symmetry is not ticked")

    studio.find_element("#tour-back").click()  # back to another data set: its preset follows it
    _at_step(studio, 3, "Toy example", "incorrect")

    studio.find_element("#tour-next").click()
    _at_step(studio, 4, "397 × 512", "paper")
    assert studio.find_element("#tour-next").text == "Finish"
    studio.find_element("#tour-next").click()
    wait(studio.driver, lambda: not studio.find_element("#tour-panel").is_displayed(), timeout=10,
         message="Finish did not close the tour")
    assert studio.get_logs() == []
