"""Many sessions at once on the embedded default, over HTTP: every job runs, none is lost, nobody sees another's.

``gunicorn -w 2 app:server`` without REDIS_URL (jobs in fresh processes, two
job slots) on 127.0.0.1. Sixteen sessions, each with its own cookie jar, upload
the CSI phantom scaled by their own factor k, read it, redraw the prior, run a
short decomposition, poll it to its end and download the results: LS-NMF's and
CNMF's RMSE (vs the data) divided by k must equal session 1's (both fits are
scale-equivariant, so a session given another's results would be off by a
factor). Three rounds, fresh sessions each; the server log must hold no traceback.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import threading
import time

import numpy as np
import pytest
from http_page import HttpPage, callback_outputs

import app
import gppnmf_core as gp
from components.panels import decompose_panel
from tests.services.stack import Stack, StackError, missing_packages

N_SESSIONS, N_ROUNDS = 16, 3
SCALE_CHECKED = ("ls_nmf", "cnmf")
TIMEOUT_S = 150.0  # for one session's whole round, on a loaded two-core machine


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    if "gunicorn" in missing_packages():
        if os.environ.get("GPPNMF_REQUIRE_SERVICES"):
            pytest.fail("GPPNMF_REQUIRE_SERVICES is set but gunicorn is missing")
        pytest.skip("gunicorn is not installed (pip install -r requirements-scale.txt)")
    stack = Stack(tmp_path_factory.mktemp("embedded-load"), backend="embedded")
    try:
        stack.start()
    except StackError as exc:
        pytest.fail(f"the embedded server did not start: {exc}")
    try:
        yield stack
    finally:
        problems = stack.stop()
        assert not problems, f"left running after teardown: {problems}"


def scaled_phantom_upload(k: int) -> tuple[str, str]:
    """Session k's file as dcc.Upload sends it: (data URL, file name)."""
    csi = gp.datasets.csi_phantom(random_state=0)
    buffer = io.BytesIO()
    np.savez(buffer, X=k * csi.X, ppm=csi.rows.values, grid_shape=np.array(csi.cols.shape))
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"data:application/octet-stream;base64,{encoded}", f"load-s{k:02d}.npz"


def run_session(base_url: str, outputs: dict, k: int, upload: tuple[str, str], deadline: float) -> dict:
    """One user's round: upload, read, prior, Run, poll to the end, download; the downloaded metrics."""
    page = HttpPage(base_url, outputs)
    contents, name = upload
    page.set("upload", contents=contents, filename=name)
    page.call("receive_upload", "upload.contents")
    page.call("read_upload", "upload-token.data")
    assert f"Read {name}: 397 × 512" in page.text("upload-message"), page.text("upload-message")
    for callback in ("suggest_rank", "offer_presets", "collect_prior_specs"):  # the new data set's controls
        page.call(callback, "dataset-key.data")
    if page.get("preset-picker", "value"):
        page.call("apply_preset", "preset-picker.value")
        page.call("collect_prior_specs", '{"factor":"D","type":"kernel"}.value')
    assert page.get("prior-specs", "data")["dataset"] == page.get("dataset-key", "data")
    assert page.call("draw_prior_samples", "prior-specs.data"), "the prior was not redrawn"

    page.set("iter-input", value=20)
    page.set("run-button", n_clicks=1)
    page.call("drive_job", "run-button.n_clicks")
    assert page.get("run-button", "disabled") and page.text("job-message") == "", page.text("job-message")
    statuses, ticks = [], 0
    while not page.get("job-poll", "disabled"):
        assert time.monotonic() < deadline, f"session {k}: the job did not end; status seen: {statuses[-5:]}"
        time.sleep(decompose_panel.POLL_MS / 1000)  # the page's dcc.Interval: the next tick, not a guess
        ticks += 1
        page.set("job-poll", n_intervals=ticks)
        page.call("drive_job", "job-poll.n_intervals")
        statuses.append(page.text("job-status"))
    result = page.get("job-result", "data")
    assert result and result["error"] is None, f"session {k}: {result}; {page.text('job-message')}"
    page.call("show_results", "job-result.data")
    assert page.text("job-message") == ""
    page.set("download-npz", n_clicks=1)
    download = page.call("download_results", "download-npz.n_clicks")["download-results"]["data"]
    with np.load(io.BytesIO(base64.b64decode(download["content"]))) as archive:
        metrics = json.loads(str(archive["metrics_json"]))
        settings = json.loads(str(archive["settings_json"]))
    assert settings["data"].startswith(name) or name in settings["data"], settings["data"]
    assert not page.side_updates, page.side_updates
    return {"k": k, "scores": metrics["scores"], "waited": any(s.startswith("waiting") for s in statuses)}


def run_round(base_url: str, outputs: dict, uploads: list) -> list[dict]:
    results: list = [None] * len(uploads)
    errors: list[str] = []
    deadline = time.monotonic() + TIMEOUT_S
    barrier = threading.Barrier(len(uploads))

    def user(i):
        try:
            barrier.wait(timeout=60)
            results[i] = run_session(base_url, outputs, i + 1, uploads[i], deadline)
        except BaseException as exc:  # every session's failure is reported, not only the first
            errors.append(f"session {i + 1}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(len(uploads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(1.0, deadline - time.monotonic() + 30))
    assert not errors, "\n".join(errors)
    assert all(r is not None for r in results), "a session did not finish"
    return results


def test_sixteen_sessions_each_get_their_own_results_in_three_rounds(embedded_server):
    outputs = callback_outputs(app.app)
    uploads = [scaled_phantom_upload(k) for k in range(1, N_SESSIONS + 1)]
    for round_number in range(1, N_ROUNDS + 1):
        started = time.perf_counter()
        results = run_round(embedded_server.base_url, outputs, uploads)
        reference = results[0]["scores"]
        for r in results:
            for method in SCALE_CHECKED:
                mine, ref = r["scores"][method]["rmse_noisy"] / r["k"], reference[method]["rmse_noisy"]
                assert math.isclose(mine, ref, rel_tol=1e-3), \
                    f"round {round_number}, session {r['k']}: {method} RMSE/k {mine:.6g} vs {ref:.6g}"
        waited = sum(r["waited"] for r in results)
        print(f"\nround {round_number}: {N_SESSIONS} sessions in {time.perf_counter() - started:.1f} s, "
              f"{waited} saw 'waiting' for a job slot")
    log = embedded_server.services["gunicorn"].log()
    assert "Traceback" not in log and " ERROR " not in log, log[-4000:]

