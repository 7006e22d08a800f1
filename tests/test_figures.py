"""The app's figure builders on synthetic corpora: colours, selections' row numbers, escaping, and the size of
large maps."""

import numpy as np
import pandas as pd
import pytest

from app_ui import figures

LABELS = ["Business", "Sci/Tech", "Sports", "World"]


def corpus(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.choice(LABELS, n)
    pred = np.where(rng.random(n) < 0.9, label, rng.choice(LABELS, n))
    return pd.DataFrame({"text": [f"document {i} <b>bold</b> about markets and games" for i in range(n)],
                         "label": label, "pred": pred, "confidence": rng.random(n), "prob_std": rng.random(n) / 10,
                         "correct": label == pred, "x": rng.normal(size=n), "y": rng.normal(size=n)})


@pytest.mark.parametrize("mode", ["label", "pred", "correct", "confidence", "prob_std"])
def test_every_point_is_drawn_once_with_its_row_number(mode):
    df = corpus(500)
    fig = figures.latent_map(df, LABELS, mode)
    rows = np.concatenate([np.asarray(t.customdata) for t in fig.data])
    assert sorted(rows.tolist()) == list(range(500))
    for t in fig.data:  # coordinates belong to their rows
        assert np.allclose(np.asarray(t.x), df["x"].to_numpy()[np.asarray(t.customdata)], atol=1e-6)


def test_small_maps_hover_with_escaped_snippets():
    fig = figures.latent_map(corpus(300), LABELS, "label")
    text = " ".join(h for t in fig.data for h in t.hovertext)
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and "<b>bold</b>" not in text
    assert all(t.hovertemplate is None for t in fig.data)


def test_large_maps_hover_from_a_template_and_stay_small():
    n = figures.HOVER_TEXT_MAX_POINTS + 5_000
    fig = figures.latent_map(corpus(n), LABELS, "label")
    assert all(t.hovertext is None and "%{customdata}" in t.hovertemplate for t in fig.data)
    # float32 coordinates and int32 rows as typed arrays: about 16 bytes a point, base64 included
    assert len(fig.to_json()) < 20 * n


def test_training_curves_mark_where_each_stage_of_a_recipe_starts():
    steps = [{"step": s, "stage": st, "recon_per_token": 5.0, "bow_per_token": 6.0, "ce": 0.3, "kl": 30.0, "beta": 1.0}
             for s, st in [(20, "joint"), (40, "joint"), (60, "content"), (80, "second")]]
    stages = [{"index": 1, "stage": "joint", "first_step": 1, "last_step": 40},
              {"index": 2, "stage": "content", "first_step": 41, "last_step": 60},
              {"index": 3, "stage": "second", "first_step": 61, "last_step": 80}]
    fig = figures.training_curves({"steps": steps, "stages": stages})
    starts = sorted({shape.x0 for shape in fig.layout.shapes})
    assert starts == [40.5, 60.5]  # a line before each later stage, on both step panels
    assert len(fig.layout.shapes) == 4 and [a.text for a in fig.layout.annotations if a.text in ("content", "second")] == [
        "content", "second"]
    assert not figures.training_curves({"steps": steps}).layout.shapes  # one run: no marks
