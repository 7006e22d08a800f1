"""The model's mistakes and the map in groups, each described in words: error slices (misclassified documents
grouped on the map, each with a text decoded from its centre), suspect labels (confident learning on the
model's and the latent neighbours' view of each document) and named regions of the map. Nothing here needs
torch: decoding and classifying go through an `Explorer`, the rest reads a `CorpusIndex`."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

SLICE_MIN_SIZE = 5  # a slice has at least this many documents
SUSPECT_NEIGHBOURS = 40  # latent neighbours whose labels are a document's second opinion
NEIGHBOUR_WEIGHT = 0.5  # share of that opinion beside the model's probabilities
REGION_MAX = 12  # labels shown over the map at most
REGION_SAMPLE = 20_000  # larger corpora: regions are found on a seeded sample of this many documents
HEADLINE_WORDS = 8
# Texts decoded to describe a group: fewer candidates (DECODE_CANDIDATES) and tokens than the app's decoding, for
# the time a first view may take; what that costs and saves: benchmarks/groups.py (RESULTS.md)
DESCRIPTION_CANDIDATES, DESCRIPTION_TOKENS = 4, 40
MIN_LIFT = 1.5  # a group's word is in at least this many times the share of its documents as of the corpus'
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"  # words of two or more letters


# ---- distinctive words (class-based TF-IDF) ----
def distinctive_words(texts: Sequence[str], groups: Sequence[int], k: int = 8, min_docs: int = 2) -> dict[int, list[str]]:
    """The k words that set each group of documents apart, by class-based TF-IDF (BERTopic's c-TF-IDF: a
    group's documents as one document, each word's in-group frequency weighted by log(1 + A / its frequency
    over all groups), A the mean number of words per group). Group -1 holds the rest of the corpus: it takes
    part in the weighting but gets no words. A word must occur in `min_docs` of a group's documents (fewer
    when the group is smaller), so that one document's name does not describe a group, and be over-represented
    in it (MIN_LIFT), so that a word common everywhere ("said") does not either."""
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    groups = np.asarray(groups)
    names = sorted(set(groups.tolist()))
    try:
        counts = CountVectorizer(stop_words="english", token_pattern=TOKEN_PATTERN).fit(texts)
    except ValueError:  # no word at all
        return {g: [] for g in names if g >= 0}
    vocab = counts.get_feature_names_out()
    X = counts.transform(texts)  # (N, V)
    member = sparse.csr_matrix((np.ones(len(groups)), ([names.index(g) for g in groups], np.arange(len(groups)))),
                               shape=(len(names), len(groups)))
    tf = np.asarray((member @ X).todense(), dtype=np.float64)  # (G, V)
    docs = np.asarray((member @ (X > 0).astype(np.float64)).todense())  # (G, V) documents holding the word
    sizes = np.asarray(member.sum(1)).ravel()
    lift = (docs / sizes[:, None]) / np.maximum(docs.sum(0, keepdims=True) / len(groups), 1e-12)
    A = tf.sum() / len(names)
    weight = tf / np.maximum(tf.sum(1, keepdims=True), 1) * np.log1p(A / np.maximum(tf.sum(0, keepdims=True), 1))
    out = {}
    for gi, g in enumerate(names):
        if g < 0:
            continue
        w = np.where((docs[gi] >= min(min_docs, sizes[gi])) & (lift[gi] >= MIN_LIFT), weight[gi], 0.0)
        order = np.argsort(-w, kind="stable")[:k]
        out[g] = [str(vocab[j]) for j in order if w[j] > 0]
    return out


def headline(text: str, words: int = HEADLINE_WORDS) -> str:
    """A decoded text cut to its headline: up to its first dateline, dash or sentence end, at most `words` words."""
    head = re.split(r"\s\(|\s-\s|\s--\s|[.!?](?:\s|$)|:\s", text.strip(), maxsplit=1)[0].strip(" '\"-,;")
    parts = (head or text.strip()).split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _clusters(xy: np.ndarray, min_size: int, min_samples: int | None, leaf: bool) -> np.ndarray:
    """HDBSCAN cluster of each point (-1: in none); the number of clusters is the data's."""
    from sklearn.cluster import HDBSCAN

    if len(xy) < max(min_size, 2):
        return np.full(len(xy), -1)
    return HDBSCAN(min_cluster_size=min_size, min_samples=min_samples, copy=True,
                   cluster_selection_method="leaf" if leaf else "eom").fit_predict(xy)


