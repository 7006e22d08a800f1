"""The map of a large corpus as a density image (app_ui/density.py): every document counted into its pixel,
selections answered from the drawn shapes over all documents, and the figure that switches to it."""
import base64
import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from app_ui import density, figures

RED, BLUE = [228, 87, 86], [76, 120, 168]


def test_a_pixel_takes_the_mix_of_its_documents_colours_and_busier_pixels_are_more_opaque():
    view = (0.0, 10.0, 0.0, 10.0)
    # three red and one blue document in the cell at the lower left; one red alone at the upper right
    xy = np.array([[0.5, 0.5]] * 4 + [[9.5, 9.5]], dtype=np.float32)
    codes = np.array([0, 0, 0, 1, 0])
    img = density.categorical(xy, codes, np.array([RED, BLUE], np.float32), view, width=10)
    assert img.shape == (10, 10, 4) and img.dtype == np.uint8
    low_left, up_right = img[9, 0], img[0, 9]  # image rows run from the top of the map down
    np.testing.assert_allclose(low_left[:3], 0.75 * np.array(RED) + 0.25 * np.array(BLUE), atol=1.5)
    np.testing.assert_allclose(up_right[:3], RED, atol=1)
    assert low_left[3] > up_right[3] > 0
    # a document covers its neighbours too (3x3), and nothing else is drawn
    assert img[8, 1, 3] > 0 and img[5, 5, 3] == 0
    # a document of no class (-1) and one outside the view count nowhere
    none = density.categorical(np.array([[5.0, 5.0], [50.0, 5.0]], np.float32), np.array([-1, 0]),
                               np.array([RED], np.float32), view, width=10)
    assert none[..., 3].max() == 0


def test_a_value_map_colours_each_pixel_by_its_documents_mean_value():
    lut = np.stack([np.arange(256)] * 3, 1).astype(np.uint8)  # grey: colour = index
    xy = np.array([[1, 1], [1, 1], [8, 8]], dtype=np.float32)
    img = density.continuous(xy, np.array([0.0, 1.0, 1.0], np.float32), lut, 0.0, 1.0, (0, 10, 0, 10), width=10)
    assert abs(int(img[8, 1, 0]) - 127) <= 1  # mean 0.5 of the two at (1, 1)
    assert img[1, 8, 0] == 255 and img[1, 8, 3] > 0


def test_box_and_lasso_selections_find_every_document_inside_the_shape():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 10, (20_000, 2)).astype(np.float32)
    box = density.rows_in_box(xy, [2.0, 5.0], [7.0, 3.0])
    expected = np.flatnonzero((xy[:, 0] >= 2) & (xy[:, 0] <= 5) & (xy[:, 1] >= 3) & (xy[:, 1] <= 7))
    np.testing.assert_array_equal(box, expected)
    # a right triangle (0,0) (10,0) (0,10): inside when x + y < 10
    lasso = density.rows_in_lasso(xy, [0, 10, 0], [0, 0, 10])
    inside = xy.sum(1) < 10
    margin = np.abs(xy.sum(1) - 10) > 1e-3  # points on the edge may go either way
    np.testing.assert_array_equal(np.isin(np.arange(len(xy)), lasso)[margin], inside[margin])
    assert len(density.rows_in_lasso(xy, [1, 2], [1, 2])) == 0  # not a polygon


def test_a_selection_on_a_density_map_holds_all_documents_in_the_shape_not_only_the_drawn_sample():
    xy = np.array([[0, 0], [1, 1], [2, 2], [9, 9]], dtype=np.float32)
    sel = {"points": [{"customdata": 1}], "box": [{"x": [-0.5, 2.5], "y": [-0.5, 2.5]}], "lasso": []}
    assert density.selected(sel, xy, dense=True) == ([0, 1, 2], (-0.5, 2.5, -0.5, 2.5))
    # a map of points: the points plotly reports (a class hidden in the legend is not among them)
    assert density.selected(sel, xy, dense=False) == ([1], (-0.5, 2.5, -0.5, 2.5))
    # a click: its row, no shape; rows out of range are dropped
    assert density.selected({"points": [{"customdata": [3]}, {"customdata": 99}]}, xy, True) == ([3], None)
    assert density.selected(None, xy, True) == ([], None)


def test_the_sample_of_points_is_the_same_every_time_and_in_row_order():
    rows = np.arange(0, 10_000, 3)
    a, b = density.sample_rows(rows, 500), density.sample_rows(rows, 500)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 500 and np.all(np.diff(a) > 0) and np.isin(a, rows).all()
    np.testing.assert_array_equal(density.sample_rows(rows[:10], 500), rows[:10])


def corpus_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    labels = rng.choice(["a", "b"], n)
    pred = np.where(rng.random(n) < 0.9, labels, np.where(labels == "a", "b", "a"))
    centre = np.where(labels == "a", -3.0, 3.0)[:, None]
    xy = (rng.standard_normal((n, 2)) + centre).astype(np.float32)
    return pd.DataFrame({"text": [f"document {i}" for i in range(n)], "label": labels, "pred": pred,
                         "confidence": rng.uniform(0.5, 1, n).astype(np.float32),
                         "prob_std": rng.uniform(0, 0.2, n).astype(np.float32), "x": xy[:, 0], "y": xy[:, 1],
                         "correct": labels == pred})


