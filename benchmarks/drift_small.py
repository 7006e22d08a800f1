"""Drift of a small upload against the model's corpus: does it flag nothing when the upload is of the same kind, and
find a planted topic when it has one? (issue 31)

The reference is the bundled model's dev index (3,800 documents); each new corpus is N documents drawn from the AG
News training file (a seeded sample per seed), alone or with a share of DBpedia plant and animal articles mixed in.

    python benchmarks/drift_small.py --rows 440 --seeds 6

Prints one line per run and writes benchmarks/drift_small.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "drift_small.json"


def main() -> None:
    import pandas as pd

    from vae_core.drift import drift
    from vae_core.indexing import new_corpus_index
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=440)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--planted", type=float, default=0.09)
    args = ap.parse_args()
    model = REPO / "assets" / "models" / "ag_news_vae"
    explorer = Explorer.load(model)
    ref = CorpusIndex.load(model / "index" / "ag_news_dev.parquet")
    train = pd.read_csv(REPO / "assets" / "data" / "ag_news" / "train.csv")
    foreign = pd.read_csv(REPO / "benchmarks" / "data" / "dbpedia13" / "holdout.csv")
    foreign = foreign[foreign["label"].isin(["Plant", "Animal"])]
    runs = []
    for seed in range(args.seeds):
        for planted in (0.0, args.planted):
            n_planted = int(round(planted * args.rows))
            news = train.sample(n=args.rows - n_planted, random_state=100 + seed)
            texts = news["text"].tolist() + foreign["text"].sample(n=n_planted, random_state=seed).tolist()
            labels = news["label"].tolist() + [None] * n_planted
            new = new_corpus_index(explorer.model, texts, labels, ref, seed=seed, progress=False)
            d = drift(explorer, ref, new, seed=seed, describe=False)
            is_planted = np.r_[np.zeros(len(news), bool), np.ones(n_planted, bool)]
            top = d.regions[0] if d.regions else None
            members = np.asarray(top.new_rows if top else [], dtype=int)
            row = {"seed": seed, "planted": n_planted, "new": len(new), "auc": d.auc, "flagged": len(d.flagged),
                   "top_flagged": bool(top and top.flagged)}
            if n_planted:
                row.update(top_recall=float(is_planted[members].sum() / n_planted) if top else 0.0,
                           top_precision=float(is_planted[members].mean()) if len(members) else 0.0)
            runs.append(row)
            print(row)
    same = [r for r in runs if not r["planted"]]
    mixed = [r for r in runs if r["planted"]]
    summary = {"same_kind_runs_flagging_anything": sum(r["flagged"] > 0 for r in same), "same_kind_runs": len(same),
               "planted_runs_top_flagged": sum(r["top_flagged"] for r in mixed), "planted_runs": len(mixed),
               "planted_recall_mean": float(np.mean([r["top_recall"] for r in mixed])),
               "planted_precision_mean": float(np.mean([r["top_precision"] for r in mixed]))}
    print(summary)
    OUT.write_text(json.dumps({"rows": args.rows, "planted_share": args.planted, "summary": summary, "runs": runs},
                              indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
