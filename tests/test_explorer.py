"""The library behind the app, on tiny random models: attributions, uncertainty, decoding walks,
the map <-> latent mapping and the corpus index."""
import threading

import numpy as np
import pytest
import torch
from conftest import make_texts

from vae_core.corpus_index import CorpusIndex
from vae_core.indexing import Indexer
from vae_core.inference import Explorer, slerp
from vae_core.interpret.attribution import attribute
from vae_core.interpret.projection import LatentMap, fit_projection

TEXT = "The market rallied as bank shares and oil prices climbed; profit growth beat forecasts."


@pytest.fixture()
def explorer(tiny_model):
    return Explorer(tiny_model, "tiny")


@pytest.fixture()
def corpus(tiny_model):
    rows = make_texts(10, seed=4)
    return Indexer(tiny_model, "pca", seed=0).build([t for t, _ in rows], [y for _, y in rows], regions=False)


def test_integrated_gradients_are_complete_and_cover_every_word(tiny_model):
    a = attribute(tiny_model, TEXT, target=1, method="integrated_gradients", n_steps=64)
    # completeness: the scores add up to f(x) - f(baseline), up to the reported delta
    assert sum(a.scores) == pytest.approx(a.target_prob - a.baseline_prob, abs=abs(a.delta) + 1e-4)
    assert abs(a.delta) < 0.05
    assert a.words[:3] == ["The", "market", "rallied"] and a.words[-1] == "."
    for w, (s, e) in zip(a.words, a.spans):
        assert TEXT[s:e] == w
    assert not a.truncated


def test_occlusion_scores_are_the_drop_when_a_word_is_removed(tiny_model):
    a = attribute(tiny_model, "oil bank", target=0, method="occlusion")
    assert a.delta is None and len(a.scores) == 2
    ids = tiny_model.tokenizer(["oil bank"], return_tensors="pt")
    pad = tiny_model.special_ids["pad"]
    without_oil = ids["input_ids"].clone()
    without_oil[0, 1] = pad  # [CLS] oil bank [SEP]
    with torch.no_grad():
        p = torch.softmax(tiny_model.classify(tiny_model.encode(without_oil, ids["attention_mask"]).mu), -1)[0, 0]
    assert a.scores[0] == pytest.approx(a.target_prob - float(p), abs=1e-5)


def test_attribution_of_a_long_text_says_it_was_truncated(tiny_model):
    a = attribute(tiny_model, "word " * 200, target=0, method="occlusion")
    assert a.truncated and len(a.words) == tiny_model.config.max_length - 2


def test_unknown_attribution_method_is_refused(tiny_model):
    with pytest.raises(ValueError, match="unknown attribution method"):
        attribute(tiny_model, TEXT, 0, method="shap")


def test_classify_uncertainty_and_determinism(explorer):
    p1 = explorer.classify(TEXT)
    p2 = explorer.classify(TEXT)
    assert p1.probs == p2.probs and abs(sum(p1.probs) - 1) < 1e-5
    assert p1.label == explorer.labels[int(np.argmax(p1.probs))] and isinstance(p1.reconstruction, str)
    u1 = explorer.uncertainty(p1.mu, p1.logvar, samples=32)
    u2 = explorer.uncertainty(p1.mu, p1.logvar, samples=32)
    assert u1 == u2 and 0 <= u1.flip_share <= 1 and len(u1.std) == len(explorer.labels)
    # a posterior with (almost) no spread never leaves its class
    sharp = explorer.uncertainty(p1.mu, [-30.0] * len(p1.mu), samples=16)
    assert sharp.flip_share == 0 and max(sharp.std) < 1e-4
    with pytest.raises(ValueError, match="empty"):
        explorer.classify("   ")
    # the tiny model reads 32 tokens: a long text is counted, a short one not, and the lock is free after
    assert explorer.count_too_long(["market stock shares", " ".join(["market"] * 60)]) == 1
    assert not explorer.lock.locked()


