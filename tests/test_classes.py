"""app_ui/classes.py and the figures that draw classes: readable from 2 classes to 150 (issue 39)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app_ui import classes, figures


def names(n: int) -> list[str]:
    return [f"intent_{i:03d}" for i in range(n)]


def test_the_distinct_palette_keeps_every_pair_and_the_grey_apart():
    pairs = [classes.lab_distance(a, b) for i, a in enumerate(classes.DISTINCT) for b in classes.DISTINCT[i + 1 :]]
    assert len(classes.DISTINCT) == classes.SOME == 20 and min(pairs) > 26
    assert min(classes.lab_distance(c, classes.OTHER) for c in classes.DISTINCT) > 27
    assert classes.DISTINCT[:8] == classes.PALETTE[:8]  # few-class views keep the demo's colours


@pytest.mark.parametrize("n", [2, 4, 10])
def test_up_to_ten_classes_keep_the_palette_and_their_order(n):
    style = classes.build_style(names(n), np.random.default_rng(0).normal(size=(n, 8)))
    assert [style.colors[lab] for lab in names(n)] == classes.PALETTE[:n]
    assert style.order == tuple(range(n)) and not style.many
    assert style.view(names(n)[:1]) == style.colors  # every class keeps its colour in every view


def test_twenty_classes_each_get_a_distinct_colour():
    style = classes.build_style(names(20), np.random.default_rng(0).normal(size=(20, 8)))
    assert sorted(style.colors.values()) == sorted(classes.DISTINCT) and not style.many


def test_many_classes_fall_into_families_of_alike_classes_and_views_name_a_few():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 16)) * 5
    vectors = np.repeat(centres, 10, axis=0) + rng.normal(size=(80, 16)) * 0.3  # 8 groups of 10 alike classes
    style = classes.build_style(names(80), vectors)
    assert style.many and len(style.family_names) == classes.FAMILIES_MAX and len(set(style.colors.values())) == 80
    # the dendrogram order puts each group's classes together: the order is a run of each group
    groups = [i // 10 for i in style.order]
    assert sum(a != b for a, b in zip(groups, groups[1:])) == 7
    # a view: the named classes distinct colours in turn, the rest grey
    focus = [names(80)[i] for i in (5, 70, 33)]
    view = style.view(focus)
    assert [view[lab] for lab in focus] == classes.DISTINCT[:3]
    assert sum(v == classes.OTHER for v in view.values()) == 77
    assert len(set(style.view(names(80)[:30]).values()) - {classes.OTHER}) == 20  # at most 20 named


def test_family_names_say_the_shared_word_or_the_first_class():
    assert classes._family_name(["card_arrival", "card_linking", "card_delivery"]) == "card … (3)"
    assert classes._family_name(["refund_pending", "top_up_failed"]) == "refund_pending +1"


def test_registered_styles_are_found_by_their_labels_and_the_first_stays():
    labels = names(30)
    first = classes.register(labels, np.eye(30))
    assert classes.style(labels) is first
    assert classes.register(labels, np.ones((30, 30))) is first  # a second model of the same classes: same colours


def test_top_and_path_classes():
    p = np.array([0.05, 0.6, 0.01, 0.3, 0.04])
    assert classes.top_classes(p, 3) == [1, 3, 0]
    path = np.array([[0.9, 0.04, 0.06, 0.0], [0.5, 0.45, 0.05, 0.0], [0.02, 0.97, 0.01, 0.0]])
    assert classes.path_classes(path) == [1, 0, 2]  # 2 reaches 6%; 3 never reaches 5%


def test_text_reads_on_its_background():
    assert classes.text_on("#FFFFFF") == "#111827" and classes.text_on("#003F5C") == "#FFFFFF"


def test_probability_bars_past_ten_classes_show_the_top_and_the_rest_as_other():
    labels = names(77)
    p = np.full(77, 0.2 / 72)
    p[[3, 9, 40, 41, 60]] = [0.5, 0.1, 0.1, 0.05, 0.05]
    fig = figures.probability_bars(labels, p)
    bar = fig.data[0]
    assert list(bar.y) == ["intent_003", "intent_009", "intent_040", "intent_041", "intent_060", "other (72 classes)"]
    assert bar.x[-1] == pytest.approx(0.2, abs=1e-3)
    assert fig.layout.height <= 700
    assert list(figures.probability_bars(names(4), [0.1, 0.2, 0.3, 0.4]).data[0].y) == names(4)  # few: every class


def test_path_probabilities_name_the_classes_that_reach_five_percent_and_sum_the_rest():
    labels = names(80)
    probs = np.full((6, 80), 0.001)
    probs[:, 7] = np.linspace(0.9, 0.1, 6)
    probs[:, 50] = np.linspace(0.02, 0.8, 6)
    probs[2, 12] = 0.06
    probs /= probs.sum(1, keepdims=True)
    fig = figures.path_probabilities(labels, probs)
    assert [t.name for t in fig.data] == ["intent_007", "intent_050", "intent_012", "other (77 classes)"]
    colors = [t.line.color for t in fig.data[:3]]
    assert len(set(colors)) == 3 and classes.OTHER not in colors


def corpus_frame(n_classes: int, per_class: int = 5, seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    rng = np.random.default_rng(seed)
    labels = names(n_classes)
    lab = np.repeat(labels, per_class)
    pred = np.where(rng.random(len(lab)) < 0.8, lab, rng.choice(labels, len(lab)))
    df = pd.DataFrame({"x": rng.normal(size=len(lab)), "y": rng.normal(size=len(lab)), "label": lab, "pred": pred,
                       "confidence": rng.random(len(lab)), "text": ["some text"] * len(lab)})
    df["correct"] = df["label"] == df["pred"]
    return df, labels


def legend_entries(fig) -> list:
    return [t for t in fig.data if t.showlegend is not False and t.name]


@pytest.mark.parametrize("n", [2, 4, 20, 80, 150])
def test_the_map_legend_never_names_more_than_twenty_entries_and_they_are_distinct(n):
    df, labels = corpus_frame(n)
    fig = figures.latent_map(df, labels, "label")
    entries = legend_entries(fig)
    assert 0 < len(entries) <= classes.LEGEND_MAX
    colors = [t.marker.color for t in entries]
    assert len(set(colors)) == len(colors)
    assert min(classes.lab_distance(a, b) for i, a in enumerate(colors) for b in colors[i + 1 :]) > 20 if len(colors) > 1 \
        else True
    # every document is drawn, in its class's colour (family shades past 20 classes)
    assert sum(len(t.x) for t in fig.data if t.x is not None and t.x[0] is not None) == len(df)


def test_highlighted_classes_light_up_and_the_rest_turn_grey():
    df, labels = corpus_frame(80)
    focus = [labels[3], labels[70]]
    fig = figures.latent_map(df, labels, "pred", focus=focus)
    entries = legend_entries(fig)
    assert [t.name for t in entries] == ["other (78 classes)", labels[3], labels[70]]
    assert [t.marker.color for t in entries[1:]] == classes.DISTINCT[:2]
    greys = [t for t in fig.data if t.legendgroup == "other" and t.x is not None and len(t.x) and t.x[0] is not None]
    assert greys and all(t.marker.color == classes.OTHER for t in greys)
    # the lit classes are drawn over the grey ones
    drawn = [t.name for t in fig.data if t.x is not None and len(t.x) and t.x[0] is not None]
    assert drawn.index(labels[3]) > max(drawn.index(t.name) for t in greys)


@pytest.mark.parametrize("n, most", [(4, 4), (20, 20), (80, 60), (150, 60)])
def test_the_confusion_matrix_orders_alike_classes_and_keeps_cells_wide(n, most):
    df, labels = corpus_frame(n, per_class=6)
    cm = pd.crosstab(pd.Categorical(df.label, labels), pd.Categorical(df.pred, labels), dropna=False).to_numpy()
    fig = figures.confusion_matrix(labels, cm.tolist())
    shown = len(fig.data[0].z)
    assert shown <= most
    cell = (fig.layout.height - 90 - fig.layout.margin.t + 30) / shown
    assert cell >= 8
    if cell < figures.CELL_TEXT_MIN:
        assert fig.data[0].texttemplate is None  # no count printed in small cells
    if n <= classes.FEW:
        assert fig.data[0].texttemplate == "%{text}"
    from vae_core.interpret.groups import ranked_confusions

    ranked = ranked_confusions(cm, labels, 5)
    assert [c for _, _, c, _ in ranked] == sorted((c for _, _, c, _ in ranked), reverse=True)
    if shown < n:  # the classes drawn are those of the most-confused pairs
        kept = set(figures.matrix_classes(labels, cm))
        assert {labels.index(ranked[0][0]), labels.index(ranked[0][1])} <= kept


def test_class_mix_past_ten_classes_keeps_the_largest_changes_and_sums_the_rest():
    mix = {f"c{i}": (1 / 40, 1 / 40) for i in range(40)}
    mix["c5"], mix["c6"] = (0.2, 0.01), (0.0, 0.19)
    fig = figures.class_mix_change(mix)
    shown = list(fig.data[0].x)
    assert len(shown) == classes.FEW and shown[:2] == ["c5", "c6"] and shown[-1] == "other (31 classes)"
    total = sum(mix[c][0] for c in mix)
    assert sum(fig.data[0].y) == pytest.approx(total, abs=1e-3)