def _image(fig, i: int = 0) -> np.ndarray:
    data = fig.layout.images[i].source.split(",", 1)[1]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


@pytest.mark.parametrize("color_by", ["label", "pred", "correct", "confidence", "prob_std"])
def test_past_points_max_the_map_is_an_image_of_every_document_with_a_sample_to_hover(color_by):
    df = corpus_frame(3_000)
    fig = figures.latent_map(df, ["a", "b"], color_by, points_max=1_000, sample_points=400)
    assert len(fig.layout.images) == 1 and fig.layout.images[0].layer == "below"
    image = _image(fig)
    assert image.shape[2] == 4 and (image[..., 3] > 0).sum() > 1_000
    drawn = [t for t in fig.data if t.customdata is not None]
    assert sum(len(t.x) for t in drawn) == 400  # the sample, with row numbers for clicks
    rows = np.concatenate([np.asarray(t.customdata) for t in drawn])
    assert len(set(rows.tolist())) == 400 and rows.max() < 3_000
    # the axes span every document (the sample alone may not), and the legend cannot hide a class from the image
    x0, x1 = fig.layout.xaxis.range
    assert x0 < df["x"].min() and x1 > df["x"].max()
    assert fig.layout.legend.itemclick is False
    # up to points_max: every document a point, no image (as before)
    small = figures.latent_map(df, ["a", "b"], color_by, points_max=5_000)
    assert not small.layout.images and sum(len(t.x) for t in small.data if t.customdata is not None) == 3_000


def test_a_zoomed_view_with_few_enough_documents_draws_each_of_them_as_a_point():
    df = corpus_frame(3_000)
    view = (-4.0, -2.0, -1.0, 1.0)
    inside = density.in_view(df[["x", "y"]].to_numpy(np.float32), view)
    fig = figures.latent_map(df, ["a", "b"], "label", points_max=1_000, view=view)
    assert 0 < len(inside) <= 1_000 and not fig.layout.images
    drawn = np.sort(np.concatenate([np.asarray(t.customdata) for t in fig.data if t.customdata is not None]))
    np.testing.assert_array_equal(drawn, inside)
    assert list(fig.layout.xaxis.range) == [-4.0, -2.0] and list(fig.layout.yaxis.range) == [-1.0, 1.0]
    assert all(len(t.hovertext) == len(t.x) for t in fig.data if t.customdata is not None)  # each its own hover


def test_many_highlighted_documents_are_a_dark_layer_not_thousands_of_rings():
    df = corpus_frame(6_000)
    few = figures.latent_map(df, ["a", "b"], "label", highlight=list(range(50)), points_max=1_000)
    assert [t.name for t in few.data].count("selected") == 1 and len(few.layout.images) == 1
    many = figures.latent_map(df, ["a", "b"], "label", highlight=list(range(density.RINGS_MAX + 1)), points_max=1_000)
    assert len(many.layout.images) == 2 and many.layout.images[1].layer == "above"
    assert any(t.name == f"selected ({density.RINGS_MAX + 1:,})" for t in many.data)


def test_the_points_threshold_can_be_set_by_environment(monkeypatch):
    monkeypatch.setenv("VAE_MAP_POINTS_MAX", "123")
    assert density.points_max() == 123
    monkeypatch.setenv("VAE_MAP_POINTS_MAX", "many")
    assert density.points_max() == density.POINTS_MAX


def test_a_zoomed_density_image_covers_what_a_plot_of_another_shape_shows_around_the_view():
    """The axes keep one scale, so a square view in a wide plot shows more map left and right of it: the image
    covers that (documents there are drawn, not left blank), at the view's own resolution."""
    df = corpus_frame(6_000)
    view = (-5.0, -1.0, -2.0, 2.0)  # square; the "a" cloud around (-3, -3) reaches into it and past its sides
    fig = figures.latent_map(df, ["a", "b"], "label", points_max=100, view=view)
    im = fig.layout.images[0]
    assert (im.x, im.x + im.sizex) == (-8.0, 2.0)  # 2.5 times as wide as tall: 10 units across, not the view's 4
    image = _image(fig)
    assert image.shape[1] == 2 * density.WIDTH  # the view's resolution would need 2.5 * WIDTH: capped
    left = image[:, : int(image.shape[1] * 3 / 10)]  # the map left of the view, x in [-8, -5]
    assert (left[..., 3] > 0).any(), "documents beside the view are drawn"
    around, width = density.covering(view)
    assert around == (-8.0, 2.0, -2.5, 2.5) and width == 2 * density.WIDTH
    assert density.covering((0, 10, 0, 1)) == ((0, 10, -5.75, 6.75), density.WIDTH)  # a wide view: taller
