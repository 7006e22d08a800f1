"""What goes into the offline report on a model and a corpus (`python -m app_ui report`, the Model page's
"Download report"): every figure as plain data. Drawing it into one HTML file is the app's job
(app_ui/report.py), which holds the figures the pages draw.

The corpus is an index (`vae_core.corpus_index.CorpusIndex`): the accuracy, calibration and slices are those of the
same predictions `evaluate`, `slices`, `suspects` and the app show.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

EXPLAINED_EXAMPLES = 3
INTERPOLATION_STEPS = 7
SUSPECTS_SHOWN = 10
SLICES_SHOWN = 8
PAIRS_SHOWN = 8  # the most-confused pairs described in words
BASELINE_NAME = "TF-IDF + logistic regression"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def find_training_file(model_folder: Path, near: Sequence[Path]) -> Path | None:
    """The model's training file, when it can be found unchanged: the file its data_fingerprint.json names, in the
    working folder or one of the folders `near` (e.g. the evaluated file's), holding the same texts and labels (the
    fingerprint's sha256, read with the columns the model was trained on)."""
    from .data import DataError, read_corpus

    try:
        fp = json.loads((model_folder / "data_fingerprint.json").read_text(encoding="utf-8"))["train"]
        args = json.loads((model_folder / "training_args.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    name = Path(str(fp.get("file", "")))
    for candidate in dict.fromkeys([name] + [Path(d) / name.name for d in near]):
        if not candidate.is_file():
            continue
        try:
            corpus = read_corpus(candidate, args.get("text_column", "text"), args.get("label_column", "label"),
                                 allow_unlabelled=True)
        except DataError:
            continue
        if corpus.fingerprint()["sha256"] == fp.get("sha256"):
            return candidate
    return None


def baseline_metrics(train_file: Path, texts: Sequence[str], labels: Sequence[str | None], classes: list[str],
                     text_column: str = "text", label_column: str = "label", seed: int = 0) -> dict:
    """A TF-IDF (words and bigrams) + logistic regression classifier trained on the model's training file and
    scored on the labelled `texts`, with the same figures as the model's."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from .data import encode_labels, read_corpus
    from .evaluate import classification_metrics

    train = read_corpus(train_file, text_column, label_column, allow_unlabelled=True)
    pairs = [(t, y) for t, y in zip(train.texts, train.labels) if y in classes]
    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                        LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    clf.fit([t for t, _ in pairs], [classes.index(y) for _, y in pairs])
    known = [(t, k) for t, k in zip(texts, encode_labels(labels, classes)) if k >= 0]
    pred = clf.predict([t for t, _ in known])
    return {"name": BASELINE_NAME, "train_file": train_file.name, "train_rows": len(pairs),
            **classification_metrics([k for _, k in known], pred.tolist(), classes)}


def model_summary(explorer) -> dict:
    """The model card's summary: what the model is, how it was trained, and what was measured when it was built."""
    folder = explorer.folder
    cfg = explorer.model.config

    def read(name):
        try:
            return json.loads((folder / name).read_text(encoding="utf-8")) if folder else None
        except (OSError, ValueError):
            return None

    metrics, built, fp = read("metrics.json") or {}, read("evaluation.json") or {}, read("data_fingerprint.json") or {}
    weights = folder / "model.safetensors" if folder else None
    facts = [
        ("classes", ", ".join(cfg.labels) if len(cfg.labels) <= 20 else
         f"{len(cfg.labels)}: " + ", ".join(cfg.labels[:12]) + f" and {len(cfg.labels) - 12} more (the table below has each)"),
        ("encoder", cfg.encoder_name_or_path),
        ("latent space", f"{cfg.latent_size} dimensions" + (f" ({cfg.class_latent_size} read by the classifier)"
                                                          if cfg.content_latent_size else "")),
        ("decoder", f"{cfg.decoder_layers} layers, up to {cfg.decoder_max_length} tokens"),
        ("class probabilities", f"temperature {cfg.temperature:.3f} (calibrated on the dev file)" if cfg.temperature != 1
         else "as trained (no temperature)"),
    ]
    train = fp.get("train") or {}
    if train:
        facts.append(("trained on", f"{train.get('file')}, {train.get('rows', 0):,} rows"))
    stages = metrics.get("stages") or []
    if stages:
        facts.append(("training", f"{len(stages)} stages, "
                      + ", ".join(f"{s['stage']} {(s.get('train_seconds') or 0) / 60:.0f} min" for s in stages)))
    elif metrics.get("train_seconds"):
        facts.append(("training", f"{metrics['train_seconds'] / 60:.0f} min of optimisation steps"))
    if built.get("reader_top1") is not None:
        facts.append(("decoded text (at build time)",
                      f"an independent reader finds the source first {built['reader_top1']:.0%} of the time among "
                      f"{built.get('reader_candidates', 0):,} documents; mean cosine {built['reader_cosine']:.2f}"))
    return {"name": explorer.name, "facts": facts,
            "weights_sha256": file_sha256(weights) if weights is not None and weights.is_file() else None}


def explained_rows(corpus, n: int = EXPLAINED_EXAMPLES) -> list[tuple[int, str]]:
    """Documents worth explaining, with why: the most confident right prediction, the most confident mistake and
    the least confident prediction (without labels: the most and least confident)."""
    df = corpus.df
    conf = df["confidence"].to_numpy()
    picks: list[tuple[int, str]] = []
    right = np.flatnonzero((df["correct"] == True).to_numpy())  # noqa: E712
    wrong = np.flatnonzero((df["correct"] == False).to_numpy())  # noqa: E712
    if len(right):
        picks.append((int(right[np.argmax(conf[right])]), "a confident, correct prediction"))
    if len(wrong):
        picks.append((int(wrong[np.argmax(conf[wrong])]), "the most confident mistake"))
    if not len(right) and not len(wrong):
        picks.append((int(np.argmax(conf)), "the most confident prediction"))
    least = int(np.argmin(conf))
    if least not in [r for r, _ in picks]:
        picks.append((least, "the least confident prediction"))
    return picks[:n]


def interpolation_ends(corpus) -> tuple[int, int] | None:
    """Two documents for the decoded interpolation: the most confident of each of the two largest predicted classes;
    when every document is predicted as one class, the most confident one and the document farthest from it in
    latent space. None for fewer than two documents."""
    df = corpus.df
    if len(df) < 2:
        return None
    conf = df["confidence"].to_numpy()
    top = df["pred"].value_counts().index.tolist()[:2]
    if len(top) == 2:
        ends = []
        for c in top:
            rows = np.flatnonzero((df["pred"] == c).to_numpy())
            ends.append(int(rows[np.argmax(conf[rows])]))
        return ends[0], ends[1]
    a = int(np.argmax(conf))
    return a, int(np.argmax(np.linalg.norm(corpus.mu - corpus.mu[a], axis=1)))


def gather(explorer, corpus, data_name: str, data_sha256: str | None = None, train_file: Path | None = None,
           text_column: str = "text", label_column: str = "label", seed: int = 0,
           progress: Callable[[str, float], None] | None = None) -> dict:
    """Everything the report shows, for `explorer`'s model on the index `corpus` (of the file `data_name`).
    `progress(step, fraction)` is told what is being done."""
    from .evaluate import calibration_metrics, classification_metrics
    from .interpret.groups import confused_pairs, error_slices, pair_boundaries, suspect_labels

    def say(step: str, done: float) -> None:
        if progress is not None:
            progress(step, done)

    t0 = time.time()
    labels = explorer.labels
    df = corpus.df
    out: dict = {
        "made_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "data": {"name": data_name, "documents": len(corpus), "sha256": data_sha256},
        "model": model_summary(explorer),
        "labels": labels,
    }
    say("classification figures and calibration", 0.05)
    known = df["label"].notna().to_numpy()
    if known.any():
        codes = corpus.label_codes(labels)
        pred = np.array([labels.index(p) for p in df["pred"]])
        use = codes >= 0
        out["classification"] = classification_metrics(codes[use].tolist(), pred[use].tolist(), labels)
        out["classification"]["documents"] = int(use.sum())
        out["calibration"] = calibration_metrics(corpus.probs, codes, explorer.model.config.temperature)
        if train_file is not None:
            say(f"{BASELINE_NAME} on {train_file.name}", 0.15)
            out["baseline"] = baseline_metrics(train_file, df["text"].tolist(), df["label"].tolist(), labels,
                                               text_column, label_column, seed)
    say("error slices and suspect labels", 0.3)
    if known.any() and (df["correct"] == False).any():  # noqa: E712
        slices = error_slices(explorer, corpus)
        out["slices"] = [{"id": s.id, "size": s.size, "true": s.true_label, "pred": s.pred_label,
                          "pair_share": s.pair_share, "description": s.description,
                          "description_label": s.description_label, "words": s.words,
                          "examples": [df["text"].iat[r] for r in s.examples]} for s in slices[:SLICES_SHOWN]]
        out["slices_total"] = {"slices": len(slices), "documents": sum(s.size for s in slices),
                               "wrong": int((df["correct"] == False).sum())}  # noqa: E712
        pairs = confused_pairs(corpus, PAIRS_SHOWN)
        out["pairs"] = [{"true": b.true_label, "pred": b.pred_label, "count": b.count, "share": b.share,
                         "texts": b.texts, "read_as": b.read_as, "words_true": b.words_true, "words_pred": b.words_pred,
                         "words_confused": b.words_confused}
                        for b in pair_boundaries(explorer, corpus, [(t, p) for t, p, _, _ in pairs])]
        sus = suspect_labels(corpus).head(SUSPECTS_SHOWN)
        out["suspects"] = [{"row": int(t.row), "text": t.text, "label": t.label, "suggested": t.suggested,
                            "score": float(t.score), "p_label": float(t.p_label)} for t in sus.itertuples()]
    say("explained examples", 0.5)
    examples = []
    for row, why in explained_rows(corpus):
        text = str(df["text"].iat[row])
        k = labels.index(df["pred"].iat[row])
        attr = explorer.attribute(text, k, "integrated_gradients")
        test = explorer.faithfulness(text, [attr], seed=seed)
        examples.append({"row": row, "why": why, "text": text, "label": df["label"].iat[row], "pred": df["pred"].iat[row],
                         "confidence": float(df["confidence"].iat[row]), "attribution": attr,
                         "faithfulness": {m: e.to_dict() for m, e in test.items()}})
    out["examples"] = examples
    say("decoded interpolation", 0.75)
    ends = interpolation_ends(corpus)
    if ends is not None:
        a, b = ends
        path = explorer.interpolate(corpus.mu[a], corpus.mu[b], INTERPOLATION_STEPS)
        out["interpolation"] = {"rows": [a, b], "texts": [str(df["text"].iat[a]), str(df["text"].iat[b])],
                                "decoded": path.texts, "pred": path.labels,
                                "confidence": path.probs.max(-1).astype(float).tolist()}
    out["seconds"] = round(time.time() - t0, 1)
    say("drawing the report", 0.9)
    return out


def corpus_for_report(explorer, data: str | Path, text_column: str = "text", label_column: str | None = None,
                      seed: int = 0, say=print):
    """(CorpusIndex, its name, sha256 of the file) for a report on `data` (`indexing.read_or_index`): an index
    written by `index` as it is; a data file through the model's own index holding the same texts in the same order
    (no encoding), else encoded and mapped now, with its regions named. The labels are optional."""
    from .indexing import read_or_index

    data = Path(data)
    corpus = read_or_index(explorer, data, text_column, label_column, seed, regions=True, say=say)
    return corpus, str(corpus.meta.get("source") or data.name), file_sha256(data)
