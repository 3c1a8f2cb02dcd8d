"""``import gppnmf_core`` stays cheap: the heavy modules load on first use, never with the package."""

import importlib.util
import json
import subprocess
import sys

import pytest

#: Modules that ``import gppnmf_core`` must not load (each costs 0.1-1 s; none is needed to fit).
HEAVY = ("scipy.signal", "scipy.io", "scipy.optimize", "scipy.stats", "scipy.interpolate", "nibabel", "pydicom",
         "sklearn", "dash", "plotly", "flask", "celery", "redis")


def _loaded_after(code: str) -> set[str]:
    """Modules in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_gppnmf_core_loads_no_heavy_module():
    loaded = _loaded_after("import gppnmf_core")
    assert "gppnmf_core" in loaded
    assert sorted(m for m in HEAVY if m in loaded) == []
    assert sorted(m for m in loaded if m.startswith("scipy")) == []  # every name loads on first use
    assert "gppnmf_core.io" not in loaded and "gppnmf_core.estimators" not in loaded


def test_the_model_loads_only_what_it_needs():
    loaded = _loaded_after("import gppnmf_core as gp\ngp.GPPrior(gp.RBF(2.0), gp.ExponentialLink(1.0))")
    assert {"gppnmf_core.priors", "gppnmf_core.links", "gppnmf_core.kernels"} <= loaded
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_the_lazy_names_load_on_first_use():
    loaded = _loaded_after("import gppnmf_core as gp\nassert gp.io.read_dataset is gp.read_dataset\n"
                           "gp.rmse([[1.0]], [[1.0]])")
    assert {"gppnmf_core.io", "gppnmf_core.metrics", "nibabel"} <= loaded


def test_a_data_set_and_a_fit_need_no_heavy_module_but_the_optimizer():
    loaded = _loaded_after(
        "import gppnmf_core as gp\n"
        "ds = gp.datasets.calcium_imaging(random_state=0, shape=(8, 8), n_frames=40, n_cells=2)\n"
        "gp.cnmf(ds.X, 2, max_iter=10, random_state=0)")
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_the_figures_load_plotly_only_when_a_figure_is_asked_for():
    loaded = _loaded_after("import gppnmf_core as gp\nfrom gppnmf_core.plotting.theme import METHOD_COLORS\n"
                           "from gppnmf_core.plotting.alignment import align_results\n"
                           "assert 'plot_factors' in dir(gp.plotting)")
    assert "gppnmf_core.plotting" in loaded and sorted(m for m in HEAVY if m in loaded) == []
    if importlib.util.find_spec("plotly") is None:
        pytest.skip("plotly is not installed (the plot extra)")
    loaded = _loaded_after("import gppnmf_core as gp\ngp.plotting.plot_factors")
    assert {"plotly", "gppnmf_core.plotting.notebook"} <= loaded


def test_dir_and_unknown_names():
    import gppnmf_core as gp

    assert {"io", "metrics", "estimators", "plotting", "read_dataset", "fit_gppnmf"} <= set(dir(gp))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        gp.nope  # noqa: B018


def test_the_estimators_without_scikit_learn_say_what_to_install():
    script = ("import sys\nsys.modules['sklearn'] = None  # as if not installed\n"
              "try:\n    import gppnmf_core.estimators\nexcept ImportError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert "gppnmf_core.estimators needs scikit-learn" in out.stdout and "gppnmf-studio[sklearn]" in out.stdout
