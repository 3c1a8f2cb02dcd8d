"""The ``gppnmf`` command line: read, fit, batch and serve, in-process and through ``python -m gppnmf_core``."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import gppnmf_core as gp
from gppnmf_core.cli import main

PRIOR_D = gp.GPPrior(gp.RBF(10.0), gp.RectifiedGaussianLink(1.0))
PRIOR_H = gp.GPPrior(gp.RBF(10.0), gp.ExponentialLink(1.0))


def _settings(path: Path, D=None, H=None, **changes) -> Path:
    """A settings file of version 1, as earlier app versions saved it (compact form for D, the core spec for H by
    default)."""
    doc = {"format": "gppnmf-studio-prior", "version": 1, "noise_var": 25.0,
           "D": D or {"kernel": "rbf", "beta": 10.0, "link": "rectified_gaussian", "scale": 1.0, "mirror": False},
           "H": H or PRIOR_H.to_spec()}
    doc.update(changes)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def files(tmp_path):
    """Two toy data sets as .npy files (100 features x 200 observations) and a settings file."""
    paths = []
    for seed in (0, 1):
        path = tmp_path / f"subject{seed}.npy"
        np.save(path, gp.datasets.paper_toy(random_state=seed).X)
        paths.append(path)
    return paths, _settings(tmp_path / "settings.json")


def test_read_prints_what_the_reader_sees(files, capsys):
    (first, _), _ = files
    assert main(["read", str(first)]) == 0
    out = capsys.readouterr().out
    assert "X: 100 x 200 (features x observations)" in out and "200 points" in out and "NumPy .npy" in out


def test_read_of_a_bad_file_says_why_and_fails(tmp_path, capsys):
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"not an array")
    assert main(["read", str(bad)]) == 1
    assert "broken.npy: cannot be read" in capsys.readouterr().err


def test_fit_writes_each_files_results_equal_to_the_library(files, tmp_path, capsys):
    paths, settings = files
    out = tmp_path / "out"
    assert main(["fit", *map(str, paths), "--settings", str(settings), "--rank", "2", "--methods", "gppnmf,cnmf",
                 "--max-iter", "300", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("[1/2] ") and "subject0.npy: 100x200, rank 2: gppnmf" in lines[0]
    for seed, path in enumerate(paths):
        folder = out / path.stem
        saved = np.load(folder / "results.npz")
        X = gp.datasets.paper_toy(random_state=seed).X
        expected = gp.fit_gppnmf(X, 2, PRIOR_D, PRIOR_H, 25.0, max_iter=300, random_state=0)
        np.testing.assert_array_equal(saved["D_gppnmf"], expected.D)
        np.testing.assert_array_equal(saved["H_gppnmf"], expected.H)
        np.testing.assert_array_equal(saved["D_cnmf"], gp.cnmf(X, 2, max_iter=300, random_state=0).D)
        summary = json.loads(str(saved["summary_json"]))
        assert summary["file"] == str(path) and summary["fits"]["gppnmf"]["settings"]["random_state"] == 0
        assert summary == json.loads((folder / "summary.json").read_text())
        D_csv = np.loadtxt(folder / "gppnmf_D.csv", delimiter=",", skiprows=1)
        np.testing.assert_allclose(D_csv[:, 1:], expected.D, rtol=1e-15)
        assert (folder / "gppnmf_H.csv").read_text().startswith("component,0,1,2,")


def test_settings_in_either_form_give_the_same_fit(files, tmp_path):
    paths, compact = files
    core = _settings(tmp_path / "core.json", D=PRIOR_D.to_spec(), H={"kernel": "rbf", "beta": 10.0,
                                                                   "link": "exponential", "scale": 1.0})
    for name, settings in (("a", compact), ("b", core)):
        assert main(["fit", str(paths[0]), "--settings", str(settings), "--rank", "2", "--max-iter", "50",
                     "--out", str(tmp_path / name)]) == 0
    a = np.load(tmp_path / "a" / "subject0" / "results.npz")
    b = np.load(tmp_path / "b" / "subject0" / "results.npz")
    np.testing.assert_array_equal(a["D_gppnmf"], b["D_gppnmf"])


def test_version_2_settings_keep_every_core_setting(tmp_path):
    from gppnmf_core.cli import load_settings

    D = gp.GPPrior([gp.Periodic(beta=2.0, period=5.0), gp.RBF(3.0)], gp.GammaLink(k=2.0, theta=0.5), grid=(4, 6),
                   mirror_axis=1, structure="dense", sqrt_method="cholesky").to_spec()
    path = _settings(tmp_path / "v2.json", D=D, H=PRIOR_H.to_spec(), version=2, beta_units={"D": "voxel"},
                     data="a title", job={"rank": 2})
    settings = load_settings(path)
    assert settings["D"] == D and settings["H"] == PRIOR_H.to_spec() and settings["noise_var"] == 25.0
    assert gp.GPPrior.from_spec(settings["D"], grid=(4, 6)).to_spec() == D


@pytest.mark.parametrize("change, message", [
    (dict(format="something"), "not a prior settings file"),
    (dict(version=3), "unsupported settings version 3"),
    (dict(version=True), "unsupported settings version True"),
    (dict(comment="x"), "unknown field(s) ['comment']"),
    (dict(noise_var=-1), "noise_var must be a positive number"),
    (dict(D=[1, 2]), "field 'D' must be a prior"),
    (dict(H={"kernel": "rbf"}), "H.link must be one of ['exponential', 'rectified_gaussian'], got None"),
    (dict(D={"kernel": "rbf", "link": "exponential", "scale": 1}), "D.beta is missing"),
    (dict(D={"kernel": "rbf", "beta": -1, "link": "exponential", "scale": 1}),
     "D: prior spec: kernel.beta must be a positive number, got -1"),
    (dict(version=2, D={"kernel": "rbf", "beta": 1, "link": "exponential", "scale": 1}),
     "D: prior spec: unknown field(s) ['beta', 'scale']"),
    (dict(version=2, D=PRIOR_D.to_spec(), H={"kernel": {"name": "periodic", "period": 0}, "link": {"name": "gamma"}}),
     "H: prior spec: kernel.period must be a positive number, got 0"),
])
def test_bad_settings_are_a_usage_error_naming_the_field(files, tmp_path, capsys, change, message):
    paths, _ = files
    settings = _settings(tmp_path / "bad.json", **change)
    assert main(["fit", str(paths[0]), "--settings", str(settings), "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_usage_errors(files, tmp_path, capsys):
    paths, settings = files
    assert main(["fit", str(paths[0]), "--out", str(tmp_path)]) == 2
    assert "--settings is needed for the gppnmf method" in capsys.readouterr().err
    assert main(["fit", str(paths[0]), "--methods", "nmf", "--out", str(tmp_path)]) == 2
    assert "--methods: each must be one of" in capsys.readouterr().err
    twin = tmp_path / "elsewhere"
    twin.mkdir()
    np.save(twin / "subject0.npy", np.ones((4, 5)))
    assert main(["fit", str(paths[0]), str(twin / "subject0.npy"), "--methods", "cnmf", "--out", str(tmp_path)]) == 2
    assert "share a results folder: subject0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", str(paths[0]), "--rank", "0", "--out", str(tmp_path)])


def test_one_bad_file_fails_alone(files, tmp_path, capsys):
    paths, settings = files
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    out = tmp_path / "out"
    assert main(["fit", str(bad), str(paths[0]), "--methods", "cnmf", "--rank", "2", "--out", str(out)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "broken.npy: FAILED: DataFormatError" in lines[0] and "subject0.npy: 100x200" in lines[1]
    assert (out / "subject0" / "results.npz").is_file() and not (out / "broken").exists()


def test_batch_in_local_processes_attributes_every_result_to_its_file(tmp_path, capsys, monkeypatch):
    """20 files, each a different data set (seed and width), in 2 local processes: no REDIS_URL, no Celery."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    out = tmp_path / "out"
    names = []
    for seed in range(20):
        path = tmp_path / f"s{seed:02d}.npy"
        np.save(path, gp.datasets.paper_toy(random_state=seed).X[:, : 30 + seed])
        names.append(str(path))
    settings = _settings(tmp_path / "settings.json", D=PRIOR_D.to_spec())
    assert main(["batch", *names, "--settings", str(settings), "--methods", "gppnmf,cnmf", "--rank", "2",
                 "--max-iter", "60", "--jobs", "2", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("]")[0] for line in lines] == [f"[{i}/20" for i in range(1, 21)]
    assert sorted(line.split("] ")[1].split(":")[0] for line in lines) == sorted(names)
    for name in names:
        saved = np.load(out / Path(name).stem / "results.npz")
        X = np.load(name)
        expected = gp.fit_gppnmf(X, 2, PRIOR_D, PRIOR_H, 25.0, max_iter=60, random_state=0)
        np.testing.assert_array_equal(saved["D_gppnmf"], expected.D)
        np.testing.assert_array_equal(saved["H_gppnmf"], expected.H)
        np.testing.assert_array_equal(saved["D_cnmf"], gp.cnmf(X, 2, max_iter=60, random_state=0).D)
        assert json.loads(str(saved["summary_json"]))["file"] == name


def test_batch_where_it_runs_is_a_usage_error_when_unclear(files, tmp_path, capsys, monkeypatch):
    paths, _ = files
    monkeypatch.delenv("REDIS_URL", raising=False)
    args = ["batch", str(paths[0]), "--methods", "cnmf", "--out", str(tmp_path / "out")]
    assert main([*args, "--celery"]) == 2
    assert "--celery needs REDIS_URL" in capsys.readouterr().err
    assert main([*args, "--shared-fs"]) == 2
    assert "--shared-fs is for Celery workers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--max-mb", "0"])
    monkeypatch.setenv("REDIS_URL", "redis://:secret@127.0.0.1:9/0")  # --local ignores it: nothing is contacted
    assert main([*args, "--local", "--rank", "2", "--max-iter", "20"]) == 0
    assert "[1/1]" in capsys.readouterr().out and (tmp_path / "out" / "subject0" / "results.npz").is_file()


