"""The overview panel: figure builder and callback called as plain functions."""

import numpy as np
import pytest

import gppnmf_core as gp
from components.figures import data_heatmap
from components.overview import show_dataset


def test_heatmap_of_the_csi_phantom_has_ppm_axis_drawn_high_to_low():
    csi = gp.datasets.csi_phantom(random_state=0)
    fig = data_heatmap(csi)
    heat = fig.data[0]
    np.testing.assert_array_equal(heat.z, csi.X)
    np.testing.assert_array_equal(heat.y, csi.rows.values)
    assert "ppm" in fig.layout.yaxis.title.text
    assert "397 × 512" in fig.layout.title.text
    assert fig.layout.yaxis.autorange is True  # ppm values are stored high to low


def test_heatmap_of_a_grid_axis_names_the_grid():
    movie = gp.datasets.calcium_imaging(random_state=0)
    fig = data_heatmap(movie)
    assert fig.data[0].y is None
    assert "32 × 32 grid points" in fig.layout.yaxis.title.text
    assert "frame" in fig.layout.xaxis.title.text


@pytest.mark.parametrize("name", gp.datasets.NAMES)
def test_show_dataset_returns_description_and_figure(name):
    description, fig = show_dataset(name)
    assert description == gp.datasets.load(name, random_state=0).description
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"


def test_signed_data_get_a_diverging_scale_centred_at_zero():
    toy = gp.datasets.paper_toy(random_state=0)
    assert data_heatmap(toy).data[0].zmid == 0.0
    factories = gp.datasets.factories(random_state=0)
    assert data_heatmap(factories).data[0].zmid is None
