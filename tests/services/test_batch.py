"""``gppnmf batch`` on the app's Celery workers: Redis (with a password) and two workers on loopback.

Twenty small files, each a different data set (its own seed and width), go to
the workers as JSON messages; every result must equal a local fit of that
file, bit for bit, and sit in that file's folder. Files that cannot be fitted
or sent fail alone, each with a line that says why. Every wait is bounded (the
command's own timeout, subprocess timeouts); nothing sleeps a fixed time.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.batch import BATCH_TASK, decode_arrays, encode_arrays

PRIOR_D = gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0))
PRIOR_H = gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0))
N_FILES = 20
MAX_ITER = 60


def _data(seed: int) -> np.ndarray:
    """File ``seed``'s data: the toy set of that seed, 30 + seed observations (shapes differ file to file)."""
    return gp.datasets.paper_toy(random_state=seed).X[:, : 30 + seed]


def _write_files(folder: Path, n: int = N_FILES) -> tuple[list[Path], Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(n):
        path = folder / f"subject{seed:02d}.npy"
        np.save(path, _data(seed))
        paths.append(path)
    settings = folder / "settings.json"
    settings.write_text(json.dumps({"format": "gppnmf-studio-prior", "version": 2, "noise_var": 25.0,
                                    "D": PRIOR_D.to_spec(), "H": PRIOR_H.to_spec()}))
    return paths, settings


def _batch(stack, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m gppnmf_core batch ARGS`` with the stack's REDIS_URL, as a user runs it."""
    env = {**stack.env, "REDIS_URL": stack.redis_url}
    return subprocess.run([sys.executable, "-m", "gppnmf_core", "batch", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def _check_results(out: Path, paths: list[Path]) -> None:
    """Each file's folder holds its own fit: equal to a local fit of that file's data."""
    for path in paths:
        folder = out / path.stem
        saved = np.load(folder / "results.npz")
        X = np.load(path)  # the file's data, as the reader gives it (C order; a slice of another array is not)
        expected = gp.fit_gppnmf(X, 2, PRIOR_D, PRIOR_H, 25.0, max_iter=MAX_ITER, random_state=0)
        np.testing.assert_array_equal(saved["D_gppnmf"], expected.D, err_msg=path.name)
        np.testing.assert_array_equal(saved["H_gppnmf"], expected.H, err_msg=path.name)
        np.testing.assert_array_equal(saved["D_cnmf"], gp.cnmf(X, 2, max_iter=MAX_ITER, random_state=0).D,
                                      err_msg=path.name)
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["file"] == str(path) and summary["shape"] == list(X.shape)
        assert summary == json.loads(str(saved["summary_json"]))
        D_csv = np.loadtxt(folder / "gppnmf_D.csv", delimiter=",", skiprows=1)
        np.testing.assert_array_equal(D_csv[:, 1:], expected.D)


def _tasks_per_worker(stack) -> dict[str, int]:
    stats = stack.client().control.inspect(timeout=2.0).stats() or {}
    return {node: s.get("total", {}).get(BATCH_TASK, 0) for node, s in stats.items()}


def test_twenty_files_on_two_workers_each_result_its_files(batch_workers, tmp_path):
    stack = batch_workers
    paths, settings = _write_files(tmp_path / "data")
    out = tmp_path / "out"
    before = _tasks_per_worker(stack)
    start = time.perf_counter()
    done = _batch(stack, *paths, "--settings", settings, "--methods", "gppnmf,cnmf", "--rank", 2,
                  "--max-iter", MAX_ITER, "--out", out, "--timeout", 120)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr + stack.services["worker1"].tail()
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"gppnmf batch: {N_FILES} file(s) to 2 worker(s) on redis://127.0.0.1:")
    assert stack.redis_password not in done.stdout + done.stderr  # the URL's password is never printed
    progress = lines[1:]
    assert len(progress) == N_FILES and [line.split("]")[0] for line in progress] == \
        [f"[{i}/{N_FILES}" for i in range(1, N_FILES + 1)]
    assert sorted(line.split("] ")[1].split(":")[0] for line in progress) == sorted(map(str, paths))
    _check_results(out, paths)
    after = _tasks_per_worker(stack)
    per_worker = {node: after[node] - before.get(node, 0) for node in after}
    assert sum(per_worker.values()) == N_FILES and all(n > 0 for n in per_worker.values()), per_worker
    print(f"\n{N_FILES} files on 2 Celery workers: {seconds:.1f} s (tasks per worker {per_worker})")


def test_shared_filesystem_paths_and_their_limits(batch_workers, tmp_path):
    stack = batch_workers
    inside, settings = _write_files(stack.shared_root / tmp_path.name, n=3)
    outside, _ = _write_files(tmp_path / "private", n=1)
    out = tmp_path / "out"
    done = _batch(stack, *inside, "--settings", settings, "--methods", "gppnmf,cnmf", "--rank", 2,
                  "--max-iter", MAX_ITER, "--shared-fs", "--out", out, "--timeout", 120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(paths, --shared-fs)" in done.stdout
    _check_results(out, inside)
    refused = _batch(stack, outside[0], "--methods", "cnmf", "--shared-fs", "--out", tmp_path / "o2",
                     "--timeout", 120)
    assert refused.returncode == 1
    assert f"{outside[0]}: FAILED: PermissionError: " in refused.stdout
    assert "is not below the directories this worker reads (GPPNMF_BATCH_SHARED_ROOT)" in refused.stdout


def test_a_bad_file_and_a_too_big_file_fail_alone(batch_workers, tmp_path):
    stack = batch_workers
    paths, settings = _write_files(tmp_path / "data", n=2)
    broken = tmp_path / "data" / "broken.npy"
    broken.write_bytes(b"\x93NUMPY garbage")
    big = tmp_path / "data" / "big.npy"
    np.save(big, np.ones((100, 400)))
    out = tmp_path / "out"
    done = _batch(stack, broken, *paths, big, "--settings", settings, "--methods", "gppnmf,cnmf", "--rank", 2,
                  "--max-iter", MAX_ITER, "--max-mb", 0.2, "--out", out, "--timeout", 120)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = {line.split("] ")[1].split(":")[0]: line for line in done.stdout.splitlines()[1:]}
    assert set(lines) == {str(broken), str(big), *map(str, paths)}
    assert "FAILED: DataFormatError" in lines[str(broken)]
    assert "FAILED: not sent: 0.3 MiB is more than the 0.2 MiB a file may send" in lines[str(big)]
    assert "--shared-fs" in lines[str(big)]
    _check_results(out, paths)
    assert not (out / "broken").exists() and not (out / "big").exists()


def test_no_worker_says_so(tmp_path):
    """REDIS_URL pointing at nothing: a clear message and every file failed, within the check's bound."""
    paths, settings = _write_files(tmp_path / "data", n=1)
    env = {**os.environ, "REDIS_URL": "redis://:x@127.0.0.1:9/0"}  # port 9 (discard): nothing listens
    done = subprocess.run([sys.executable, "-m", "gppnmf_core", "batch", str(paths[0]), "--methods", "cnmf",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode in (1, 2), done.stdout + done.stderr
    assert "redis://127.0.0.1:9/0" in done.stderr and ":x@" not in done.stderr


def test_arrays_travel_exactly_as_json():
    arrays = {"D": np.random.default_rng(0).random((5, 3)), "n": np.arange(4), "g": np.asarray((8, 8, 8))}
    back = decode_arrays(json.loads(json.dumps(encode_arrays(arrays))))
    for name, value in arrays.items():
        assert back[name].dtype == value.dtype and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name], value)
    with pytest.raises(ValueError, match="do not make shape"):
        decode_arrays({"D": {**encode_arrays({"D": arrays["D"]})["D"], "shape": [5, 4]}})
    with pytest.raises(ValueError, match="not numeric"):
        decode_arrays({"o": {"dtype": "|O", "shape": [1], "data": ""}})
