"""The scale-out deployment with real services: Redis, a Celery worker (prefork, 2 processes), gunicorn -w 2.

A headless Chromium drives the page served by gunicorn; jobs run on the Celery
worker (task ``gppnmf.run_job``: a supervisor in the pool process, the
computation in its child). Faults: the pool process running a job is killed
(SIGKILL), and a job is cancelled; the page must say so, no computation may
outlive its job, and the worker must take new jobs.
"""

import os
import signal
import time

import psutil
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.services.stack import wait_until

RESULT_COLUMNS = "#results-columns .method-column"


def _wait(driver, condition, timeout, message):
    WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda _: condition(), message)


def _text(driver, selector: str) -> str:
    return driver.find_element(By.CSS_SELECTOR, selector).text


def _run_enabled(driver) -> bool:
    return driver.find_element(By.ID, "run-button").is_enabled()


def _n_results(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, RESULT_COLUMNS))


def _set_input(driver, element_id: str, value) -> None:
    box = driver.find_element(By.ID, element_id)
    box.clear()
    box.send_keys(str(value))
    box.send_keys("\n")  # debounced inputs commit on Enter


def _pick_dataset(driver, title_fragment: str) -> None:
    driver.find_element(By.ID, "dataset-picker").click()
    driver.find_element(By.XPATH, f"//*[@role='option'][contains(., '{title_fragment}')]").click()


def _diagnosis(driver, stack) -> str:
    """What the page and the worker say, for an assertion message."""
    return (f"\n#job-status: {_text(driver, '#job-status')!r}\n#job-message: {_text(driver, '#job-message')!r}"
            f"\nRun enabled: {_run_enabled(driver)}\n--- worker log (end) ---\n{stack.services['worker'].tail(3000)}")


def _running(driver) -> bool:
    return any(word in _text(driver, "#job-status") for word in ("starting", "(1/3)", "(2/3)", "(3/3)"))


def _computation(task: dict) -> list[psutil.Process]:
    """The forked computation of a task's supervisor (the pool process)."""
    return wait_until(lambda: psutil.Process(task["worker_pid"]).children(), 20, interval=0.2,
                      message="the task's computation did not start")


def _gone(processes: list[psutil.Process]) -> bool:
    def running(p):
        try:
            return p.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False
    return not any(running(p) for p in processes)


def _long_run(driver, stack) -> dict:
    """Start a run that would go on for hours; return the Celery task once it is running."""
    _set_input(driver, "iter-input", 1000000)
    _set_input(driver, "tol-input", 0)
    _set_input(driver, "replicates-input", 20)
    before = {t["id"] for t in stack.active_tasks() or []}  # left over by an earlier test that failed
    driver.find_element(By.ID, "run-button").click()
    _wait(driver, lambda: _running(driver), 60, "the long run did not start" + _diagnosis(driver, stack))
    assert not _run_enabled(driver)
    tasks = wait_until(lambda: [t for t in stack.active_tasks() or [] if t["id"] not in before], 10, interval=0.5,
                       message="no active task on the worker")
    assert len(tasks) == 1, tasks
    return tasks[0]


def _short_run(driver, stack) -> float:
    """Restore the default budgets, run, and wait for all three results; seconds from Run to results."""
    _set_input(driver, "iter-input", 1000)
    _set_input(driver, "tol-input", 0.000001)
    _set_input(driver, "replicates-input", 1)
    start = time.perf_counter()
    driver.find_element(By.ID, "run-button").click()
    _wait(driver, lambda: _n_results(driver) == 3, 90,
          "a new run did not complete" + _diagnosis(driver, stack))
    return time.perf_counter() - start


def test_csi_decomposition_runs_end_to_end_on_gunicorn_and_celery(browser, celery_stack):
    tasks_before = celery_stack.total_tasks()
    _pick_dataset(browser, "31P")
    _wait(browser, lambda: "397 × 512" in _text(browser, "#dataset-heatmap"), 30, "the CSI phantom was not shown")
    _wait(browser, lambda: "paper" in _text(browser, "#preset-picker"), 20, "the paper preset was not chosen")
    time.sleep(0.5)  # let the preset's controls settle into the prior spec
    start = time.perf_counter()
    browser.find_element(By.ID, "run-button").click()
    _wait(browser, lambda: _n_results(browser) == 3, 90,
          "three result columns did not appear" + _diagnosis(browser, celery_stack))
    _wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#rmse-chart .main-svg"), 20, "no RMSE chart")
    print(f"\nCSI phantom on gunicorn + Celery: Run to all three results: {time.perf_counter() - start:.2f} s")
    bars = browser.execute_script("return document.querySelector('#rmse-chart .js-plotly-plot').data.map(t => t.name);")
    assert bars == ["GPP-NMF", "CNMF", "LS-NMF"]
    assert _run_enabled(browser)
    assert _text(browser, "#job-message") == ""
    # The job ran on the Celery worker, not in a web process.
    assert celery_stack.total_tasks() > tasks_before
    log = celery_stack.services["worker"].log()
    assert "Task gppnmf.run_job" in log and "succeeded" in log, log[-3000:]


