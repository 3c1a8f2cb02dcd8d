"""Job kinds other than a decomposition, run as the page runs them (a job process per job, the session's one
slot): How sure? (posterior bands), Suggest settings (model choice) and Estimate σ²; Cancel stops a sampling
job and leaves no process; a decomposition still replaces the session's results, the other kinds never do."""

from __future__ import annotations

import psutil
import pytest
from dash import no_update
from test_jobs_process import _started, assert_all_gone, job_tree, start, toy_request, wait_for_state

import app
from components.jobs import model_choice_job, noise_job, posterior_job, runner
from components.panels import decompose_panel, job_controls, noise_panel, suggest_panel
from components.services import store
from components.services.data_source import builtin_key, load_dataset
from gppnmf_core.results import Progress

TOY = builtin_key("paper_toy")
#: Generous: a loaded 2-core machine runs other suites' jobs beside these.
LONG_S = 600.0


@pytest.fixture(autouse=True)
def cancel_leftover_jobs():
    yield
    while _started:
        runner.cancel(_started.pop())


def toy_specs(preset: str) -> dict:
    p = load_dataset(TOY).presets[preset]
    return {"dataset": TOY, "D": p.prior_D.to_spec(), "H": p.prior_H.to_spec(), "noise_var": p.noise_var}


def run_toy_gppnmf(token) -> dict:
    """A GPP-NMF run of the toy to its end; its results' meta."""
    start(token, toy_request(methods=("gppnmf",)))
    assert wait_for_state(token, ("done", "error"), timeout=LONG_S)["state"] == "done"
    return store.get(token, "results")[1]


def sampling_request(meta: dict, n_draws: int) -> dict:
    request = posterior_job.request_for(meta, run=1)
    return {**request, "sampling": {"n_draws": n_draws, "n_chains": 2}}


def test_a_sampling_job_stores_bands_of_the_run_it_came_from_and_keeps_the_results():
    token = store.new_session_id()
    meta = run_toy_gppnmf(token)
    record = start(token, sampling_request(meta, n_draws=60))
    assert record["kind"] == posterior_job.KIND
    done = wait_for_state(token, ("done", "error"), timeout=LONG_S)
    assert done["state"] == "done", done
    arrays, bands = store.get(token, posterior_job.ENTRY)
    assert arrays["D.q"].shape == (3, 100, 2) and arrays["H.q"].shape == (3, 2, 200)
    assert (arrays["D.q"][0] <= arrays["D.q"][1]).all() and (arrays["D.q"][1] <= arrays["D.q"][2]).all()
    assert bands["source"] == {"job_id": meta["job_id"], "run": 1, "dataset": TOY}
    assert bands["n_chains"] == 2 and bands["n_draws"] == 60
    assert bands["rhat_max"] is None or bands["rhat_max"] > 0.9
    assert store.get(token, "results")[1]["job_id"] == meta["job_id"]  # sampling never clears the run's results


def test_the_page_asks_for_more_draws_while_the_diagnostics_miss_and_says_so_in_the_progress():
    request = posterior_job.request_for({"methods": ["gppnmf"], "settings": {"job": {"rank": 2}, "priors": {"D": {}}}},
                                        1)
    assert request["sampling"] == {"n_draws": posterior_job.N_DRAWS, "n_chains": posterior_job.N_CHAINS,
                                   "max_draws": posterior_job.MAX_DRAWS}
    first_round = 2 * (posterior_job.N_WARMUP + 1000)
    _, text = posterior_job.progress_text(Progress("posterior", 0, 1, 500, first_round, 1.0), 2, first_round)
    assert text.endswith("(warm-up first)")
    fraction, text = posterior_job.progress_text(Progress("posterior", 0, 1, first_round + 10, first_round + 2000,
                                                          1.0), 2, first_round)
    assert "more draws until R̂ ≤ 1.01 and ESS ≥ 200" in text and 0.1 < fraction < 0.95


def test_a_sampling_job_with_max_draws_continues_its_chains_while_the_diagnostics_miss():
    token = store.new_session_id()
    meta = run_toy_gppnmf(token)
    request = sampling_request(meta, n_draws=20)  # far too few for R̂ ≤ 1.01 and ESS ≥ 200 on 1000 summaries
    start(token, {**request, "sampling": {**request["sampling"], "max_draws": 40}})
    done = wait_for_state(token, ("done", "error"), timeout=LONG_S)
    assert done["state"] == "done", done
    bands = store.get(token, posterior_job.ENTRY)[1]
    assert bands["n_draws"] == 40  # one more round of 20, up to the cap


