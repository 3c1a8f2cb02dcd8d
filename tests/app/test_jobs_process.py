"""The job process on the embedded default: time limit from outside, Cancel, slots, no zombie or stray process.

Jobs are launched as the web server launches them (:func:`components.jobs.runner.start`),
with the job process's entry point swapped for this file's test doubles where a
job must hang: ``WORKER_ARGV`` runs :func:`components.jobs.worker.main` with a
compute function from here. Production code reads no test hook.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import sys
import threading
import time

import psutil
import pytest

import app
from components.jobs import compute, runner, worker
from components.services import config, store
from components.services.data_source import builtin_key, load_dataset
from components.views import provenance
from components.views.specs import ui_from_prior
from tests.services.stack import wait_until

TOY = builtin_key("paper_toy")
#: The job process with a compute function from this module: ``python -c DOUBLE <name>``.
DOUBLE = ("import sys; import tests.app.test_jobs_process as doubles; "
          "from components.jobs import worker; sys.exit(worker.main(getattr(doubles, sys.argv[1])))")


def block_in_one_call(token, job_id):
    """A computation stuck in one C-level call that never returns to Python (no callbacks, no checks)."""
    select.select([], [], [], 3600)


def block_in_the_third_method(token, job_id):
    """The real computation, stuck in one call as soon as its third method starts."""
    from components.jobs import worker

    real = compute.fit_method

    def fit(method, dataset, prior_D, prior_H, settings, callback):
        if method == settings.methods[2]:
            select.select([], [], [], 3600)
        return real(method, dataset, prior_D, prior_H, settings, callback)

    compute.fit_method = fit  # in this forked child only
    worker.compute_job(token, job_id)


def toy_request(max_iter=200, methods=("gppnmf", "cnmf", "ls_nmf")) -> dict:
    dataset = load_dataset(TOY)
    preset = dataset.presets["correct"]
    specs = {"dataset": TOY, "D": ui_from_prior(preset.prior_D), "H": ui_from_prior(preset.prior_H),
             "noise_var": preset.noise_var}
    settings = compute.JobSettings(methods=tuple(methods), rank=2, max_iter=max_iter, tol=1e-6, n_replicates=1,
                                noise_var=preset.noise_var)
    return {"specs": specs, "settings": dataclasses.asdict(settings)}


REAL_WORKER = list(runner.WORKER_ARGV)
_started: list[str] = []  # sessions whose jobs this test started


@pytest.fixture(autouse=True)
def cancel_leftover_jobs():
    """A failed test must not leave a job running for its ten-minute limit."""
    yield
    while _started:
        runner.cancel(_started.pop())


@pytest.fixture
def use_double(monkeypatch):
    def use(name: str | None) -> None:
        argv = REAL_WORKER if name is None else [sys.executable, "-c", DOUBLE, name]
        monkeypatch.setattr(runner, "WORKER_ARGV", argv)
    return use


def start(token: str, request: dict) -> dict:
    _started.append(token)
    with app.server.app_context():  # the job process gets the app's secret key, as from a callback
        return runner.start(token, request)


def wait_for_state(token: str, states: tuple, timeout: float = 60.0) -> dict:
    return wait_until(lambda: (r := runner.status(token)) is not None and r["state"] in states and r,
                      timeout, interval=0.05, message=f"the job did not reach {states}: {runner.read(token)}")


def job_tree(record: dict) -> list[psutil.Process]:
    """The job process and its computation, once the computation has started."""
    supervisor = psutil.Process(record["pid"])
    children = wait_until(lambda: supervisor.children(recursive=True), 30, interval=0.05,
                          message="the computation did not start")
    return [supervisor, *children]


def running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def assert_all_gone(processes: list[psutil.Process], timeout: float = 15.0) -> None:
    """None runs; the job process (our child) is reaped, not left a zombie."""
    wait_until(lambda: not any(running(p) for p in processes), timeout, interval=0.05,
               message=f"still running: {[p.pid for p in processes if running(p)]}")
    supervisor = processes[0]
    wait_until(lambda: not psutil.pid_exists(supervisor.pid), timeout, interval=0.05,
               message=f"the job process {supervisor.pid} was not reaped (a zombie)")
    me = psutil.Process(os.getpid())
    zombies = [c.pid for c in me.children(recursive=True) if c.status() == psutil.STATUS_ZOMBIE]
    assert not zombies, f"zombies under the test process: {zombies}"


def test_a_job_ends_with_its_results_and_leaves_no_process():
    token = store.new_session_id()
    record = start(token, toy_request())
    processes = [psutil.Process(record["pid"])]
    done = wait_for_state(token, ("done", "error"))
    assert done["state"] == "done", done
    assert store.get(token, "results")[1]["methods"] == ["gppnmf", "cnmf", "ls_nmf"]
    assert_all_gone(processes)


def test_one_job_per_session():
    token = store.new_session_id()
    job_process = psutil.Process(start(token, toy_request(max_iter=100000))["pid"])
    with pytest.raises(runner.JobRefused, match="already has a job queued or running"):
        start(token, toy_request())
    runner.cancel(token)
    assert runner.read(token)["state"] == "cancelled"
    assert_all_gone([job_process])


def test_a_job_stuck_in_one_call_is_stopped_at_its_time_limit(use_double, monkeypatch):
    monkeypatch.setattr(config, "JOB_TIMEOUT_S", 2.0)
    use_double("block_in_one_call")
    token = store.new_session_id()
    start(token, toy_request())
    processes = job_tree(wait_for_state(token, ("running",)))
    ended = wait_for_state(token, ("error",), timeout=60)
    # How soon after the limit is a benchmark's question (no wall-clock assertion here): printed only.
    print(f"\nstuck job: stopped {time.time() - ended['started']:.2f} s after it started running (limit 2 s)")
    assert ended["status"] == "stopped"
    assert ended["message"].startswith("stopped after 2 s, this server's time limit for a job (GPPNMF_JOB_TIMEOUT_S)")
    assert_all_gone(processes)


def test_cancel_kills_the_job_and_frees_the_only_slot_for_the_next_session(use_double, monkeypatch):
    monkeypatch.setattr(config, "MAX_JOBS", 1)
    use_double("block_in_one_call")
    first, second = store.new_session_id(), store.new_session_id()
    start(first, toy_request())
    processes = job_tree(wait_for_state(first, ("running",)))
    start(second, toy_request())
    wait_until(lambda: runner.read(second)["text"] == "queued: yours is next (1 job running)", 30,
               interval=0.05, message=f"the second job did not wait for the slot: {runner.read(second)}")
    cancelled = runner.cancel(first)
    assert cancelled["state"] == "cancelled" and cancelled["message"].startswith("Cancelled")
    assert not any(running(p) for p in processes), "Cancel returned before the job was stopped"
    assert_all_gone(processes)
    processes = job_tree(wait_for_state(second, ("running",), timeout=30))  # it got the freed slot
    runner.cancel(second)
    assert_all_gone(processes)


def test_a_page_polling_during_cancel_sees_cancelled_never_lost(use_double):
    """Cancel kills the job before it writes "cancelled": a poll in between must not call the job lost."""
    use_double("block_in_one_call")
    token = store.new_session_id()
    start(token, toy_request())
    job_tree(wait_for_state(token, ("running",)))
    seen: list[str] = []
    cancelling = threading.Event()

    def poll_like_the_page():
        while not cancelling.is_set():
            seen.append((runner.status(token) or {}).get("state"))

    poller = threading.Thread(target=poll_like_the_page)
    poller.start()
    try:
        wait_until(lambda: seen, 10, interval=0.01, message="the poller did not start")
        cancelled = runner.cancel(token)
    finally:
        cancelling.set()
        poller.join()
    assert cancelled["state"] == "cancelled", cancelled
    assert "lost" not in seen and runner.status(token)["state"] == "cancelled"


def test_a_killed_computation_is_reported_and_leaves_no_process(use_double):
    use_double("block_in_one_call")
    token = store.new_session_id()
    start(token, toy_request())
    supervisor, *computation = job_tree(wait_for_state(token, ("running",)))
    for process in computation:
        process.send_signal(signal.SIGKILL)
    ended = wait_for_state(token, ("error",), timeout=30)
    assert "stopped unexpectedly (its computation ended with signal 9)" in ended["message"]
    assert_all_gone([supervisor, *computation])


def test_a_killed_job_process_is_reported_lost_and_its_computation_dies_with_it(use_double):
    use_double("block_in_one_call")
    token = store.new_session_id()
    start(token, toy_request())
    supervisor, *computation = job_tree(wait_for_state(token, ("running",)))
    supervisor.send_signal(signal.SIGKILL)
    lost = wait_for_state(token, ("lost",), timeout=30)
    assert lost["message"] == runner.LOST_MESSAGE
    # The computation dies with its parent (an orphan's zombie belongs to PID 1, which may not reap it).
    wait_until(lambda: not any(running(p) for p in computation), 15, interval=0.05,
               message="the computation outlived its job process")
    wait_until(lambda: not psutil.pid_exists(supervisor.pid), 15, interval=0.05, message="job process not reaped")
    use_double(None)
    start(token, toy_request())  # the session may run again
    assert wait_for_state(token, ("done", "error"))["state"] == "done"


def test_a_done_job_is_kept_in_the_session_history():
    token = store.new_session_id()
    record = start(token, toy_request(methods=("gppnmf", "cnmf")))
    assert wait_for_state(token, ("done", "error"))["state"] == "done"
    (run,) = compute.runs(token)
    assert run["job_id"] == record["id"] and run["methods"] == ["gppnmf", "cnmf"] and "partial" not in run
    assert run["scores"] == store.get(token, "results")[1]["scores"]
    assert store.get(token, compute.PARTIAL) is None  # the partial entry goes once the whole results are there


def test_cancel_during_the_third_method_keeps_the_two_that_finished(use_double):
    use_double("block_in_the_third_method")
    token = store.new_session_id()
    record = start(token, toy_request(max_iter=50))
    wait_until(lambda: "LS-NMF (3/3)" in runner.read(token)["text"], 60, interval=0.05,
               message=f"the third method did not start: {runner.read(token)}")
    processes = job_tree(runner.read(token))
    cancelled = runner.cancel(token)
    assert cancelled["state"] == "cancelled"
    assert_all_gone(processes)
    arrays, meta = store.get(token, "results")
    assert meta["job_id"] == record["id"] and meta["methods"] == ["gppnmf", "cnmf"]
    assert set(arrays) == {f"{m}.{x}" for m in ("gppnmf", "cnmf") for x in ("D", "H", "trace")}
    assert meta["partial"] == {"finished": ["gppnmf", "cnmf"], "during": "ls_nmf", "ended": "cancelled"}
    assert "partial: cancelled during LS-NMF: GPP-NMF and CNMF finished." in provenance.describe(meta)
    assert [run["partial"]["ended"] for run in compute.runs(token)] == ["cancelled"]  # kept in the history too


def test_the_time_limit_keeps_the_methods_that_finished():
    """The supervisor's time limit (here 0 s, so nothing can race it) on a job whose first method finished."""
    import subprocess

    token = store.new_session_id()
    record = {**runner.new_record(toy_request(), "embedded"), "state": "running", "started": time.time()}
    runner.write(token, record)
    dataset, prior_D, prior_H, settings = compute.prepare(record["request"], token)
    first = compute.run_decomposition(dataset, prior_D, prior_H, dataclasses.replace(settings, methods=("gppnmf",)))
    compute.store_results(token, TOY, dataset, settings, first, record["request"]["specs"], job_id=record["id"],
                       pending="cnmf", name=compute.PARTIAL)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    assert worker._wait_for_child(token, record["id"], child.pid, timeout_s=0.0) == "timeout"
    assert child.poll() is not None or not running(psutil.Process(child.pid))
    ended = runner.read(token)
    assert ended["state"] == "error" and ended["status"] == "stopped"
    meta = store.get(token, "results")[1]
    assert meta["methods"] == ["gppnmf"] and meta["partial"]["ended"] == worker.ENDED_TIME_LIMIT
    assert "stopped at the time limit during CNMF: GPP-NMF finished" in provenance.describe(meta)


