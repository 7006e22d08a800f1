"""Does drift find a planted topic, and stay quiet on a corpus of the reference's own kind? (issue 31)

The bundled AG News model's dev index is split in two seeded halves: one is the reference; the other, the documents
"of the reference's kind", gets foreign documents mixed in (a share --planted of the new corpus): DBpedia articles on
plants and animals (benchmarks/data/dbpedia13/holdout.csv, a topic AG News lacks) or SST-2 film-review sentences
(benchmarks/data/sst2s/holdout.csv). For each seed: whether the top-ranked region is flagged, the share of the
planted documents in it (recall) and of its members that are planted (precision), its description and words;
and on the same-source corpus (the half alone), how many regions are flagged.

    python benchmarks/drift_planted.py --seeds 3

Prints a table and writes benchmarks/drift_planted.json (one entry per --planted share).
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
OUT = REPO / "benchmarks" / "drift_planted.json"
FOREIGN = {
    "dbpedia_plants_animals": (REPO / "benchmarks" / "data" / "dbpedia13" / "holdout.csv", {"Plant", "Animal"}),
    "sst2_reviews": (REPO / "benchmarks" / "data" / "sst2s" / "holdout.csv", None),
}


def subset(corpus, rows):
    from vae_core.corpus_index import CorpusIndex

    rows = np.asarray(rows)
    return CorpusIndex(corpus.df.iloc[rows].reset_index(drop=True), dict(corpus.meta),
                       {k: v[rows] for k, v in corpus.arrays.items()})


def concat(a, b):
    import pandas as pd

    from vae_core.corpus_index import CorpusIndex

    return CorpusIndex(pd.concat([a.df, b.df], ignore_index=True), dict(a.meta),
                       {k: np.vstack([a.arrays[k], b.arrays[k]]) for k in a.arrays})


def main() -> None:
    import pandas as pd

    from vae_core.drift import drift
    from vae_core.indexing import new_corpus_index
    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    ap.add_argument("--index", default=str(REPO / "assets" / "models" / "ag_news_vae" / "index" / "ag_news_dev.parquet"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--planted", type=float, default=0.07, help="share of the new corpus that is foreign")
    args = ap.parse_args()
    explorer = Explorer.load(args.model)
    full = CorpusIndex.load(args.index)
    rows_out = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(full))
        ref, own = subset(full, order[: len(full) // 2]), subset(full, order[len(full) // 2:])
        t0 = time.time()
        same = drift(explorer, ref, own, seed=seed, describe=False)
        rows_out.append({"seed": seed, "case": "same source", "new": len(own), "reference": len(ref), "auc": same.auc,
                         "flagged": len(same.flagged), "regions_tested": len(same.regions),
                         "seconds": round(time.time() - t0, 1)})
        for name, (path, classes) in FOREIGN.items():
            df = pd.read_csv(path)
            if classes:
                df = df[df["label"].isin(classes)]
            n = int(round(args.planted * len(own) / (1 - args.planted)))
            texts = df["text"].sample(n=n, random_state=seed).astype(str).tolist()
            planted = new_corpus_index(explorer.model, texts, None, ref, seed=seed, progress=False)
            new = concat(own, planted)
            is_planted = np.r_[np.zeros(len(own), bool), np.ones(len(planted), bool)]
            t0 = time.time()
            d = drift(explorer, ref, new, seed=seed)
            secs = time.time() - t0
            top = d.regions[0] if d.regions else None
            members = np.asarray(top.new_rows if top else [], dtype=int)
            rec = float(is_planted[members].sum() / is_planted.sum()) if top else 0.0
            prec = float(is_planted[members].mean()) if len(members) else 0.0
            rows_out.append({"seed": seed, "case": name, "new": len(new), "planted": int(is_planted.sum()),
                             "reference": len(ref), "auc": d.auc, "flagged": len(d.flagged),
                             "top_flagged": bool(top and top.flagged), "top_direction": top.direction if top else None,
                             "top_recall": rec, "top_precision": prec, "top_ratio": top.ratio if top else None,
                             "top_description": top.description if top else "", "top_words": top.words if top else [],
                             "seconds": round(secs, 1)})
            r = rows_out[-1]
            print(f"seed {seed} {name}: AUC {d.auc:.3f}, {len(d.flagged)} flagged; top region "
                  f"{'flagged' if r['top_flagged'] else 'not flagged'} ({r['top_direction']}), recall {rec:.2f}, "
                  f"precision {prec:.2f}, ratio {r['top_ratio'] or 0:.1f}: {r['top_description'][:90]!r} "
                  f"{', '.join(r['top_words'])} ({secs:.1f} s)")
        print(f"seed {seed} same source: AUC {same.auc:.3f}, {len(same.flagged)} flagged of {len(same.regions)} tested")
    summary = {}
    for case in ["same source", *FOREIGN]:
        rs = [r for r in rows_out if r["case"] == case]
        summary[case] = {"runs": len(rs), "auc_mean": float(np.mean([r["auc"] for r in rs])),
                         "flagged_mean": float(np.mean([r["flagged"] for r in rs]))}
        if case != "same source":
            summary[case].update({k: float(np.mean([r[k] for r in rs])) for k in ("top_recall", "top_precision")})
            summary[case]["top_recall_min"] = float(min(r["top_recall"] for r in rs))
            summary[case]["top_precision_min"] = float(min(r["top_precision"] for r in rs))
            summary[case]["top_flagged_all"] = all(r["top_flagged"] for r in rs)
    print(json.dumps(summary, indent=2))
    saved = json.loads(OUT.read_text()) if OUT.exists() else {}
    saved = saved if "summary" not in saved else {}  # one entry per planted share
    saved[f"planted {args.planted:.0%}"] = {"planted_share": args.planted, "summary": summary, "runs": rows_out}
    OUT.write_text(json.dumps(saved, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