@pytest.fixture()
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_text_is_encoded_on_one_thread_and_batch_work_gets_every_thread(explorer, monkeypatch, restore_threads):
    explorer.threads = 2  # as on a 2-core machine; the explorer takes torch's number when it is built
    torch.set_num_threads(2)
    seen = []
    encode = explorer.model.encode

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return encode(*args, **kwargs)

    monkeypatch.setattr(explorer.model, "encode", spy)
    explorer.classify(TEXT, reconstruct=False)
    assert torch.get_num_threads() == 2  # set back: numba (UMAP) in the same thread reads it too
    explorer.encode([TEXT, TEXT])
    # a thread takes the last number set anywhere when it first computes: one that starts while another
    # session classifies one text still encodes a batch on every thread
    torch.set_num_threads(1)
    worker = threading.Thread(target=lambda: explorer.encode([TEXT]))
    worker.start()
    worker.join()
    assert seen == [1, 2, 2]


def test_interpolation_ends_at_its_endpoints(explorer):
    a, b = np.ones(4, dtype=np.float32), -np.arange(4, dtype=np.float32)
    for mode in ("linear", "spherical"):
        path = explorer.interpolate(a, b, steps=5, mode=mode)
        assert len(path) == 5 and path.probs.shape == (5, 3)
        np.testing.assert_allclose(path.z[0], a, atol=1e-5)
        np.testing.assert_allclose(path.z[-1], b, atol=1e-5)
        assert path.labels == [explorer.labels[i] for i in path.probs.argmax(-1)]
    with pytest.raises(ValueError, match="steps"):
        explorer.interpolate(a, b, steps=1)
    with pytest.raises(ValueError, match="unknown interpolation"):
        explorer.interpolate(a, b, mode="cubic")


def test_slerp_keeps_the_norm_between_vectors_of_equal_norm():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    z = slerp(a, b, np.linspace(0, 1, 7))
    np.testing.assert_allclose(np.linalg.norm(z, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(slerp(a, a, np.array([0.5]))[0], a)  # parallel: falls back to linear


def test_top_words_are_real_words(explorer):
    words = explorer.top_words(np.zeros((2, 4), dtype=np.float32), k=5)
    assert len(words) == 2 and all(len(w) == 5 for w in words)
    assert all(w.isascii() and not w.startswith("##") and w not in ("[CLS]", "[SEP]", "[PAD]") for w, _ in words[0])


def test_latent_map_round_trips_indexed_points():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(50, 6)).astype(np.float32)
    xy = fit_projection(mu, "pca")
    m = LatentMap(mu, xy, k=5)
    np.testing.assert_allclose(m.transform(mu[:3]), xy[:3], atol=1e-3)  # a known latent lands on its own point
    np.testing.assert_allclose(m.inverse(xy[:3]), mu[:3], atol=1e-3)
    xs, ys, pts = m.grid(8)
    assert pts.shape == (64, 2) and xs[0] < xy[:, 0].min() and ys[-1] > xy[:, 1].max()
    assert m.density(np.array([[1e3, 1e3]]))[0] > m.density(xy[:1])[0]


def test_projection_is_deterministic_for_a_seed():
    mu = np.random.default_rng(1).normal(size=(40, 5)).astype(np.float32)
    np.testing.assert_array_equal(fit_projection(mu, "umap", seed=3), fit_projection(mu, "umap", seed=3))
    with pytest.raises(ValueError, match="unknown projection"):
        fit_projection(mu, "tsne")


def test_corpus_index_search_neighbours_and_landscape(corpus, explorer):
    assert len(corpus) == 30 and corpus.has_labels and corpus.labels == explorer.labels
    hits = corpus.search("GOAL")
    assert hits and all("goal" in corpus.df.text[i] for i in hits)
    assert corpus.search("no-such-word") == []
    idx, dist = corpus.neighbours(corpus.mu[0], k=4, exclude=0)
    assert len(idx) == 4 and 0 not in idx and dist == sorted(dist)
    land = corpus.landscape(explorer.probs, resolution=12)
    assert land["probs"].shape == (12, 12, 3) and land["empty"].shape == (12, 12)
    np.testing.assert_allclose(land["probs"].sum(-1), 1.0, atol=1e-5)
    cents = corpus.centroids()
    assert set(cents) == set(corpus.df.label) and cents["money"].shape == (4,)
    # the cache key follows the content: a copy has the same, a corpus with one label changed another
    copy = CorpusIndex(corpus.df.copy(), dict(corpus.meta), corpus.arrays)
    assert copy.content_key == corpus.content_key
    changed = corpus.df.copy()
    changed.loc[0, "label"] = "sport" if changed.loc[0, "label"] != "sport" else "money"
    assert CorpusIndex(changed, dict(corpus.meta), corpus.arrays).content_key != corpus.content_key


def test_latent_health_flags_a_collapsed_posterior():
    from vae_core.evaluate import latent_health

    rng = np.random.default_rng(0)
    healthy = latent_health(rng.normal(size=(200, 8)) * 2, np.full((200, 8), -2.0))
    assert not healthy["collapsed"] and healthy["active_units"] == 8 and healthy["kl_per_doc"] > 1
    collapsed = latent_health(rng.normal(size=(200, 8)) * 0.01, np.zeros((200, 8)))
    assert collapsed["collapsed"] and collapsed["active_units"] == 0
    assert any("active" in r for r in collapsed["collapse_reasons"])
    assert any("KL per document" in r for r in collapsed["collapse_reasons"])
    assert len(collapsed["kl_per_dim"]) == 8 and collapsed["mutual_information"] < healthy["mutual_information"] / 5


def test_min_norm_move_two_classes_is_the_projection_onto_the_boundary():
    from vae_core.interpret.counterfactual import min_norm_move

    W, b = np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2)
    z0 = np.array([2.0, 0.0])  # class 0 wins by 2
    d = min_norm_move(W, b, z0, target=1, margin=0.5)
    # constraint (w1 - w0) . (z0 + d) >= 0.5 with w1 - w0 = (-1, 1): the projection moves (-1.25, 1.25)
    np.testing.assert_allclose(d, [-1.25, 1.25], atol=1e-6)
    assert np.allclose(min_norm_move(W, b, np.array([0.0, 3.0]), 1, 0.5), 0)  # already the target