def test_a_job_no_page_polls_is_cancelled_after_the_grace_period(use_double, monkeypatch):
    monkeypatch.setattr(runner, "JOB_GRACE_S", 1.0)  # read when the job is queued
    use_double("block_in_one_call")
    token = store.new_session_id()
    record = start(token, toy_request())

    def page_polls_until_running():  # a page polls while the job starts, then goes away
        runner.seen(token, record["id"])
        return (r := runner.read(token))["state"] == "running" and r

    processes = job_tree(wait_until(page_polls_until_running, 60, interval=0.05, message="the job did not run"))
    cancelled = wait_for_state(token, ("cancelled",), timeout=60)  # the test only reads the record: no poll
    assert cancelled["message"] == "cancelled: the page was closed"
    assert_all_gone(processes)


def test_a_page_that_polls_keeps_its_job_and_one_that_stopped_does_not():
    record = {"id": "j", "created": 100.0, "limits": {"grace_s": 120.0}}
    assert not runner.page_gone(record, last_poll=100.0, now=219.0)
    assert runner.page_gone(record, last_poll=100.0, now=221.0)
    assert not runner.page_gone({"id": "old", "limits": {}}, 0.0, 1e9)  # a record from before grace periods
    token = store.new_session_id()
    assert runner.last_seen(token, record) == 100.0  # created counts as the first poll
    runner.seen(token, "j")
    assert runner.last_seen(token, record) > 100.0
    assert runner.last_seen(token, {**record, "id": "another"}) == 100.0  # another job's poll does not count


