"""Are the word attributions faithful, and which captum method should the app show? (issue 30)

On a seeded sample of dev documents, each method explains the predicted class; the erasure test
(`vae_core.interpret.faithfulness`, ERASER: DeYoung et al. 2020) removes the top 10/20/30/50% of the words the
model read (comprehensiveness: how far p(class) falls) and keeps only them (sufficiency: how far it falls then),
averaged over the fractions (AOPC). Random words (seeded, 3 draws) are the yardstick. Seconds per text are the
attribution's alone, on this machine's threads.

    python benchmarks/faithfulness.py --model assets/models/ag_news_vae --data assets/data/ag_news/dev.csv --rows 500

Prints a table and writes benchmarks/faithfulness.json (one entry per --tag).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "faithfulness.json"


def main() -> None:
    from tqdm.auto import tqdm

    from vae_core.config import portable_path
    from vae_core.data import read_corpus
    from vae_core.inference import Explorer
    from vae_core.interpret.attribution import IG_TOLERANCE, METHODS
    from vae_core.interpret.faithfulness import RANDOM

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="ag_news_dev")
    args = ap.parse_args()
    methods = args.methods.split(",")

    corpus = read_corpus(args.data)
    rows = list(range(len(corpus.texts)))
    random.Random(args.seed).shuffle(rows)
    rows = rows[: args.rows]
    explorer = Explorer.load(args.model)
    comp = {m: [] for m in methods + [RANDOM]}
    suff = {m: [] for m in methods + [RANDOM]}
    curves = {m: [] for m in methods + [RANDOM]}
    seconds = {m: [] for m in methods}
    ig_steps, ig_delta = [], []
    t0 = time.time()
    for i in tqdm(rows, desc="documents"):
        text = corpus.texts[i]
        pred = explorer.classify(text, reconstruct=False)
        k = explorer.labels.index(pred.label)
        attrs = []
        for m in methods:
            t = time.perf_counter()
            a = explorer.attribute(text, k, m)
            seconds[m].append(time.perf_counter() - t)
            attrs.append(a)
            if m == "integrated_gradients":
                ig_steps.append(a.steps)
                ig_delta.append(abs(a.delta))
        for name, e in explorer.faithfulness(text, attrs, seed=args.seed).items():
            comp[name].append(e.comprehensiveness)
            suff[name].append(e.sufficiency)
            curves[name].append(e.removed_prob)

    table = {}
    for m in methods + [RANDOM]:
        c, s = np.array(comp[m]), np.array(suff[m])
        table[m] = {"method": METHODS.get(m, "random words"), "comprehensiveness_aopc": float(c.mean()),
                    "comprehensiveness_se": float(c.std(ddof=1) / np.sqrt(len(c))), "sufficiency_aopc": float(s.mean()),
                    "sufficiency_se": float(s.std(ddof=1) / np.sqrt(len(s))),
                    "removed_prob_mean": np.mean(curves[m], axis=0).tolist(),
                    "seconds_per_text": float(np.mean(seconds[m])) if m in seconds else None}
    res = {"model": portable_path(args.model), "data": portable_path(args.data), "documents": len(rows),
           "seed": args.seed, "methods": table, "wall_seconds": round(time.time() - t0, 1)}
    if ig_steps:
        steps = np.array(ig_steps)
        res["integrated_gradients_steps"] = {str(v): int((steps == v).sum()) for v in sorted(set(ig_steps))}
        res["integrated_gradients_converged"] = float((np.array(ig_delta) < IG_TOLERANCE).mean())
    print(f"{len(rows)} documents of {args.data}, predicted class explained; AOPC over 10/20/30/50% of the words")
    print(f"{'method':<24} {'comprehensiveness':>18} {'sufficiency':>13} {'s/text':>8}")
    for m, r in table.items():
        sec = f"{r['seconds_per_text']:.2f}" if r["seconds_per_text"] is not None else "-"
        print(f"{r['method']:<24} {r['comprehensiveness_aopc']:>11.3f} ± {r['comprehensiveness_se']:.3f} "
              f"{r['sufficiency_aopc']:>7.3f} ± {r['sufficiency_se']:.3f} {sec:>8}")
    if ig_steps:
        print(f"IG steps used: {res['integrated_gradients_steps']}; converged (|delta| < {IG_TOLERANCE}): "
              f"{res['integrated_gradients_converged']:.1%}")
    saved = json.loads(OUT.read_text()) if OUT.exists() else {}
    saved[args.tag] = res
    OUT.write_text(json.dumps(saved, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