def test_min_norm_move_meets_every_constraint_minimally():
    from vae_core.interpret.counterfactual import min_norm_move

    rng = np.random.default_rng(0)
    for _ in range(20):
        W, b, z0 = rng.normal(size=(5, 6)), rng.normal(size=5), rng.normal(size=6) * 2
        t = int(np.argmin(W @ z0 + b))
        d = min_norm_move(W, b, z0, t, margin=1.0)
        logits = W @ (z0 + d) + b
        assert all(logits[t] >= logits[j] + 1.0 - 1e-5 for j in range(5) if j != t)
        # no feasible move is shorter: random feasible moves found by scaling random directions
        for _ in range(50):
            u = rng.normal(size=6)
            for s in np.linspace(0, 2 * np.linalg.norm(d), 40)[1:]:
                lg = W @ (z0 + s * u / np.linalg.norm(u)) + b
                if all(lg[t] >= lg[j] + 1.0 for j in range(5) if j != t):
                    assert s >= np.linalg.norm(d) - 1e-4
                    break


def test_latent_counterfactual_line_search_and_budget():
    from vae_core.interpret.counterfactual import latent_counterfactual

    W, b = np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2)
    z0 = np.array([2.0, 0.0], dtype=np.float32)

    def decode_and_classify(z):  # the decoded text reads as class 1 once z[1] - z[0] >= 1.5
        return [f"text {i}" for i in range(len(z))], np.where(z[:, 1] - z[:, 0] >= 1.5 - 1e-6, 1, 0)

    # two classes: p(1) >= 0.55 needs a margin of log(0.55 / 0.45) = 0.2007; z0 is 2 / sqrt(2) from the boundary
    m = np.log(0.55 / 0.45)
    cf = latent_counterfactual(W, b, z0, 1, decode_and_classify, budget=8.0, confidence=0.55)
    assert cf.flipped and cf.found and cf.decoded_label == 1
    assert cf.boundary_distance == pytest.approx(2 / np.sqrt(2), rel=1e-4)
    assert cf.flip_distance == pytest.approx((2 + m) / np.sqrt(2), rel=1e-4)
    assert cf.distance == pytest.approx(3.5 / np.sqrt(2), rel=1e-4)  # margin 1.5, the first readable one
    assert [t["margin"] for t in cf.tried][:3] == pytest.approx([m, 0.25, 0.5])
    # at the flip point the classifier gives the target the confidence asked for
    z = cf.flip
    assert np.exp(z[1]) / np.exp(z).sum() == pytest.approx(0.55, abs=1e-4)
    # the default asks for 0.9: further, and the first margin tried is log 9
    sure = latent_counterfactual(W, b, z0, 1, decode_and_classify, budget=8.0)
    assert sure.confidence == 0.9 and sure.tried[0]["margin"] == pytest.approx(np.log(9))
    assert sure.flip_distance == pytest.approx((2 + np.log(9)) / np.sqrt(2), rel=1e-4)
    small = latent_counterfactual(W, b, z0, 1, decode_and_classify, budget=1.0)
    assert not small.flipped and not small.found and small.tried == []
    with pytest.raises(ValueError, match="between 0 and 1"):
        latent_counterfactual(W, b, z0, 1, decode_and_classify, confidence=1.0)