def _main(values):
    """The most common value (the first seen of equals) and its share."""
    from collections import Counter

    values = list(values)
    value, n = Counter(values).most_common(1)[0]
    return value, n / len(values)


# ---- error slices ----
@dataclass
class Slice:
    id: int
    rows: list[int]  # corpus rows, the nearest to the slice's centre in latent space first
    true_label: str  # the main true -> predicted pair of its documents
    pred_label: str
    pair_share: float  # share of the documents in that pair
    description: str  # decoded from the centre (mean posterior mean) of its documents
    description_label: str  # the model's class of that text, encoded again
    words: list[str]  # distinctive against the rest of the corpus
    x: float  # its centre on the map
    y: float

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def examples(self) -> list[int]:
        return self.rows[:3]


def error_slices(explorer, corpus, rows: Sequence[int] | None = None, min_size: int = SLICE_MIN_SIZE,
                 words: int = 8) -> list[Slice]:
    """Groups of the misclassified documents of `corpus` (or of `rows`, e.g. one confusion-matrix cell), found
    by HDBSCAN on their map positions (the UMAP of their posterior means; leaf clusters of at least `min_size`,
    as many as the data holds), largest first. Documents in no group are left out."""
    if rows is None:
        rows = np.flatnonzero((corpus.df["correct"] == False).to_numpy())  # noqa: E712 (None: unlabelled)
    rows = np.asarray(rows, dtype=int)
    cluster = _clusters(corpus.xy[rows], min_size, min_samples=2, leaf=True)
    ids = [c for c in range(cluster.max() + 1) if (cluster == c).sum() >= min_size]
    if not ids:
        return []
    members = [rows[cluster == c] for c in ids]
    order = sorted(range(len(ids)), key=lambda i: (-len(members[i]), int(members[i].min())))
    members = [members[i] for i in order]
    centres = np.stack([corpus.mu[m].mean(0) for m in members])
    descriptions = explorer.decode(centres, DESCRIPTION_CANDIDATES, DESCRIPTION_TOKENS)
    classes = explorer.reclassify(descriptions)
    groups = np.full(len(corpus), -1)
    for i, m in enumerate(members):
        groups[m] = i
    vocab = distinctive_words(corpus.df["text"].tolist(), groups, k=words)
    df, out = corpus.df, []
    for i, m in enumerate(members):
        near = m[np.argsort(np.linalg.norm(corpus.mu[m] - centres[i], axis=1), kind="stable")]
        (true_label, pred_label), share = _main(zip(df["label"].to_numpy()[m], df["pred"].to_numpy()[m]))
        x, y = corpus.xy[m].mean(0)
        out.append(Slice(id=i, rows=near.tolist(), true_label=true_label, pred_label=pred_label, pair_share=share,
                         description=descriptions[i], description_label=explorer.labels[int(classes[i])],
                         words=vocab.get(i, []), x=float(x), y=float(y)))
    return out


def slice_membership(corpus, slices: Sequence[Slice], rows: Sequence[int] | None = None):
    """One row per document asked about (default: every misclassified one): its 0-based `row` in the corpus,
    its `slice` id (-1: in none), the slice's `description`, and the document's text, label and prediction."""
    import pandas as pd

    if rows is None:
        rows = np.flatnonzero((corpus.df["correct"] == False).to_numpy())  # noqa: E712
    of = {r: s for s in slices for r in s.rows}
    df = corpus.df
    out = pd.DataFrame({
        "row": [int(r) for r in rows],
        "slice": [of[r].id if r in of else -1 for r in rows],
        "description": [of[r].description if r in of else "" for r in rows],
        "label": [df["label"].iat[r] for r in rows],
        "pred": [df["pred"].iat[r] for r in rows],
        "text": [df["text"].iat[r] for r in rows],
    })
    out["unsliced"] = out["slice"] < 0  # the slices in order, then the documents in none
    return out.sort_values(["unsliced", "slice", "row"], kind="stable").drop(columns="unsliced").reset_index(drop=True)


