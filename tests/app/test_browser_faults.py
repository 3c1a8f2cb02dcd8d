"""Faults on the embedded default, in a real browser: a killed job, a job over its time limit, cancel."""

import os
import signal
import time

import psutil
from page import job_running, result_columns, set_input, start_long_run, wait

from components.services import config


def _short_run(dash_duo):
    wait(dash_duo.driver, lambda: dash_duo.find_element("#run-button").is_enabled(), timeout=10,
         message="Run did not come back")
    set_input(dash_duo, "iter-input", 1000)
    set_input(dash_duo, "tol-input", 0.000001)
    set_input(dash_duo, "replicates-input", 1)
    dash_duo.find_element("#run-button").click()
    wait(dash_duo.driver, lambda: result_columns(dash_duo.driver) == 3, timeout=60,
         message="a new run did not complete")


def _job_processes():
    """The job processes (and their computations) this test process started: Python, not the browser."""
    me = psutil.Process(os.getpid())
    return [p for p in me.children(recursive=True)
            if "python" in p.name().lower() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_killed_job_is_reported_and_a_new_run_succeeds(studio):
    before = {p.pid for p in _job_processes()}
    start_long_run(studio)
    victims = [p for p in _job_processes() if p.pid not in before]
    assert victims, "no job process found"
    for process in victims:
        process.send_signal(signal.SIGKILL)
    studio.wait_for_contains_text("#job-message", "stopped unexpectedly", timeout=30)
    wait(studio.driver, lambda: studio.find_element("#run-button").is_enabled(), timeout=10,
         message="Run was not enabled again")
    _short_run(studio)
    assert studio.find_element("#job-message").text == ""


def test_a_job_over_the_time_limit_is_stopped_and_reported(studio, monkeypatch):
    monkeypatch.setattr(config, "JOB_TIMEOUT_S", 2.0)  # read when Run queues the job
    start_long_run(studio, wait_until_running=False)  # on a loaded machine it may be stopped before a poll sees it
    studio.wait_for_contains_text("#job-message", "stopped after 2 s, this server's time limit", timeout=60)
    wait(studio.driver, lambda: studio.find_element("#run-button").is_enabled(), timeout=10,
         message="Run was not enabled again")
    assert studio.find_element("#job-status").text == "stopped"


def test_cancel_frees_the_only_job_slot(studio, monkeypatch):
    monkeypatch.setattr(config, "MAX_JOBS", 1)  # read when Run queues the job
    start_long_run(studio)
    studio.find_element("#cancel-button").click()
    cancelled = time.perf_counter()
    studio.wait_for_contains_text("#job-message", "Cancelled", timeout=10)
    _short_run(studio)  # would wait forever for the slot if cancel had not freed it
    print(f"\nCancel with one job slot to a new run's results: {time.perf_counter() - cancelled:.2f} s")
    assert "waiting" not in studio.find_element("#job-status").text


def test_a_reloaded_page_finds_its_running_job_and_can_cancel_it(studio):
    start_long_run(studio)
    studio.driver.refresh()  # the session cookie keeps the session; the page polls its job record
    wait(studio.driver, lambda: job_running(studio) and studio.find_element("#cancel-button").is_enabled(),
         timeout=30, message="the reloaded page did not show the running job")
    assert not studio.find_element("#run-button").is_enabled()
    studio.find_element("#cancel-button").click()
    studio.wait_for_contains_text("#job-message", "Cancelled", timeout=10)
    wait(studio.driver, lambda: studio.find_element("#run-button").is_enabled(), timeout=10,
         message="Run was not enabled after Cancel")