def test_margin_for_guarantees_the_confidence():
    from vae_core.interpret.counterfactual import margin_for

    rng = np.random.default_rng(1)
    for C in (2, 4, 7):
        for q in (0.5, 0.75, 0.9, 0.99):
            m = margin_for(q, C)
            # the worst case: every other class exactly m below the target
            assert 1 / (1 + (C - 1) * np.exp(-m)) == pytest.approx(q)
            logits = np.concatenate([[0.0], -m - rng.exponential(size=C - 1)])  # any margin >= m
            assert np.exp(logits[0]) / np.exp(logits).sum() >= q - 1e-12


def test_explorer_counterfactual_flips_the_tiny_model(explorer):
    mu = np.array(explorer.classify(TEXT).mu, dtype=np.float32)
    current = int(np.argmax(explorer.probs(mu)[0]))
    target = (current + 1) % len(explorer.labels)
    cf = explorer.counterfactual(mu, target, budget=50.0)
    assert cf.flipped and int(np.argmax(explorer.probs(cf.flip)[0])) == target
    assert explorer.probs(cf.flip)[0][target] >= 0.9 - 1e-4 and cf.boundary_distance < cf.flip_distance
    assert len(cf.tried) >= 1 and all(isinstance(t["decoded"], str) for t in cf.tried)
    with pytest.raises(ValueError):
        explorer.counterfactual(mu, 99)


def test_class_direction_walk_and_samples(explorer, corpus):
    d = explorer.class_direction(0, 1)
    assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-5)
    walk = explorer.walk(np.zeros(4), d, [0.0, 5.0, 50.0])
    assert len(walk) == 3 and walk.probs[2, 1] > walk.probs[0, 1]  # walking towards class 1 raises its probability
    d2 = explorer.class_direction(0, 2, corpus.centroids("pred")) if {"money", "tech"} <= set(corpus.df.pred) else d
    assert np.linalg.norm(d2) == pytest.approx(1.0, abs=1e-5)
    prior = explorer.sample_prior(5, seed=1)
    assert len(prior) == 5 and np.array_equal(prior.z, explorer.sample_prior(5, seed=1).z)
    z = corpus.class_samples(corpus.df.pred.iloc[0], 4, seed=2)
    assert z.shape == (4, 4) and np.array_equal(z, corpus.class_samples(corpus.df.pred.iloc[0], 4, seed=2))
    with pytest.raises(ValueError, match="no document"):
        corpus.class_samples("nothing", 2)
    places = corpus.empty_places(3, resolution=20)
    assert places.shape[1] == 2 and len(places) <= 3


