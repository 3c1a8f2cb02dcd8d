"""Limits that protect the server: job slots, size and rank caps, lost jobs (time limit: test_jobs_process.py)."""

import subprocess
import sys
import threading
import time

import psutil
import pytest

import app  # noqa: F401 - binds the cache
from components.jobs import compute, runner
from components.jobs.slots import job_slot
from components.panels import decompose_panel
from components.services import config, store
from components.services.data_source import builtin_key, load_dataset
from components.views.specs import factor_axis, prior_from_ui, ui_from_prior

TOY = builtin_key("paper_toy")


def _toy_job(**change):
    dataset = load_dataset(TOY)
    preset = dataset.presets["correct"]
    priors = [prior_from_ui(ui_from_prior(p), factor_axis(dataset, f), f)
              for f, p in (("D", preset.prior_D), ("H", preset.prior_H))]
    settings = dict(methods=("gppnmf", "cnmf"), rank=2, max_iter=1000, tol=1e-6, n_replicates=1, noise_var=25.0)
    settings.update(change)
    return dataset, priors, compute.JobSettings(**settings)


def test_a_job_waits_for_a_free_slot_and_says_so():
    waits, order = [], []
    with job_slot(n_slots=1) as first:
        def second():
            with job_slot(on_wait=waits.append, poll_s=0.05, n_slots=1):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        order.append("first done")
        assert first == 0 and waits and waits[0] == 1  # queued, and told how many jobs run
    thread.join(timeout=5)
    assert order == ["first done", "second"]


def test_size_and_rank_caps(monkeypatch):
    dataset, _, settings = _toy_job()
    monkeypatch.setattr(config, "MAX_JOB_ENTRIES", 10_000)
    with pytest.raises(ValueError, match="exceed this server's limit of 10,000 values per job"):
        compute.check_settings(dataset, settings)
    monkeypatch.setattr(config, "MAX_JOB_ENTRIES", 10**9)
    monkeypatch.setattr(config, "MAX_RANK", 1)
    with pytest.raises(ValueError, match=r"rank must be a whole number from 1 to 1 .*GPPNMF_MAX_RANK = 1"):
        compute.check_settings(dataset, settings)


def _record_of_a_finished_process(state: str) -> dict:
    """A job record naming a job process that has already exited (as after a SIGKILL)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(process.pid).create_time()
    process.wait()
    record = runner.new_record({}, "embedded")
    record.update(state=state, pid=process.pid, pgid=process.pid, pid_created=created)
    return record


def test_a_job_whose_process_is_gone_is_reported_lost_once():
    session = store.new_session_id()
    runner.write(session, _record_of_a_finished_process("running"))
    view = decompose_panel.poll_job(session, None, page_load=False)
    assert "stopped unexpectedly" in view.message.children and view.status == "failed"
    assert view.poll_disabled and not view.run_disabled and view.cancel_disabled
    assert runner.read(session)["state"] == "lost"
    again = decompose_panel.poll_job(session, None, page_load=True)  # a reload does not say it again
    assert again.message is decompose_panel.no_update and again.status == "failed"


def test_a_finished_job_is_not_taken_for_lost():
    session = store.new_session_id()
    runner.write(session, _record_of_a_finished_process("done"))
    assert runner.status(session)["state"] == "done"
    view = decompose_panel.poll_job(session, None, page_load=True)  # a reloaded page shows the results
    assert view.result == {"run": runner.read(session)["id"], "error": None}
    assert decompose_panel.poll_job(session, view.result, page_load=False).result is decompose_panel.no_update
