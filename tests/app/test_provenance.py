"""Results say what they came from, warn when the controls moved on, and never pass for another data set's."""

from components.services.data_source import builtin_key
from components.views import provenance

CSI = builtin_key("csi_phantom")
PRIORS = {"dataset": CSI, "noise_var": 1e8,
          "D": {"kernel": "rbf", "beta": 0.3, "link": "exponential", "scale": 1.0, "mirror": False},
          "H": {"kernel": "rbf", "beta": 2.0, "link": "exponential", "scale": 2e-4, "mirror": True}}
META = {"dataset": CSI, "methods": ["gppnmf", "cnmf"], "rank": 2,
        "settings": {"data": "31P CSI phantom", "priors": PRIORS,
                     "job": {"noise_var": 1e8, "mask_threshold": 20.0, "max_iter": 1000, "n_replicates": 1}}}


def test_the_results_name_their_data_and_settings():
    line = provenance.describe(META)
    assert line.startswith("Results for 31P CSI phantom: rank 2 · GPP-NMF, CNMF")
    assert "D: rbf β 0.3 exponential 1; H: rbf β 2 exponential 0.0002 mirror" in line
    assert "σ² 1e+08" in line and "voxel mask 20 %" in line and "1000 iterations" in line


def test_matching_controls_show_the_results_without_a_warning():
    children, style = provenance.provenance_view(META, CSI, PRIORS, 2)
    assert style == provenance.SHOWN and children.children == provenance.describe(META)


def test_changed_priors_or_rank_are_flagged():
    edited = {**PRIORS, "H": {**PRIORS["H"], "beta": 3.0}}
    (line, warning), style = provenance.provenance_view(META, CSI, edited, 3)
    assert style == provenance.SHOWN
    assert "rank 2 → 3" in warning.children and "prior of H" in warning.children and warning.className == "error"
    assert provenance.changes(META, None, 2) == []  # invalid controls (no specs): nothing to compare yet


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
