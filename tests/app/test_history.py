"""Run history without a browser: kept runs (bounded), pins, the comparison chart, partial results on the page."""

import app  # noqa: F401 - binds the store the callbacks use
from components.jobs import compute, runner
from components.panels import decompose_panel, history_panel
from components.services import store
from components.services.data_source import builtin_key, load_dataset
from components.views import history_figures
from components.views.theme import METHOD_COLORS

TOY = builtin_key("paper_toy")
CSI = builtin_key("csi_phantom")
JOB = {"methods": ["gppnmf", "cnmf", "ls_nmf"], "rank": 2, "max_iter": 1000, "tol": 1e-6, "n_replicates": 1,
       "noise_var": 25.0, "mask_threshold": 0.0}


def _priors(preset: str) -> dict:
    p = load_dataset(TOY).presets[preset]
    return {"dataset": TOY, "D": p.prior_D.to_spec(), "H": p.prior_H.to_spec(), "noise_var": p.noise_var}


def _run(preset: str, gppnmf_rmse: float, dataset=TOY, methods=("gppnmf", "cnmf", "ls_nmf"), **job) -> dict:
    """A run's meta as a job keeps it (scores made up: the chart only draws them)."""
    scores = {"gppnmf": gppnmf_rmse, "cnmf": 0.9, "ls_nmf": 1.2}
    return {"dataset": dataset, "methods": list(methods), "rank": 2, "job_id": preset, "finished": 0.0,
            "scores": {m: {"rmse_noisy": 5.0, "rmse_noise_free": scores[m], "rmse_factors": scores[m] / 2}
                       for m in methods},
            "settings": {"data": "Toy example", "job": {**JOB, **job}, "priors": _priors(preset)}}


def test_the_session_keeps_its_last_runs_numbered_oldest_first():
    token = store.new_session_id()
    assert compute.runs(token) == []
    numbers = [compute.keep_run(token, _run("correct", 0.3)) for _ in range(compute.RUNS_KEPT + 3)]
    assert numbers == list(range(1, compute.RUNS_KEPT + 4))
    kept = compute.runs(token)
    assert [r["run"] for r in kept] == list(range(4, compute.RUNS_KEPT + 4))
    assert store.get(token, "run-3") is None and store.get(token, f"run-{compute.RUNS_KEPT + 3}") is not None
    assert compute.runs(store.new_session_id()) == []  # another session sees none of them


def test_two_gppnmf_runs_with_the_baselines_once_make_the_papers_figure_3():
    incorrect = {**_run("incorrect", 0.6), "run": 1}
    correct = {**_run("correct", 0.3), "run": 2}
    sets = history_figures.bar_sets([correct, incorrect])
    assert [s["name"] for s in sets] == ["LS-NMF · run 2", "CNMF · run 2", "GPP-NMF · run 1", "GPP-NMF · run 2"]
    figure = history_figures.history_rmse_figure([incorrect, correct])
    assert len(figure.data) == 4 and figure.layout.barmode == "group"
    gpp = [bar for bar in figure.data if bar.name.startswith("GPP-NMF")]
    assert [bar.y[1] for bar in gpp] == [0.6, 0.3]  # vs noise-free data: incorrect, then correct prior
    assert {bar.marker.color for bar in gpp} == {METHOD_COLORS["gppnmf"]}
    assert gpp[0].marker.pattern.shape != gpp[1].marker.pattern.shape  # told apart without colour
    assert figure.layout.meta["summary"]  # named for screen readers like every chart


def test_baselines_with_other_settings_or_data_are_separate_bars():
    runs = [{**_run("correct", 0.3), "run": 1}, {**_run("correct", 0.3, max_iter=10), "run": 2},
            {**_run("correct", 0.3, dataset=CSI), "run": 3}]
    names = [s["name"] for s in history_figures.bar_sets(runs)]
    assert names.count("CNMF · run 1") == names.count("CNMF · run 2") == names.count("CNMF · run 3") == 1
    partial = {**_run("correct", 0.3, methods=("gppnmf",)), "run": 4}
    assert [s["method"] for s in history_figures.bar_sets([partial])] == ["gppnmf"]
    assert len(history_figures.history_rmse_figure([]).data) == 0


def test_the_runs_list_pins_and_comparison_callbacks():
    token = store.new_session_id()
    options, value, empty = history_panel.runs_list(token)
    assert (options, value, empty) == ([], [], history_panel.SHOWN)
    compute.keep_run(token, _run("incorrect", 0.6))
    compute.keep_run(token, _run("correct", 0.3))
    options, value, empty = history_panel.runs_list(token)
    assert [o["value"] for o in options] == [2, 1] and value == [] and empty == history_panel.HIDDEN
    assert options[0]["label"].startswith("run 2 · ") and "Toy example: rank 2 · GPP-NMF, CNMF, LS-NMF" in \
        options[0]["label"]
    assert history_panel.comparison(token, []) == ({}, history_panel.HIDDEN)
    figure, style = history_panel.compare_pinned_runs([1, 2, "forged", True], token)
    assert style == history_panel.SHOWN and len(figure.data) == 4
    assert history_panel.runs_list(token)[1] == [1, 2]  # the pins stay (a reloaded page shows them)


def test_stopped_jobs_hand_the_methods_that_finished_to_the_results_panel():
    token = store.new_session_id()
    record = {"id": "abc", "state": "cancelled", "status": "cancelled", "message": "Cancelled.",
              "backend": "embedded", "limits": {"timeout_s": 60}}
    runner.write(token, record)
    view = decompose_panel.poll_job(token, None, page_load=False)
    assert view.result is decompose_panel.no_update and "Cancelled" in str(view.message)  # nothing finished
    partial = {**_run("correct", 0.3, methods=("gppnmf",)), "job_id": "abc",
               "partial": {"finished": ["gppnmf"], "during": "cnmf", "ended": "cancelled"}}
    store.put(token, "results", {}, partial)
    view = decompose_panel.poll_job(token, None, page_load=False)
    assert view.result == {"run": "abc", "error": None, "ended": "Cancelled.", "state": "cancelled"}
    assert view.status == "cancelled" and view.message is decompose_panel.no_update  # said once the results are drawn
    said = decompose_panel.ended_message(view.result)
    assert said.children == "Cancelled." and said.className == "ok"
    stopped = decompose_panel.ended_message({**view.result, "state": "error", "ended": "stopped after 2 s"})
    assert "stopped after 2 s" in stopped.children and stopped.className == "error"
    assert decompose_panel.ended_message({"run": "abc", "error": None}) is decompose_panel.no_update
    store.put(token, "results", {}, {**partial, "job_id": "another"})  # an older job's results are not these
    assert decompose_panel.poll_job(token, None, page_load=False).result is decompose_panel.no_update
