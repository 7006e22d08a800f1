"""Error slices, suspect labels, named map regions and latent arithmetic on tiny models and planted corpora."""
import csv

import numpy as np
import pandas as pd
import pytest

from vae_core.cli import main
from vae_core.corpus_index import CorpusIndex, read_index
from vae_core.inference import Explorer
from vae_core.interpret.groups import (distinctive_words, error_slices, headline, map_regions,
                                       regions_from_meta, slice_membership, suspect_labels)

LABELS = ["money", "sport", "tech"]
FILLER = "market stock shares profit bank price trade deal growth team match goal".split()


@pytest.fixture()
def explorer(tiny_model):
    return Explorer(tiny_model, "tiny")


def planted_index(rows: list[dict], latent: int = 4) -> CorpusIndex:
    """A corpus index from rows of text, label, pred, x, y, mu (probs: confident in pred)."""
    df = pd.DataFrame(rows)
    df["probs"] = [np.eye(len(LABELS), dtype=np.float32)[LABELS.index(p)] * 0.9 + 0.1 / len(LABELS) for p in df["pred"]]
    df["mu"] = [np.asarray(m, dtype=np.float32) for m in df["mu"]]
    df["correct"] = df["label"] == df["pred"]
    return CorpusIndex(df, {"labels": LABELS})


def filler(rng, n: int = 8) -> str:
    return " ".join(rng.choice(FILLER, n))


def test_a_planted_group_of_mistakes_is_one_slice_with_its_words(explorer):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):  # the planted slice: sport documents read as money, tight on the map, about zeppelins
        rows.append(dict(text=f"zeppelin airship {filler(rng)}", label="sport", pred="money",
                         x=10 + rng.normal(0, 0.05), y=10 + rng.normal(0, 0.05), mu=rng.normal(3, 0.1, 4)))
    for i in range(15):  # mistakes spread far apart
        rows.append(dict(text=filler(rng), label="tech", pred="sport", x=rng.uniform(-100, 100),
                         y=rng.uniform(-100, -20), mu=rng.normal(0, 1, 4)))
    for i in range(60):  # correct documents
        lab = LABELS[i % 3]
        rows.append(dict(text=filler(rng), label=lab, pred=lab, x=rng.uniform(-50, 50), y=rng.uniform(20, 60),
                         mu=rng.normal(-2, 1, 4)))
    corpus = planted_index(rows)
    slices = error_slices(explorer, corpus)
    assert slices, "the planted group is found"
    top = slices[0]
    assert set(range(12)) <= set(top.rows) and top.size == 12, "the largest slice is exactly the planted group"
    assert (top.true_label, top.pred_label, top.pair_share) == ("sport", "money", 1.0)
    assert {"zeppelin", "airship"} <= set(top.words[:2])
    assert top.description_label in LABELS and isinstance(top.description, str)
    centre = corpus.mu[:12].mean(0)
    dist = np.linalg.norm(corpus.mu[top.rows] - centre, axis=1)
    assert list(dist) == sorted(dist), "documents nearest the centre first"
    assert abs(top.x - 10) < 0.1 and abs(top.y - 10) < 0.1
    assert all(s.size >= 5 for s in slices) and [s.size for s in slices] == sorted((s.size for s in slices), reverse=True)
    table = slice_membership(corpus, slices)
    assert list(table.columns[:3]) == ["row", "slice", "description"]
    assert sorted(table["row"]) == list(range(27)), "every misclassified document, once"
    assert (table.loc[table["row"] < 12, "slice"] == top.id).all()
    # one cell of the confusion matrix: only its documents are grouped
    cell = error_slices(explorer, corpus, rows=list(range(12, 27)))
    assert all(set(s.rows) <= set(range(12, 27)) for s in cell)


def test_too_few_or_scattered_mistakes_make_no_slice(explorer):
    rng = np.random.default_rng(1)
    rows = [dict(text=filler(rng), label="tech", pred="money", x=float(i * 50), y=float((i % 2) * 50),
                 mu=rng.normal(0, 1, 4)) for i in range(4)]
    rows += [dict(text=filler(rng), label="money", pred="money", x=0.0, y=100.0 + i, mu=rng.normal(0, 1, 4))
             for i in range(10)]
    assert error_slices(explorer, planted_index(rows)) == []