def test_the_run_panel_waits_while_another_kind_runs_and_never_reports_it_as_a_run():
    token = store.new_session_id()
    meta = run_toy_gppnmf(token)
    start(token, sampling_request(meta, n_draws=10**6))
    wait_for_state(token, ("running",), timeout=LONG_S)
    view = decompose_panel.poll_job(token, {"run": meta["job_id"], "error": None}, page_load=False)
    assert view.status == "waiting: How sure? is running"
    assert view.run_disabled is True and view.cancel_disabled is True and view.poll_disabled is False
    assert view.result is no_update  # the results panel is not told to redraw anything
    runner.cancel(token)
    ended = decompose_panel.poll_job(token, None, page_load=False)
    assert ended.status == "idle" and ended.run_disabled is False and ended.result is no_update


def test_how_sure_needs_a_gppnmf_run():
    with pytest.raises(ValueError, match="run GPP-NMF first"):
        posterior_job.request_for({"methods": ["cnmf"], "settings": {}}, run=None)


def test_cancel_stops_a_sampling_job_and_leaves_no_process():
    token = store.new_session_id()
    meta = run_toy_gppnmf(token)
    start(token, sampling_request(meta, n_draws=10**6))
    processes = job_tree(wait_for_state(token, ("running",), timeout=LONG_S))
    cancelled = runner.cancel(token)
    assert cancelled["state"] == "cancelled" and cancelled["kind"] == posterior_job.KIND
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes[1:])
    assert_all_gone(processes)
    assert store.get(token, posterior_job.ENTRY) is None  # a stopped sampling job keeps nothing
    assert store.get(token, "results") is not None


def test_model_choice_on_the_toy_prefers_the_correct_preset_to_the_incorrect_one():
    token = store.new_session_id()
    request = model_choice_job.request_for(load_dataset(TOY), toy_specs("incorrect"), 2, 0, ["presets"])
    names = [c["name"] for c in request["candidates"]]
    assert names == ["current settings, rank 2", "preset 'correct', rank 2"]  # 'incorrect' is the current one
    start(token, request)
    done = wait_for_state(token, ("done", "error"), timeout=LONG_S)
    assert done["state"] == "done", done
    meta = store.get(token, model_choice_job.ENTRY)[1]
    assert meta["candidates"][meta["best_index"]]["name"] == "preset 'correct', rank 2"
    assert len(meta["table"]) == 2 and all("diff_se" in row for row in meta["table"])


def test_candidates_from_the_page_cover_ranks_presets_and_betas_without_duplicates():
    dataset = load_dataset(TOY)
    found = model_choice_job.candidates_from_page(dataset, toy_specs("correct"), 2, list(model_choice_job.FAMILIES))
    names = [c["name"] for c in found]
    assert names[0] == "current settings, rank 2"
    assert {"rank 1, current priors", "rank 3, current priors", "preset 'incorrect', rank 2"} <= set(names)
    assert "preset 'correct', rank 2" not in names  # the same as the current settings
    betas = [c for c in found if c["name"].startswith("β of D")]
    assert sorted(c["D"]["kernel"]["beta"] for c in betas) == [5.0, 20.0]


def test_estimate_sigma2_on_the_toy_lands_near_its_noise_variance():
    token = store.new_session_id()
    start(token, noise_job.request_for(load_dataset(TOY), toy_specs("correct"), 2, 0))
    done = wait_for_state(token, ("done", "error"), timeout=LONG_S)
    assert done["state"] == "done", done
    meta = store.get(token, noise_job.ENTRY)[1]
    assert abs(meta["noise_var"] - 25.0) / 25.0 < 0.05
    assert meta["n_rounds"] >= 1 and meta["specs"]["dataset"] == TOY


def test_an_unknown_kind_ends_in_an_error_for_the_page():
    token = store.new_session_id()
    start(token, {**toy_request(), "kind": "mystery"})
    ended = wait_for_state(token, ("done", "error"), timeout=LONG_S)
    assert ended["state"] == "error" and "cannot run jobs of kind 'mystery'" in ended["message"]