# ---- suspect labels ----
def neighbour_label_shares(mu: np.ndarray, labels: np.ndarray, classes: int, k: int = SUSPECT_NEIGHBOURS) -> np.ndarray:
    """(N, C): of each document's k nearest other documents in latent space, the share with each label."""
    from sklearn.neighbors import NearestNeighbors

    k = max(1, min(k, len(mu) - 1))
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(mu).kneighbors(mu)
    idx = idx[:, 1:]  # not the document itself (ties: the first neighbour of a duplicate may be its twin)
    return np.stack([(labels[idx] == c).mean(1) for c in range(classes)], 1)


def crossfit_probs(corpus, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-sample class probabilities of a labelled corpus: a logistic regression on the frozen posterior means,
    fitted on k-1 folds and applied to the k-th (cleanlab's advice for suspects on a model's own training data,
    whose probabilities have memorised its labels). Rows without a label get the model's own."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    names = list(corpus.labels)
    given = corpus.df["label"].to_numpy()
    out = np.array(corpus.probs, dtype=np.float64, copy=True)
    rows = np.flatnonzero(corpus.df["label"].notna().to_numpy() & np.isin(given.astype(str), names))
    y = np.array([names.index(v) for v in given[rows]])
    k = min(folds, int(np.bincount(y).min()) if len(y) else 0)
    if k < 2:
        return out
    X = corpus.mu[rows]
    for train, test in StratifiedKFold(k, shuffle=True, random_state=seed).split(X, y):
        clf = LogisticRegression(max_iter=2000, C=1.0).fit(X[train], y[train])
        p = np.zeros((len(test), len(names)))
        p[:, clf.classes_] = clf.predict_proba(X[test])
        out[rows[test]] = p
    return out


def suspect_labels(corpus, neighbours: int = SUSPECT_NEIGHBOURS, weight: float = NEIGHBOUR_WEIGHT,
                   probs: np.ndarray | None = None):
    """Documents whose given label the model and their latent neighbours both doubt, the most suspect first.
    The evidence is the model's probabilities averaged with the neighbours' label shares. How many labels are
    wrong is confident learning's estimate (cleanlab's `num_label_issues`: per-class thresholds, the average
    evidence for each class among the documents labelled with it, count the documents confidently in another
    class); which ones, the documents whose evidence gives their label the least (score = 1 - that
    probability), among those whose evidence points to another class. (Ranking every document by the score
    found more of the labels flipped at random than cleanlab's own pick, benchmarks/RESULTS.md.) Columns: row
    (0-based, in the corpus), label, suggested, score, p_label / p_suggested (the model's), neighbours_label /
    neighbours_suggested (shares of the neighbours' labels), text. `probs`: other class probabilities than the
    model's (e.g. `crossfit_probs`)."""
    import pandas as pd
    from cleanlab.count import num_label_issues
    from cleanlab.rank import get_label_quality_scores

    names = list(corpus.labels)
    given = corpus.df["label"].to_numpy()
    rows = np.flatnonzero(np.isin(given.astype(str), names) & corpus.df["label"].notna().to_numpy())
    columns = ["row", "label", "suggested", "score", "p_label", "p_suggested", "neighbours_label",
               "neighbours_suggested", "text"]
    present = {str(v) for v in given[rows]}
    if len(rows) < 3 or len(present) < 2:
        return pd.DataFrame(columns=columns)
    y = np.array([names.index(v) for v in given[rows]])
    p_model = (corpus.probs if probs is None else probs)[rows].astype(np.float64)
    p_model /= p_model.sum(1, keepdims=True)
    shares = neighbour_label_shares(corpus.mu[rows], y, len(names), neighbours)
    k = min(neighbours, len(rows) - 1)
    smoothed = (shares * k + 1.0) / (k + len(names))  # one count per class: no label is ruled out
    evidence = (1 - weight) * p_model + weight * smoothed
    how_many = int(num_label_issues(y, evidence))
    score = 1.0 - get_label_quality_scores(y, evidence, method="self_confidence")
    suggested = evidence.argmax(1)
    pick = np.flatnonzero(suggested != y)
    pick = pick[np.argsort(-score[pick], kind="stable")][:how_many]
    return pd.DataFrame({
        "row": rows[pick].astype(int),
        "label": [names[i] for i in y[pick]],
        "suggested": [names[i] for i in suggested[pick]],
        "score": score[pick].round(4),
        "p_label": p_model[pick, y[pick]].round(4),
        "p_suggested": p_model[pick, suggested[pick]].round(4),
        "neighbours_label": shares[pick, y[pick]].round(3),
        "neighbours_suggested": shares[pick, suggested[pick]].round(3),
        "text": corpus.df["text"].to_numpy()[rows[pick]],
    }, columns=columns)


# ---- what separates two classes the model confuses ----
BOUNDARY_POINTS = ("true class's centre", "the boundary", "predicted class's centre")  # where a pair's texts are decoded


@dataclass
class PairBoundary:
    """A pair of classes the model confuses, in words: texts decoded on the line between the two classes' centres
    in latent space (at the true class's centre, where the line crosses the boundary between the two, at the
    predicted class's centre) and the words that set each class's documents apart from the other's."""
    true_label: str
    pred_label: str
    count: int  # documents of the true class predicted as the other
    share: float  # of the true class's documents
    rows: list[int]  # those documents, the most confident first
    texts: list[str]  # decoded at BOUNDARY_POINTS; empty when a class has no document in the corpus to place it
    read_as: list[str]  # the class the model gives each of those latents
    shares: list[float]  # p(true) / (p(true) + p(predicted)) there
    words_true: list[str]  # distinctive of the true class's documents against the predicted class's
    words_pred: list[str]
    words_confused: list[str]  # of the confused documents against the true class's documents the model gets right


def ranked_confusions(cm, names: Sequence[str], limit: int | None = 20) -> list[tuple[str, str, int, float]]:
    """(true, predicted, documents, share of the true class) of a confusion matrix's off-diagonal cells with a count
    (rows: true class), the largest first (ties: the larger share of the true class, then by names)."""
    a = np.asarray(cm, dtype=np.int64)
    sizes = a.sum(1)
    t, p = np.nonzero(a - np.diag(np.diag(a)))
    ranked = sorted(((str(names[i]), str(names[j]), int(a[i, j]), int(a[i, j]) / int(sizes[i])) for i, j in zip(t, p)),
                    key=lambda r: (-r[2], -r[3], r[0], r[1]))
    return ranked[:limit]


def confused_pairs(corpus, limit: int | None = 20) -> list[tuple[str, str, int, float]]:
    """`ranked_confusions` of a labelled corpus (its labelled documents)."""
    names = list(corpus.labels)
    df = corpus.df[corpus.df["label"].isin(names) & corpus.df["pred"].isin(names)]
    cm = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(cm, ([names.index(v) for v in df["label"]], [names.index(v) for v in df["pred"]]), 1)
    return ranked_confusions(cm, names, limit)


def pair_boundaries(explorer, corpus, pairs: Sequence[tuple[str, str]], words: int = 6, steps: int = 41) -> list[PairBoundary]:
    """`PairBoundary` of each (true, predicted) pair of a labelled corpus. The line runs between the two classes'
    mean posterior means (by true label); the text is decoded at both ends and, of `steps` points along it, at the
    one where p(true) / (p(true) + p(predicted)) is closest to 1/2 (all pairs' texts in one batch)."""
    df = corpus.df
    label, pred = df["label"].to_numpy(), df["pred"].to_numpy()
    names = explorer.labels
    # a class's centre: of the documents labelled with it, else of those predicted as it
    centres = {**corpus.centroids("pred"), **corpus.centroids("label")}
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    points, found = [], []
    placed = [(a, b) for a, b in pairs if a in centres and b in centres]
    for a, b in placed:
        line = (1 - t) * centres[a][None] + t * centres[b][None]
        p = explorer.probs(line)
        pa, pb = p[:, names.index(a)], p[:, names.index(b)]
        share = pa / np.maximum(pa + pb, 1e-12)
        at = [0, int(np.argmin(np.abs(share - 0.5))), steps - 1]
        points.append(line[at])
        found.append(([names[int(i)] for i in p[at].argmax(1)], [float(share[i]) for i in at]))
    texts = explorer.decode(np.concatenate(points), DESCRIPTION_CANDIDATES, DESCRIPTION_TOKENS) if points else []
    decoded = {pair: i for i, pair in enumerate(placed)}
    all_texts = df["text"].astype(str).to_numpy()
    out = []
    for i, (a, b) in enumerate(pairs):
        in_a, in_b = label == a, label == b
        confused = np.flatnonzero(in_a & (pred == b))
        confused = confused[np.argsort(-df["confidence"].to_numpy()[confused], kind="stable")]
        sides = np.flatnonzero(in_a | in_b)
        vocab = distinctive_words(all_texts[sides].tolist(), np.where(in_a[sides], 0, 1), k=words)
        right = np.flatnonzero(in_a & (pred == a))
        both = np.concatenate([confused, right])
        vocab_c = distinctive_words(all_texts[both].tolist(), np.r_[np.zeros(len(confused), int), -np.ones(len(right), int)],
                                    k=words) if len(confused) else {}
        n, at = len(BOUNDARY_POINTS), decoded.get((a, b))  # None: a class with no document in the corpus
        out.append(PairBoundary(true_label=a, pred_label=b, count=len(confused), share=len(confused) / max(int(in_a.sum()), 1),
                                rows=confused.tolist(), texts=texts[at * n : (at + 1) * n] if at is not None else [],
                                read_as=found[at][0] if at is not None else [],
                                shares=found[at][1] if at is not None else [],
                                words_true=vocab.get(0, []), words_pred=vocab.get(1, []),
                                words_confused=vocab_c.get(0, [])))
    return out


# ---- named regions of the map ----
@dataclass
class Region:
    id: int
    x: float  # where its label goes: the member nearest the median of its members' positions
    y: float
    size: int  # documents in it (of the sample when the corpus was sampled)
    label: str  # the class most of its documents are predicted as
    headline: str  # its description cut to a headline
    description: str  # decoded from the centre (mean posterior mean) of its documents
    words: list[str]  # distinctive against the other regions

    def to_dict(self) -> dict:
        return asdict(self)


def map_regions(explorer, corpus, max_regions: int = REGION_MAX, sample: int = REGION_SAMPLE, seed: int = 0,
                words: int = 6) -> list[Region]:
    """The largest regions of the map (HDBSCAN's leaf clusters of the map positions, each of at least 2% of the
    documents), at most `max_regions`, each named by the text decoded from its centre. Corpora over `sample` documents are
    clustered on a seeded sample of them."""
    n = len(corpus)
    rows = np.arange(n)
    if n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    xy = corpus.xy[rows]
    cluster = _clusters(xy, max(10, len(rows) // 50), min_samples=None, leaf=True)
    sizes = np.bincount(cluster[cluster >= 0], minlength=1) if (cluster >= 0).any() else np.zeros(0, dtype=int)
    keep = [int(c) for c in np.argsort(-sizes, kind="stable")[:max_regions] if sizes[c] > 0]
    if not keep:
        return []
    members = [rows[cluster == c] for c in keep]
    centres = np.stack([corpus.mu[m].mean(0) for m in members])
    descriptions = explorer.decode(centres, DESCRIPTION_CANDIDATES, DESCRIPTION_TOKENS)
    groups = np.full(len(rows), -1)
    for i, c in enumerate(keep):
        groups[cluster == c] = i
    vocab = distinctive_words(corpus.df["text"].to_numpy()[rows].tolist(), groups, k=words)
    out = []
    for i, m in enumerate(members):
        mid = np.median(corpus.xy[m], axis=0)
        at = m[int(np.argmin(np.linalg.norm(corpus.xy[m] - mid, axis=1)))]
        label, _ = _main(corpus.df["pred"].to_numpy()[m])
        out.append(Region(id=i, x=float(corpus.xy[at, 0]), y=float(corpus.xy[at, 1]), size=len(m), label=label,
                          headline=headline(descriptions[i]), description=descriptions[i], words=vocab.get(i, [])))
    return out


def regions_from_meta(meta: dict) -> list[Region] | None:
    """The regions an index stored in its metadata (`index` computes them), None when it has none."""
    raw = meta.get("regions")
    if not isinstance(raw, list):
        return None
    try:
        return [Region(**{k: r[k] for k in Region.__dataclass_fields__}) for r in raw]
    except (KeyError, TypeError):
        return None