def clustered_corpus(n_per_class: int = 30, seed: int = 0):
    """Three classes, each a tight cloud in latent space, predicted right by a confident model."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, lab in enumerate(LABELS):
        for _ in range(n_per_class):
            mu = rng.normal(0, 0.3, 4)
            mu[c] += 5
            rows.append(dict(text=filler(rng), label=lab, pred=lab, x=float(mu[c] * 10 + c * 100), y=float(mu[3]),
                             mu=mu))
    return rows


def test_a_flipped_label_ranks_first_with_its_evidence():
    rows = clustered_corpus(50)  # more documents a class than neighbours asked (40)
    rows[5]["label"] = "tech"  # a money document labelled tech: the model and all its neighbours disagree
    rows[60]["pred"] = "tech"  # a sport document the model gets wrong, but its neighbours back its label
    table = suspect_labels(planted_index(rows))
    assert list(table.columns) == ["row", "label", "suggested", "score", "p_label", "p_suggested", "neighbours_label",
                                   "neighbours_suggested", "text"]
    first = table.iloc[0]
    assert (first["row"], first["label"], first["suggested"]) == (5, "tech", "money")
    assert first["neighbours_suggested"] == 1.0 and first["neighbours_label"] == 0.0
    assert first["p_label"] < 0.1 < 0.9 < first["p_suggested"] + 0.05
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    assert 60 not in set(table["row"]), "the model alone doubting a label does not make it suspect"


def test_no_suspects_without_labels_or_with_one_class():
    rows = clustered_corpus(5)
    for r in rows:
        r["label"] = None
    assert suspect_labels(planted_index(rows)).empty
    rows = [dict(r, label="money", pred="money") for r in clustered_corpus(5)]
    assert suspect_labels(planted_index(rows)).empty


def test_regions_name_the_clouds_of_the_map(explorer):
    rows = clustered_corpus(40)
    for r in rows:  # each class's words, so that its region has its own
        r["text"] = f"{r['label']}word {r['text']}"
    corpus = planted_index(rows)
    regions = map_regions(explorer, corpus)
    assert 3 <= len(regions) <= 12
    clouds = {LABELS.index(r.label) for r in regions}
    assert clouds == {0, 1, 2}, "every cloud is named"
    for r in regions:
        assert (np.isclose(corpus.xy, [r.x, r.y]).all(1)).any(), "a name sits on a document of its region"
        assert r.words and r.words[0] == f"{r.label}word"
        assert r.headline and len(r.headline.split()) <= 9
    again = regions_from_meta({"regions": [r.to_dict() for r in regions]})
    assert again == regions
    assert regions_from_meta({}) is None and regions_from_meta({"regions": [{"x": 1}]}) is None


def test_distinctive_words_and_headlines():
    texts = ["oil price rises", "oil price falls", "oil deal", "goal scored late", "goal in extra time", "late goal wins"]
    words = distinctive_words(texts, [0, 0, 0, 1, 1, -1], k=2)
    assert set(words) == {0, 1} and words[0] == ["oil", "price"] and words[1][0] == "goal"
    # a word from one document alone does not describe a group of three
    assert "deal" not in distinctive_words(texts, [0, 0, 0, -1, -1, -1], k=5)[0]
    assert distinctive_words(["a", "b"], [0, -1]) == {0: []}
    assert headline("Oil prices fall as stocks rise (Reuters) - the market said") == "Oil prices fall as stocks rise"
    assert headline("Federer wins. Then he rests") == "Federer wins"
    assert headline("one two three four five six seven eight nine ten") == "one two three four five six seven eight…"


def test_latent_arithmetic_adds_and_subtracts_posterior_means(explorer):
    a, b, c = "market stock profit bank", "market", "team goal match"
    path = explorer.arithmetic(a, b, c)
    mu, _ = explorer.encode([a, b, c])
    assert len(path) == 5 and len(path.texts) == 5
    np.testing.assert_allclose(path.z[0], mu[0], atol=1e-6)
    np.testing.assert_allclose(path.z[-1], mu[0] - mu[1] + mu[2], atol=1e-5)
    np.testing.assert_allclose(path.z[2], mu[0] + 0.5 * (mu[2] - mu[1]), atol=1e-5)
    assert path.labels[-1] == LABELS[int(path.probs[-1].argmax())]
    with pytest.raises(ValueError, match="Text B is empty"):
        explorer.arithmetic(a, "  ", c)


def test_cli_slices_suspects_and_regions(own_run, tmp_path, capsys):
    model = own_run / "model"
    index = model / "index" / "dev.parquet"
    _, meta = read_index(index)
    assert isinstance(meta.get("regions"), list), "`index` (run after `train`) names the map's regions"
    out = tmp_path / "slices.csv"
    assert main(["slices", str(model), "--data", str(index), "--output", str(out), "--min-size", "2"]) == 0
    printed = capsys.readouterr().out
    assert "error slices of" in printed
    with open(out, encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    df, _ = read_index(index)
    wrong = set(np.flatnonzero((df["correct"] == False).to_numpy()).tolist())  # noqa: E712
    assert {int(r["row"]) for r in table} == wrong, "every misclassified document, once"
    assert open(out, encoding="utf-8").readline().strip() == "row,slice,description"
    sus = tmp_path / "suspects.csv"
    assert main(["suspects", str(model), "--data", str(index), "--output", str(sus)]) == 0
    header = open(sus, encoding="utf-8").readline().strip().split(",")
    assert header[:4] == ["row", "label", "suggested", "score"]
    # a raw data file is encoded first; an index of another model's classes is refused
    raw = tmp_path / "dev.csv"
    raw.write_text("text,label\n" + "\n".join(f"{t},{y}" for t, y in zip(df["text"], df["label"])) + "\n")
    assert main(["suspects", str(model), "--data", str(raw)]) == 0
    assert main(["regions", str(model), str(index)]) == 0
    _, meta2 = read_index(index)
    assert meta2["regions"] == meta["regions"], "naming the regions again gives the same names"
    unlabelled = tmp_path / "nolabels.csv"
    unlabelled.write_text("text\nsome text here\nmore text there\n")
    capsys.readouterr()
    assert main(["slices", str(model), "--data", str(unlabelled), "--label-column", ""]) == 2
    assert "error slices need the true classes" in capsys.readouterr().err


def test_confused_pairs_ranked_and_described_across_their_boundary(explorer):
    from vae_core.interpret.groups import confused_pairs, pair_boundaries

    rng = np.random.default_rng(0)
    rows = []
    for i in range(60):  # money documents, 6 of them predicted sport, 2 tech; sport documents, 3 predicted money
        label = "money" if i < 40 else "sport"
        pred = ("sport" if i < 6 else "tech" if i < 8 else "money") if label == "money" else ("money" if i < 43 else "sport")
        centre = {"money": -2.0, "sport": 2.0, "tech": 0.0}[label]
        rows.append({"text": f"{label}word {filler(rng)}", "label": label, "pred": pred, "x": centre + rng.normal(),
                     "y": rng.normal(), "confidence": 0.9, "mu": rng.normal(centre, 0.3, 4)})
    corpus = planted_index(rows)
    pairs = confused_pairs(corpus)
    assert [(t, p, n) for t, p, n, _ in pairs] == [("money", "sport", 6), ("sport", "money", 3), ("money", "tech", 2)]
    assert pairs[0][3] == pytest.approx(6 / 40)
    found = pair_boundaries(explorer, corpus, [(t, p) for t, p, _, _ in pairs[:2]] + [("sport", "tech")])
    first = found[0]
    assert first.count == 6 and len(first.rows) == 6 and len(first.texts) == 3 and len(first.read_as) == 3
    # the middle text is where the line comes closest to the boundary between the two (a tiny random classifier
    # need not cross it)
    assert abs(first.shares[1] - 0.5) <= min(abs(first.shares[0] - 0.5), abs(first.shares[2] - 0.5))
    assert first.words_true[0] == "moneyword" and first.words_pred[0] == "sportword"
    # tech has no labelled document: its centre is its predicted documents'; a class with neither has no texts
    assert len(found[2].texts) == 3
    none = pair_boundaries(explorer, planted_index([r for r in rows if r["pred"] != "tech"]), [("money", "tech")])[0]
    assert none.texts == [] and none.count == 0
