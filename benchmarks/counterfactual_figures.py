"""Latent counterfactuals of every misclassified document of an index, towards its true class:
how often the prediction flips within the budget, how often the move is shorter than moving z to the
target class's centroid, and how often the text decoded there is classified as the target after
encoding it again. Two points are measured: the flip point (the minimum-norm move after which the classifier
gives the target the confidence asked for, 0.9 by default, what the app asks) and the readable flip (the
shortest move along the line search, within the budget, whose decoded text re-encodes as the target).
Prints a table and writes JSON with every document's distances.

    python benchmarks/counterfactual_figures.py [--model assets/models/ag_news_vae] [--budget 8]
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--index", help="index table (default: MODEL/index/ag_news_dev.parquet)")
    p.add_argument("--budget", type=float, default=8.0)
    p.add_argument("--confidence", type=float, default=None, help="p(target) at the flip point (default: the app's)")
    p.add_argument("--limit", type=int, help="only the first N misclassified documents")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "counterfactual_figures.json"))
    args = p.parse_args()
    import torch
    from tqdm.auto import tqdm

    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer

    torch.set_num_threads(2)
    ex = Explorer.load(args.model)
    corpus = CorpusIndex.load(args.index or Path(args.model) / "index" / "ag_news_dev.parquet")
    df = corpus.df
    wrong = np.flatnonzero((df["correct"] == False).to_numpy())[: args.limit]  # noqa: E712
    centroids = corpus.centroids("pred")
    flipped = readable = shorter = readable_shorter = flip_decoded_ok = 0
    per_doc = []
    flip_d, read_d, cent_d, boundary_d = [], [], [], []
    t0 = time.time()
    for row in tqdm(wrong, desc="counterfactuals", unit="doc"):
        target = ex.labels.index(df["label"].iat[row])
        mu = corpus.mu[row]
        cf = ex.counterfactual(mu, target, args.budget, args.confidence)
        to_centroid = float(np.linalg.norm(centroids[ex.labels[target]] - mu))
        cent_d.append(to_centroid)
        if cf.flipped:
            flipped += 1
            flip_d.append(cf.flip_distance)
            shorter += cf.flip_distance < to_centroid
            first = cf.tried[0] if cf.tried else None  # the first margin tried is the flip point itself
            boundary_d.append(cf.boundary_distance)
            flip_decoded_ok += bool(first and first["decoded_label"] == target)
        if cf.found:
            readable += 1
            read_d.append(cf.distance)
            readable_shorter += cf.distance < to_centroid
        per_doc.append({"row": int(row), "target": ex.labels[target],
                        "flip_distance": cf.flip_distance if cf.flipped else None,
                        "readable_flip_distance": cf.distance if cf.found else None,
                        "distance_to_target_centroid": round(to_centroid, 4),
                        "margins": [{"margin": t["margin"], "distance": round(t["distance"], 4),
                                     "decoded_is_target": t["decoded_label"] == target} for t in cf.tried]})
    n = len(wrong)
    res = {
        "misclassified": n,
        "budget": args.budget,
        "confidence_at_flip_point": cf.confidence if n else None,
        "flipped_within_budget": flipped / n,
        "flip_shorter_than_centroid_move": shorter / n,
        "decoded_at_flip_point_is_target": flip_decoded_ok / n,
        "readable_flip_within_budget": readable / n,
        "readable_flip_shorter_than_centroid_move": readable_shorter / n,
        "median_boundary_distance": float(np.median(boundary_d)) if boundary_d else None,
        "median_flip_distance": float(np.median(flip_d)) if flip_d else None,
        "median_readable_flip_distance": float(np.median(read_d)) if read_d else None,
        "median_distance_to_target_centroid": float(np.median(cent_d)),
        "seconds_per_document": (time.time() - t0) / max(n, 1),
    }
    # The same figures at every fixed logit margin of the line search: how far past the boundary a move
    # must go before the decoded text carries the target class too.
    by_margin = []
    for m in sorted({t["margin"] for d in per_doc for t in d["margins"]}):
        hits = [(d, t) for d in per_doc for t in d["margins"] if t["margin"] == m]
        by_margin.append({
            "margin": m,
            "within_budget": len(hits) / n,
            "decoded_is_target": sum(t["decoded_is_target"] for _, t in hits) / n,
            "shorter_than_centroid_move": sum(t["distance"] < d["distance_to_target_centroid"] for d, t in hits) / n,
            "median_distance": float(np.median([t["distance"] for _, t in hits])) if hits else None,
        })
    for k, v in res.items():
        print(f"{k:<36} {round(v, 4) if isinstance(v, float) else v}")
    print(f"\n{'logit margin':>12}{'within budget':>15}{'decoded = target':>18}{'shorter than centroid':>23}"
          f"{'median distance':>17}")
    for r in by_margin:
        med = f"{r['median_distance']:.2f}" if r["median_distance"] is not None else "-"
        print(f"{r['margin']:>12.2f}{r['within_budget']:>15.1%}{r['decoded_is_target']:>18.1%}"
              f"{r['shorter_than_centroid_move']:>23.1%}{med:>17}")
    res["by_margin"] = by_margin
    Path(args.out).write_text(json.dumps({**res, "documents": per_doc}, indent=2) + "\n")


if __name__ == "__main__":
    main()