def test_waiting_jobs_take_the_slot_first_come_first_served(use_double, monkeypatch):
    monkeypatch.setattr(config, "MAX_JOBS", 1)
    use_double("block_in_one_call")
    first, second, third = (store.new_session_id() for _ in range(3))
    start(first, toy_request())
    processes = job_tree(wait_for_state(first, ("running",)))
    start(second, toy_request())
    wait_until(lambda: runner.read(second)["text"] == "queued: yours is next (1 job running)", 30,
               interval=0.05, message=f"the second job did not queue: {runner.read(second)}")
    start(third, toy_request())
    wait_until(lambda: runner.read(third)["text"] == "queued: 1 job ahead of yours (1 job running)", 30,
               interval=0.05, message=f"the third job did not queue behind the second: {runner.read(third)}")
    runner.cancel(first)
    assert_all_gone(processes)
    processes = job_tree(wait_for_state(second, ("running",), timeout=30))
    assert runner.read(third)["state"] == "queued"  # the older job got the slot
    wait_until(lambda: runner.read(third)["text"] == "queued: yours is next (1 job running)", 30,
               interval=0.05, message=f"the third job did not move up: {runner.read(third)}")
    runner.cancel(second)
    assert_all_gone(processes)
    processes = job_tree(wait_for_state(third, ("running",), timeout=30))
    runner.cancel(third)
    assert_all_gone(processes)


def test_a_celery_job_reads_its_place_from_the_brokers_queue():
    """Kombu's Redis list as a worker sees it (checked against a real broker): newest first, taken from the end."""
    def message(task_id):
        return json.dumps({"body": "…", "headers": {"id": task_id, "task": runner.JOB_TASK}}).encode()

    queue = [message("newest"), b"not json", message("mine"), message("older"), message("oldest")]
    assert runner.place_in_queue(queue, "mine") == 2
    assert runner.place_in_queue(queue, "oldest") == 0
    assert runner.place_in_queue(queue, "taken by a worker") is None
    assert runner.queue_text(2) == "queued: 2 jobs ahead of yours"
    assert runner.queue_text(0, 2) == "queued: yours is next (2 jobs running)"
    assert runner.queue_text(1, 1) == "queued: 1 job ahead of yours (1 job running)"
