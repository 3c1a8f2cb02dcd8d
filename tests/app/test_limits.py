"""Limits that protect the server: job slots, time limit, size and rank caps, lost jobs."""

import threading
import time

import pytest

import app  # noqa: F401 - binds the cache
from components import decompose_panel, jobs, services, store
from components.data_source import builtin_key, load_dataset
from components.job_slots import job_slot
from components.specs import factor_axis, prior_from_ui, ui_from_prior

TOY = builtin_key("paper_toy")


def _toy_job(**change):
    dataset = load_dataset(TOY)
    preset = dataset.presets["correct"]
    priors = [prior_from_ui(ui_from_prior(p), factor_axis(dataset, f), f)
              for f, p in (("D", preset.prior_D), ("H", preset.prior_H))]
    settings = dict(methods=("gppnmf", "cnmf"), rank=2, max_iter=1000, tol=1e-6, n_replicates=1, noise_var=25.0)
    settings.update(change)
    return dataset, priors, jobs.JobSettings(**settings)


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


def test_a_job_past_its_time_limit_is_stopped_with_a_reason():
    dataset, priors, settings = _toy_job(max_iter=100000, tol=0.0, methods=("cnmf",), n_replicates=20)
    start = time.perf_counter()
    with pytest.raises(jobs.JobTimeout, match="stopped after 0.5 s, this server's time limit"):
        jobs.run_decomposition(dataset, *priors, settings, timeout_s=0.5)
    assert time.perf_counter() - start < 5


def test_size_and_rank_caps(monkeypatch):
    dataset, _, settings = _toy_job()
    monkeypatch.setattr(services, "MAX_JOB_ENTRIES", 10_000)
    with pytest.raises(ValueError, match="exceed this server's limit of 10,000 values per job"):
        jobs.check_settings(dataset, settings)
    monkeypatch.setattr(services, "MAX_JOB_ENTRIES", 10**9)
    monkeypatch.setattr(services, "MAX_RANK", 1)
    with pytest.raises(ValueError, match=r"rank must be a whole number from 1 to 1 .*GPPNMF_MAX_RANK = 1"):
        jobs.check_settings(dataset, settings)


def test_a_run_that_ended_while_still_running_is_reported_as_lost():
    session = store.new_session_id()
    decompose_panel.set_job_state(session, 3, "running")
    message, status = decompose_panel.notice_lost_job(False, session)
    assert "stopped unexpectedly" in message.children and status == "failed"
    assert decompose_panel.notice_lost_job(False, session) == (decompose_panel.no_update,) * 2  # said once
    decompose_panel.set_job_state(session, 4, "done")
    assert decompose_panel.notice_lost_job(False, session) == (decompose_panel.no_update,) * 2
    assert decompose_panel.notice_lost_job(True, session) == (decompose_panel.no_update,) * 2
