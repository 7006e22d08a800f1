"""Drift between corpora: the test finds a planted topic and stays quiet on a corpus of the reference's own kind, on
synthetic latents with a known answer and on the bundled model with real documents."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import DEFAULT_MODEL, REPO
from vae_core.drift import measure, wilson


def blobs(n: int, centres: np.ndarray, rng, spread: float = 1.0) -> np.ndarray:
    which = rng.integers(0, len(centres), n)
    return (centres[which] + rng.normal(0, spread, (n, centres.shape[1]))).astype(np.float32)


@pytest.fixture(scope="module")
def centres():
    return np.random.default_rng(42).normal(0, 6, (5, 32))  # four classes the reference has, and a fifth topic


def top_region_of(m: dict, planted: np.ndarray) -> tuple[dict, float, float]:
    flagged = [i for i, r in enumerate(m["regions"]) if r["flagged"]]
    assert flagged, "no region flagged"
    best = max(flagged, key=lambda i: m["regions"][i]["ratio_low"])
    members = m["region_of_new"] == best
    return m["regions"][best], planted[members].sum() / planted.sum(), planted[members].mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_planted_topic_is_the_region_found(centres, seed):
    rng = np.random.default_rng(1000 + seed)  # the data's own stream
    ref = blobs(2000, centres[:4], rng)
    own, foreign = blobs(1800, centres[:4], rng), blobs(140, centres[4:], rng)  # 7% planted
    m = measure(ref, np.vstack([own, foreign]), seed=seed)
    planted = np.r_[np.zeros(1800, bool), np.ones(140, bool)]
    region, recall, precision = top_region_of(m, planted)
    assert region["direction"] == "over"
    assert recall >= 0.8 and precision >= 0.8, (recall, precision)
    assert sum(r["flagged"] for r in m["regions"]) == 1
    assert m["auc"] > 0.5 and m["p_value"] < 0.01
    assert m["scores_new"][planted].mean() > m["scores_new"][~planted].mean() + 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_corpus_of_the_same_kind_flags_nothing(centres, seed):
    rng = np.random.default_rng(100 + seed)
    m = measure(blobs(2000, centres[:4], rng), blobs(2000, centres[:4], rng), seed=seed)
    assert not [r for r in m["regions"] if r["flagged"]]
    assert abs(m["auc"] - 0.5) < 0.05


def test_a_topic_the_new_corpus_lacks_is_under_represented(centres):
    rng = np.random.default_rng(7)
    ref = blobs(2000, centres[:4], rng)
    new = blobs(2000, centres[:3], rng)  # no documents of the fourth class
    m = measure(ref, new, seed=0)
    under = [r for r in m["regions"] if r["flagged"] and r["direction"] == "under"]
    assert under and under[0]["ratio_high"] < 0.2
    lacking = np.linalg.norm(ref - centres[3], axis=1) < np.linalg.norm(ref - centres[:3, None], axis=2).min(0)
    i = m["regions"].index(under[0])
    assert (m["region_of_ref"][lacking] == i).mean() >= 0.8


def test_wilson_interval():
    lo, hi = wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-3) and hi == pytest.approx(0.5962, abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_drift_on_the_command_line_writes_one_row_per_new_document(own_run, tmp_path):
    import pandas as pd

    from vae_core.cli import main

    model = own_run / "model"
    new = tmp_path / "new.csv"
    new.write_text("text,label\n" + "".join(f"{w} story {i},{lab}\n" for i, (w, lab) in enumerate(
        [("market", "money"), ("goal", "sport"), ("violin", "tech")] * 10)))
    out = tmp_path / "drift.csv"
    assert main(["drift", str(model), "--reference", str(model / "index" / "dev.parquet"), "--data", str(new),
                 "--output", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["row", "region", "region_flagged", "drift_score", "pred", "region_description"]
    assert table["row"].tolist() == list(range(30))


def test_drift_refuses_a_reference_of_another_model(own_run, tmp_path):
    from vae_core.cli import main

    assert main(["drift", str(DEFAULT_MODEL), "--reference", str(own_run / "model" / "index" / "dev.parquet"),
                 "--data", str(tmp_path / "x.csv")]) == 2


@pytest.mark.integration
def test_planted_plant_articles_in_news_are_found_and_read_as_plants():
    """AG News: half the dev index is the reference; the other half with 7% DBpedia articles on plants and animals
    mixed in is the new corpus. The top region is those articles, and its decoded description reads (for the
    independent reader) more like them than like the news."""
    import pandas as pd

    from vae_core.drift import drift
    from vae_core.indexing import new_corpus_index
    from vae_core.evaluate import IndependentReader
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    explorer = Explorer.load(DEFAULT_MODEL)
    full = CorpusIndex.load(DEFAULT_MODEL / "index" / "ag_news_dev.parquet")
    order = np.random.default_rng(0).permutation(len(full))

    def subset(rows):
        return CorpusIndex(full.df.iloc[rows].reset_index(drop=True), dict(full.meta),
                           {k: v[rows] for k, v in full.arrays.items()})

    ref, own = subset(order[:1900]), subset(order[1900:])
    foreign = pd.read_csv(REPO / "benchmarks" / "data" / "dbpedia13" / "holdout.csv")
    texts = foreign[foreign["label"].isin(["Plant", "Animal"])]["text"].sample(n=143, random_state=0).tolist()
    planted = new_corpus_index(explorer.model, texts, None, ref, progress=False)
    new = CorpusIndex(pd.concat([own.df, planted.df], ignore_index=True), dict(full.meta),
                      {k: np.vstack([own.arrays[k], planted.arrays[k]]) for k in own.arrays})
    d = drift(explorer, ref, new)
    top = d.regions[0]
    assert top.flagged and top.direction == "over" and len(d.flagged) == 1
    is_planted = np.r_[np.zeros(len(own), bool), np.ones(len(planted), bool)]
    members = np.asarray(top.new_rows)
    assert is_planted[members].sum() / is_planted.sum() >= 0.8 and is_planted[members].mean() >= 0.8
    assert {"species", "plant", "genus"} & set(top.words)
    reader = IndependentReader()
    e = reader.embed([top.description] + texts + ref.df["text"].tolist()[:500])
    desc, plants, news = e[0], e[1:144].mean(0), e[144:].mean(0)
    assert desc @ plants > desc @ news
    assert d.region_of.shape == (len(new),) and (d.region_of[members] == top.id).all()


def test_members_can_be_asked_for_their_own_score_in_the_regions_direction():
    from vae_core.drift import _require_scores

    regions = [{"direction": "over"}, {"direction": "under"}]
    region_of = np.array([0, 0, 1, 1, -1])
    scores = np.array([0.9, 0.1, -0.9, -0.1, 5.0])
    assert _require_scores(region_of, scores, regions, 0.5).tolist() == [0, -1, 1, -1, -1]
    assert _require_scores(region_of, scores, regions, 0.0).tolist() == [0, 0, 1, 1, -1]


def test_features_are_the_mean_and_the_class_parts_log_variance():
    from vae_core import drift as D

    mu, logvar = np.ones((3, 6), np.float32), np.full((3, 6), -2.0, np.float32)
    x = D.latent_features(mu, logvar, class_dims=4)
    assert x.shape == (3, 10)
    assert np.allclose(x[:, :6], 1.0) and np.allclose(x[:, 6:], -2.0 * D.LOGVAR_WEIGHT)
    assert D.latent_features(mu, None, 4) is mu and D.latent_features(mu, logvar, 0) is mu


def test_text_encoded_with_more_uncertainty_is_found_through_its_log_variance(centres):
    """A foreign topic whose means lie among the reference's (in one of its classes) but whose posteriors are wider
    (what text unlike the training corpus looks like to an encoder) is a region only when the log-variance stands
    beside the mean."""
    from vae_core import drift as D

    rng = np.random.default_rng(11)
    ref_mu, own_mu = blobs(2000, centres[:4], rng), blobs(1800, centres[:4], rng)
    foreign_mu = blobs(140, centres[:1], rng)
    ref_lv, own_lv = rng.normal(-2.3, 0.1, (2000, 32)), rng.normal(-2.3, 0.1, (1800, 32))
    foreign_lv = rng.normal(-1.3, 0.1, (140, 32))  # sigma 0.52 rather than 0.32
    planted = np.r_[np.zeros(1800, bool), np.ones(140, bool)]
    new_mu, new_lv = np.vstack([own_mu, foreign_mu]), np.vstack([own_lv, foreign_lv])
    m = measure(D.latent_features(ref_mu, ref_lv, 32), D.latent_features(new_mu, new_lv, 32), seed=0)
    _, recall, precision = top_region_of(m, planted)
    assert recall >= 0.8 and precision >= 0.8, (recall, precision)
    means_alone = measure(ref_mu, new_mu, seed=0)
    assert not [r for r in means_alone["regions"] if r["flagged"]]


def test_one_dense_group_alone_is_a_region_and_every_point_joins_a_group(monkeypatch):
    from vae_core import drift as D

    rng = np.random.default_rng(3)
    points = rng.normal(0, 1, (80, 4)).astype(np.float32)  # one blob: HDBSCAN alone calls it noise or splits it
    groups = D._groups(points, 10)
    assert groups and sum(len(g) for g in groups) == len(points)
    monkeypatch.setattr(D, "SINGLE_GROUP", False)
    monkeypatch.setattr(D, "ATTACH_NOISE", False)
    assert sum(len(g) for g in D._groups(points, 10)) < len(points)


def test_a_classifier_of_the_two_corpora_can_score_instead_of_neighbours(centres, monkeypatch):
    from vae_core import drift as D

    monkeypatch.setattr(D, "SCORER", "logistic")
    rng = np.random.default_rng(5)
    ref = blobs(2000, centres[:4], rng)
    own, foreign = blobs(1800, centres[:4], rng), blobs(140, centres[4:], rng)
    m = measure(ref, np.vstack([own, foreign]), seed=0)
    planted = np.r_[np.zeros(1800, bool), np.ones(140, bool)]
    assert m["scores_new"][planted].mean() > m["scores_new"][~planted].mean() + 1
    assert m["auc"] > 0.5 and m["p_value"] < 0.01
    with pytest.raises(ValueError, match="unknown drift scorer"):
        D._classifier("forest", 0)