def test_a_killed_pool_process_is_reported_and_the_worker_takes_a_new_run(browser, celery_stack):
    worker = celery_stack.services["worker"]
    task = _long_run(browser, celery_stack)
    children = {p.pid: p for p in worker.children()}
    victim = task["worker_pid"]
    assert victim in children, f"the task's pool process {victim} is not a child of the worker: {sorted(children)}"
    computation = _computation(task)
    os.kill(victim, signal.SIGKILL)
    killed = time.perf_counter()
    # The worker's main process notices the lost process and marks the task failed (WorkerLostError) ...
    state = wait_until(lambda: (s := celery_stack.task_state(task["id"])) in ("FAILURE", "REVOKED") and s, 20,
                       interval=0.1, message="the killed task was not marked failed in the result backend")
    marked = time.perf_counter()
    # ... the computation dies with its parent, and the page's poll sees a task that ended without a word.
    wait_until(lambda: _gone(computation), 10, interval=0.1, message="the computation outlived its pool process")
    _wait(browser, lambda: any(s in _text(browser, "#job-message") for s in ("stopped unexpectedly", "failed")), 30,
          "the page did not report the killed job" + _diagnosis(browser, celery_stack))
    _wait(browser, lambda: _run_enabled(browser), 10, "Run was not enabled again" + _diagnosis(browser, celery_stack))
    print(f"\nSIGKILL of the pool process: task {state} in the backend after {marked - killed:.2f} s, failure on "
          f"the page after {time.perf_counter() - killed:.2f} s; message: {_text(browser, '#job-message')!r}")
    assert "WorkerLostError" in worker.log() or "signal 9" in worker.log(), worker.tail(3000)
    # Prefork replaces the lost process; the worker keeps its two.
    pool = wait_until(lambda: (p := celery_stack.pool_pids()) and len(p) == 2 and victim not in p and p, 20,
                      interval=0.5, message="the pool did not replace the killed process")
    print(f"pool processes: {victim} killed, now {pool}")
    elapsed = _short_run(browser, celery_stack)
    print(f"a new run after the kill: results in {elapsed:.2f} s")
    assert _text(browser, "#job-message") == ""


def test_cancel_frees_the_worker_for_a_new_run(browser, celery_stack):
    task = _long_run(browser, celery_stack)
    computation = _computation(task)
    browser.find_element(By.ID, "cancel-button").click()
    cancelled = time.perf_counter()
    _wait(browser, lambda: _run_enabled(browser), 10, "Run did not come back after Cancel"
          + _diagnosis(browser, celery_stack))
    print(f"\nCancel to Run enabled again (Celery): {time.perf_counter() - cancelled:.2f} s")
    assert "Cancelled" in _text(browser, "#job-message")
    assert _n_results(browser) == 0
    # The task's supervisor sees the record cancelled, kills and reaps its computation, and the task ends.
    wait_until(lambda: _gone(computation), 10, interval=0.1, message="the cancelled computation still runs")
    killed = time.perf_counter() - cancelled
    wait_until(lambda: (a := celery_stack.active_tasks()) is not None and task["id"] not in {t["id"] for t in a},
               15, interval=0.5, message=f"the cancelled task {task['id']} still runs on the worker")
    freed = time.perf_counter() - cancelled
    assert task["worker_pid"] in celery_stack.pool_pids()  # the pool process is free, not lost
    print(f"Cancel to the computation killed: {killed:.2f} s; to the task gone from the worker: {freed:.2f} s; "
          f"task state {celery_stack.task_state(task['id'])}")
    elapsed = _short_run(browser, celery_stack)
    print(f"a new run after Cancel: results in {elapsed:.2f} s")
