"""Drift at scale: 100,000 new documents against a 100,000-document reference, after encoding (issue 31).

Rows are drawn from the bundled model's dev posteriors (mu with a little Gaussian noise, 5% of each dimension's
spread, so that no two are equal) with their texts and predictions; 7% of the new corpus is drawn the same way from
the posteriors of 300 DBpedia plant and animal articles (encoded once). Times `vae_core.drift.drift` (the test, the
regions, their descriptions and words, the placement on the reference's map) and reports the process' peak memory.

    python benchmarks/drift_scale.py --rows 100000

Prints the figures and writes benchmarks/drift_scale.json.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "drift_scale.json"


def drawn(source, rows: np.ndarray, rng, noise: float):
    """A CorpusIndex of `source`'s rows (repeated as drawn), their posterior means jittered."""
    from vae_core.corpus_index import CorpusIndex

    mu = source.mu[rows] + rng.normal(0, 1, (len(rows), source.mu.shape[1])).astype(np.float32) * noise
    df = source.df.iloc[rows].reset_index(drop=True)
    return CorpusIndex(df, dict(source.meta), {"mu": mu.astype(np.float32), "probs": source.probs[rows],
                                               "logvar": source.logvar[rows]})


def main() -> None:
    import pandas as pd

    from vae_core.drift import drift
    from vae_core.indexing import new_corpus_index
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--planted", type=float, default=0.07)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    explorer = Explorer.load(args.model)
    dev = CorpusIndex.load(Path(args.model) / "index" / "ag_news_dev.parquet")
    foreign = pd.read_csv(REPO / "benchmarks" / "data" / "dbpedia13" / "holdout.csv")
    texts = foreign[foreign["label"].isin(["Plant", "Animal"])]["text"].sample(n=300, random_state=args.seed).tolist()
    plants = new_corpus_index(explorer.model, texts, None, dev, progress=False)
    rng = np.random.default_rng(args.seed)
    noise = 0.05 * dev.mu.std(0)
    ref = drawn(dev, rng.integers(0, len(dev), args.rows), rng, noise)
    n_planted = int(args.planted * args.rows)
    own = drawn(dev, rng.integers(0, len(dev), args.rows - n_planted), rng, noise)
    pl = drawn(plants, rng.integers(0, len(plants), n_planted), rng, noise)
    new = CorpusIndex(pd.concat([own.df, pl.df], ignore_index=True), dict(dev.meta),
                      {k: np.vstack([own.arrays[k], pl.arrays[k]]) for k in own.arrays})
    # the reference's own map positions: its rows' (drawn from dev, whose map they are on)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    steps = []
    t0 = time.time()
    d = drift(explorer, ref, new, seed=args.seed, progress=lambda s: steps.append((s, round(time.time() - t0, 1))))
    secs = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    is_planted = np.r_[np.zeros(len(own), bool), np.ones(len(pl), bool)]
    top = d.regions[0] if d.regions else None
    members = np.asarray(top.new_rows if top else [], dtype=int)
    res = {"reference": len(ref), "new": len(new), "planted": int(n_planted), "seconds": round(secs, 1),
           "steps": steps, "peak_rss_mb": round(peak), "rss_before_mb": round(rss0), "auc": d.auc,
           "flagged": len(d.flagged), "top_flagged": bool(top and top.flagged),
           "top_recall": float(is_planted[members].sum() / max(is_planted.sum(), 1)) if top else 0.0,
           "top_precision": float(is_planted[members].mean()) if len(members) else 0.0,
           "top_words": top.words if top else [], "top_description": top.description if top else ""}
    print(json.dumps(res, indent=2))
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
