"""Accuracy of a VAE checkpoint against baselines trained and evaluated in the same run, on the same data
and machine: TF-IDF (1-2 grams) + logistic regression, and the frozen base encoder (mean-pooled) +
logistic regression. Prints a table with the VAE's margin over the best baseline and writes JSON.

    python benchmarks/accuracy.py [--model assets/models/ag_news_vae] [--train F] [--test F]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def scores(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)), "macro_f1": float(f1_score(y_true, y_pred, average="macro"))}


def tfidf_baseline(train, test) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.time()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)
    x_train = vec.fit_transform(train.texts)
    clf = LogisticRegression(C=10.0, max_iter=2000).fit(x_train, train.labels)
    return {**scores(test.labels, clf.predict(vec.transform(test.texts))), "seconds": round(time.time() - t0, 1)}


def frozen_encoder_baseline(encoder: str, train, test, batch_size: int = 64) -> dict:
    import torch
    from sklearn.linear_model import LogisticRegression
    from transformers import AutoModel, AutoTokenizer

    from vae_core.encoders import resolve_encoder

    t0 = time.time()
    where = resolve_encoder(encoder)
    tok, model = AutoTokenizer.from_pretrained(where), AutoModel.from_pretrained(where).eval()

    @torch.no_grad()
    def embed(texts):
        out = []
        for s in range(0, len(texts), batch_size):
            enc = tok(texts[s : s + batch_size], padding=True, truncation=True, max_length=128, return_tensors="pt")
            h = model(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            out.append(((h * m).sum(1) / m.sum(1)).numpy())
        return np.concatenate(out)

    clf = LogisticRegression(C=10.0, max_iter=3000).fit(embed(train.texts), train.labels)
    return {**scores(test.labels, clf.predict(embed(test.texts))), "seconds": round(time.time() - t0, 1)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--train", default=str(REPO / "assets" / "data" / "ag_news" / "train.csv"))
    p.add_argument("--test", default=str(REPO / "assets" / "data" / "ag_news" / "dev.csv"))
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "accuracy.json"))
    args = p.parse_args()
    import torch

    from vae_core.config import portable_path
    from vae_core.data import read_corpus
    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    train = read_corpus(args.train, args.text_column, args.label_column)
    test = read_corpus(args.test, args.text_column, args.label_column)
    model = TextVAE.from_pretrained(args.model)
    t0 = time.time()
    probs = model.predict_proba(test.texts)
    vae = {**scores(test.labels, [model.labels[i] for i in probs.argmax(-1).tolist()]),
           "seconds": round(time.time() - t0, 1)}
    res = {
        "train": portable_path(args.train), "test": portable_path(args.test), "test_rows": len(test),
        "tfidf_1_2gram_logreg": tfidf_baseline(train, test),
        "frozen_encoder_logreg": frozen_encoder_baseline(model.config.encoder_name_or_path, train, test),
        "vae": vae,
    }
    best = max(res["tfidf_1_2gram_logreg"]["accuracy"], res["frozen_encoder_logreg"]["accuracy"])
    res["vae_margin_over_best_baseline_points"] = round(100 * (vae["accuracy"] - best), 2)
    print(f"{'system':<26} {'accuracy':>9} {'macro-F1':>9} {'seconds':>8}")
    for name in ("tfidf_1_2gram_logreg", "frozen_encoder_logreg", "vae"):
        r = res[name]
        print(f"{name:<26} {r['accuracy']:>9.4f} {r['macro_f1']:>9.4f} {r['seconds']:>8}")
    print(f"VAE margin over the best baseline: {res['vae_margin_over_best_baseline_points']:+.2f} points")
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