def test_empty_places_lie_in_the_holes_of_the_map():
    import pandas as pd

    # two dense clusters at the ends of a 10 x 10 square: its middle and its other corners are empty
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(0, 0.2, (200, 2)), rng.normal(10, 0.2, (200, 2))]).astype(np.float32)
    df = pd.DataFrame({"text": ["t"] * 400, "label": ["a"] * 400, "pred": ["a"] * 400, "x": xy[:, 0], "y": xy[:, 1],
                       "mu": list(xy), "probs": [np.ones(1, np.float32)] * 400})
    places = CorpusIndex(df, {"labels": ["a"]}).empty_places(4, resolution=30)
    assert len(places) == 4
    nearest = np.sqrt(((places[:, None, :] - xy[None]) ** 2).sum(-1)).min(1)
    assert (nearest > 3.0).all()  # far from every document (the clusters' spacing is a few hundredths)
    assert nearest[0] > 6.0  # the emptiest first: an empty corner, about 7 from both clusters
    gaps = np.sqrt(((places[:, None, :] - places[None]) ** 2).sum(-1))[np.triu_indices(4, 1)]
    assert (gaps > 1.0).all()  # spread out, not four neighbours of one grid point


def test_corpus_filter_combines_words_labels_predictions_and_mistakes(corpus):
    df = corpus.df
    assert corpus.filter() == []  # nothing asked, nothing selected
    goal = corpus.filter("GOAL")
    assert goal and all("goal" in df.text[i] for i in goal)
    lab = df.label[0]
    assert corpus.filter(labels=[lab]) == [i for i in range(len(df)) if df.label[i] == lab]
    assert corpus.filter(preds=[lab], labels=[lab]) == [i for i in range(len(df)) if df.label[i] == lab == df.pred[i]]
    assert corpus.filter(wrong_only=True) == [i for i in range(len(df)) if df.label[i] != df.pred[i]]


def test_agreement_metrics_of_two_models():
    from vae_core.evaluate import agreement_metrics

    a = ["x", "x", "y", "y"]
    b = ["x", "y", "y", "y"]
    m = agreement_metrics(a, b, ["x", "y"], ["x", "x", None, "x"])
    assert m["agree"] == 0.75 and 0 < m["kappa"] < 1
    # the three documents with a known label: A right on 2, B on 1; both wrong on the last
    assert m["acc_a"] == 2 / 3 and m["acc_b"] == 1 / 3 and m["both_wrong"] == 1 / 3
    assert "acc_a" not in agreement_metrics(a, b, ["x", "y"])


def test_an_index_file_without_a_column_of_the_schema_is_refused(corpus, tmp_path):
    from vae_core.corpus_index import ARRAY_COLUMNS, INDEX_COLUMNS, read_index, write_index

    assert list(corpus.df.columns) + list(ARRAY_COLUMNS) == list(INDEX_COLUMNS)
    full = corpus.df.assign(**{k: list(v) for k, v in corpus.arrays.items()})
    write_index(full.drop(columns=["mu"]), tmp_path / "old.parquet", {"labels": corpus.labels})
    with pytest.raises(ValueError, match="lacks the index column.* mu: rebuild it"):
        read_index(tmp_path / "old.parquet")


def test_a_loaded_index_holds_its_vectors_as_matrices_equal_to_the_table(corpus, tmp_path):
    """`CorpusIndex.load` reads probs, mu and logvar from Arrow straight into (N, D) matrices: the same numbers as
    the table's rows, and the DataFrame keeps only the scalar columns."""
    from vae_core.corpus_index import ARRAY_COLUMNS, CorpusIndex, read_index, write_index

    full = corpus.df.assign(**{k: list(v) for k, v in corpus.arrays.items()})
    write_index(full, tmp_path / "c.parquet", dict(corpus.meta))
    loaded = CorpusIndex.load(tmp_path / "c.parquet")
    df, _ = read_index(tmp_path / "c.parquet")
    for k in ARRAY_COLUMNS:
        assert getattr(loaded, k).shape == (len(df), len(df[k].iat[0])) and getattr(loaded, k).dtype == np.float32
        np.testing.assert_array_equal(getattr(loaded, k), np.stack(df[k].to_numpy()))
        assert k not in loaded.df
    assert loaded.content_key == corpus.content_key