def test_a_decomposition_replaces_the_results_and_other_kinds_their_own_entry_only():
    token = store.new_session_id()
    store.put(token, "results", {}, {"job_id": "old"})
    store.put(token, noise_job.ENTRY, {}, {"job_id": "old"})
    _started.append(token)
    with app.server.app_context():
        runner.start(token, noise_job.request_for(load_dataset(TOY), toy_specs("correct"), 2, 0),
                     clear=(noise_job.ENTRY,))
    assert store.get(token, noise_job.ENTRY) is None  # cleared before the job starts
    assert store.get(token, "results")[1] == {"job_id": "old"}
    wait_for_state(token, ("done", "error"), timeout=LONG_S)
    start(token, toy_request(max_iter=50))
    assert store.get(token, "results") is None  # a decomposition clears the results (by default)


# -- the panels' requests and Apply, called as functions with what a forged request could carry ------------------

FORGED_SPECS = [None, "a string", 42, ["a"], {"dataset": TOY}, {"dataset": ["x"], "D": {}, "H": {}, "noise_var": 1},
                "D.kernel=os.system", "noise_var=-1", "noise_var=nan", "dataset=file:/etc/passwd"]


def _forged(case):
    if not isinstance(case, str) or "=" not in case:
        return case
    path, value = case.split("=", 1)
    specs = toy_specs("correct")
    if path == "D.kernel":
        specs["D"] = {**specs["D"], "kernel": value}
    else:
        specs[path] = float(value) if path == "noise_var" else value
    return specs


def _requests(token, specs, rank=2, mask=0, families=("presets",)):
    return [lambda: suggest_panel.choice_request(token, specs, rank, mask, list(families)),
            lambda: noise_panel.estimate_request(token, specs, rank, mask)]


@pytest.mark.parametrize("case", FORGED_SPECS, ids=str)
def test_forged_prior_specs_give_a_message_and_start_no_job(case):
    token = store.new_session_id()
    for build in _requests(token, _forged(case)):
        view = job_controls.start(token, "any", build, clear=())
        assert view.message.className == "error" and len(view.message.children) < 400
    assert runner.read(token) is None


@pytest.mark.parametrize("rank, mask", [("2; rm -rf", 0), ([2], 0), (10**9, 0), (2.5, 0), (2, "x"), (2, [1]),
                                        (2, float("nan")), (None, None)])
def test_forged_rank_or_mask_give_a_message_and_start_no_job(rank, mask):
    token = store.new_session_id()
    for build in _requests(token, toy_specs("correct"), rank, mask):
        assert job_controls.start(token, "any", build, clear=()).message.className == "error"
    assert runner.read(token) is None


def test_forged_families_compare_nothing_and_say_so():
    for families in (5, "presets", {"presets": 1}, None):
        with pytest.raises(ValueError, match="tick at least one family"):
            model_choice_job.request_for(load_dataset(TOY), toy_specs("correct"), 2, 0, families)


@pytest.mark.parametrize("factor_ids, param_ids, values", [
    (None, None, None), ("x", "y", "z"), ([{"type": "kernel"}], [{"factor": "D"}], [1]),
    ([{"type": "kernel", "factor": "D"}], [{"type": "param-input", "factor": "noise", "name": "var"}], []),
])
def test_apply_with_forged_controls_says_so_and_changes_nothing(factor_ids, param_ids, values):
    token = store.new_session_id()
    request = model_choice_job.request_for(load_dataset(TOY), toy_specs("correct"), 2, 0, ["presets"])
    store.put(token, model_choice_job.ENTRY, {}, {"dataset": TOY, "candidates": request["candidates"],
                                                  "best_index": 1})
    out = suggest_panel.apply_suggestion(1, token, TOY, factor_ids, param_ids, values)
    assert all(o is no_update for o in out[:5]) and out[5].className == "error"


def test_apply_without_a_suggestion_for_this_data_set_says_so():
    token = store.new_session_id()
    out = suggest_panel.apply_suggestion(1, token, TOY, [], [], [])
    assert all(o is no_update for o in out[:5]) and "press Suggest settings first" in out[5].children
    value, said = noise_panel.apply_estimate(1, token, TOY)
    assert value is no_update and "press Estimate σ² first" in said.children
