"""Results say what they came from, warn when the controls moved on, and never pass for another data set's."""

from components.services.data_source import builtin_key
from components.views import provenance

CSI = builtin_key("csi_phantom")
PRIORS = {"dataset": CSI, "noise_var": 1e8,
          "D": {"kernel": {"name": "rbf", "beta": 0.3}, "link": {"name": "exponential", "lam": 1.0}},
          "H": {"kernel": {"name": "rbf", "beta": 2.0}, "link": {"name": "exponential", "lam": 2e-4},
                "mirror_axis": 0}}
META = {"dataset": CSI, "methods": ["gppnmf", "cnmf"], "rank": 2,
        "settings": {"data": "31P CSI phantom", "priors": PRIORS,
                     "job": {"noise_var": 1e8, "mask_threshold": 20.0, "max_iter": 1000, "n_replicates": 1}}}


def test_the_results_name_their_data_and_settings():
    line = provenance.describe(META)
    assert line.startswith("Results for 31P CSI phantom: rank 2 · GPP-NMF, CNMF")
    assert ("D: rbf kernel β 0.3, exponential link λ 1; H: rbf kernel β 2, exponential link λ 0.0002, mirror axis 0"
            in line)
    assert "σ² 1e+08" in line and "voxel mask 20 %" in line and "1000 iterations" in line


def test_matching_controls_show_the_results_without_a_warning():
    children, style = provenance.provenance_view(META, CSI, PRIORS, 2)
    assert style == provenance.SHOWN and children.children == provenance.describe(META)


def test_changed_priors_or_rank_are_flagged():
    edited = {**PRIORS, "H": {**PRIORS["H"], "kernel": {"name": "rbf", "beta": 3.0}}}
    (line, warning), style = provenance.provenance_view(META, CSI, edited, 3)
    assert style == provenance.SHOWN
    assert "rank 2 → 3" in warning.children and "prior of H" in warning.children and warning.className == "error"
    assert provenance.changes(META, None, 2) == []  # invalid controls (no specs): nothing to compare yet


def test_settings_the_controls_cannot_show_are_described_and_compared_in_full():
    periodic = {"kernel": [{"name": "periodic", "beta": 1.0, "period": 5.0}, {"name": "rbf", "beta": 2.0},
                           {"name": "rbf", "beta": 2.0}],
                "link": {"name": "gamma", "k": 2.0, "theta": 3.0}, "mirror_axis": 1, "structure": "dense",
                "sqrt_method": "cholesky"}
    meta = {**META, "settings": {**META["settings"], "priors": {**PRIORS, "H": periodic}}}
    assert ("H: kernels per axis [periodic β 1 period 5 | rbf β 2 | rbf β 2], gamma link k 2 θ 3, mirror axis 1, "
            "dense, cholesky"
            in provenance.describe(meta))
    assert provenance.changes(meta, {**PRIORS, "H": periodic}, 2) == []
    assert provenance.changes(meta, {**PRIORS, "H": {**periodic, "mirror_axis": 2}}, 2) == ["prior of H"]
    # written another way by the same spec (defaults left out, one kernel for all axes): the same prior
    same = {**PRIORS, "D": {**PRIORS["D"], "mirror_axis": None, "structure": "auto"}}
    assert provenance.changes(META, same, 2) == []


def test_results_of_another_data_set_are_hidden_and_said_so():
    children, style = provenance.provenance_view(META, builtin_key("paper_toy"), PRIORS, 2)
    assert style == provenance.HIDDEN and "not the data set selected now" in children.children


def test_no_results_no_line():
    assert provenance.provenance_view(None, CSI, PRIORS, 2) == ("", provenance.SHOWN)


def test_partial_results_say_how_the_job_ended_and_what_finished():
    partial = {**META, "methods": ["gppnmf", "ls_nmf"],
               "partial": {"finished": ["gppnmf", "ls_nmf"], "during": "cnmf", "ended": "cancelled"}}
    assert provenance.partial_note(partial) == "cancelled during CNMF: GPP-NMF and LS-NMF finished"
    assert provenance.describe(partial).endswith("· partial: cancelled during CNMF: GPP-NMF and LS-NMF finished.")
    three = {"finished": ["gppnmf", "cnmf", "ls_nmf"], "during": "x", "ended": None}
    assert provenance.partial_note({"partial": three}) == "stopped during x: GPP-NMF, CNMF and LS-NMF finished"
    assert provenance.partial_note(META) is None and "partial" not in provenance.describe(META)