def test_serve_without_the_app_says_where_it_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "app", None)  # `import app` fails, as outside a checkout
    assert main(["serve"]) == 1
    assert "runs from a checkout of the GPP-NMF Studio repository" in capsys.readouterr().err


def test_serve_runs_the_apps_main(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(main=calls.append, server=object())
    monkeypatch.setitem(sys.modules, "app", fake)
    assert main(["serve", "--port", "9001", "--host", "0.0.0.0"]) == 0
    assert calls == [["--host", "0.0.0.0", "--port", "9001"]]


def test_python_dash_m_gppnmf_core(files):
    """The module entry point, in a fresh interpreter, against the package under test."""
    (first, _), _ = files
    env = {**os.environ, "PYTHONPATH": str(Path(gp.__file__).parents[1])}
    done = subprocess.run([sys.executable, "-m", "gppnmf_core", "read", str(first)], capture_output=True, text=True,
                          env=env, cwd=first.parent, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "X: 100 x 200" in done.stdout
    usage = subprocess.run([sys.executable, "-m", "gppnmf_core", "batch", "--help"], capture_output=True, text=True,
                           env=env, cwd=first.parent, timeout=120)
    assert usage.returncode == 0 and "Celery" in usage.stdout
    version = subprocess.run([sys.executable, "-m", "gppnmf_core", "--version"], capture_output=True, text=True,
                             env=env, cwd=first.parent, timeout=120)
    assert version.stdout.strip() == f"gppnmf {gp.__version__}"
