"""Variants of the drift method on the planted benchmark's data, fast (issue 31): `drift.measure` alone (no region
described), so a variant of 10 seeds at 5, 7 and 10% runs in seconds. The data are benchmarks/drift_planted.py's:
the bundled model's dev index split in two seeded halves, one the reference, the other with SST-2 film-review
sentences or DBpedia plant and animal articles mixed in; the top region ranked as `drift` ranks (flagged first,
then by the conservative end of its ratio). A variant sets drift's module constants:

    python benchmarks/drift_variants.py --name shipped
    python benchmarks/drift_variants.py --name member-score-0.4 --set MEMBER_SCORE=0.4
    python benchmarks/drift_variants.py --name means-alone --set LOGVAR_WEIGHT=0 --first-seed 40 --seeds 50
    python benchmarks/drift_variants.py --name content-part --dims 32:96

Each entry of the JSON records every constant a variant set (`set`) and the values drift ran with (`constants`);
entries written before a default changed list the defaults of their day in `set`, so each is a command today.

Prints, per case and share, how many seeds meet the target (top region flagged, >= 80% of the planted documents
in it, >= 80% of its new documents planted), mean and least recall and precision; and how many regions are
flagged on the same source. Appends to benchmarks/drift_variants.json (by --name).
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
OUT = REPO / "benchmarks" / "drift_variants.json"
SHARES = (0.05, 0.07, 0.10)


def foreign_latents(model_dir: Path) -> dict:
    """(posterior means, log-variances, texts' table) of the two foreign sets, as drift_planted.py draws from them."""
    import pandas as pd

    from vae_core.modeling import TextVAE

    from drift_planted import FOREIGN

    model = TextVAE.from_pretrained(model_dir)
    out = {}
    for name, (path, classes) in FOREIGN.items():
        df = pd.read_csv(path)
        if classes:
            df = df[df["label"].isin(classes)]
        post = model.encode_corpus(df["text"].astype(str).tolist())
        out[name] = (post.mu.numpy(), post.logvar.numpy(), df)
    return out, model.config.latent_size - model.config.content_latent_size


def top_region(m: dict):
    """(index, region) of the region `drift` ranks first, None when no region holds a document."""
    held = [(i, r) for i, r in enumerate(m["regions"])
            if (m["region_of_new"] == i).any() or (m["region_of_ref"] == i).any()]
    if not held:
        return None

    def score(r):
        return r["ratio_low"] if r["direction"] == "over" else 1.0 / max(r["ratio_high"], 1e-12)

    return min(held, key=lambda t: (not t[1]["flagged"], -score(t[1])))


def _value(v: str):
    """A constant's value as typed: None, a number, or else a word (SCORER=logistic)."""
    if v == "None":
        return None
    try:
        return float(v) if "." in v or "e" in v.lower() else int(v)
    except ValueError:
        return v


def main() -> None:
    import torch

    from vae_core import drift as D
    from vae_core.corpus_index import CorpusIndex

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds first-seed .. first-seed + seeds - 1 (a variant chosen on 0-9 is checked on others)")
    ap.add_argument("--name", required=True)
    ap.add_argument("--set", nargs="*", default=[], help="drift module constants, NAME=VALUE")
    ap.add_argument("--dims", help="only these latent dimensions, START:END (the bundled model's class part is 0:32, "
                                   "its content part 32:96)")
    a = ap.parse_args()
    torch.set_num_threads(2)
    for kv in a.set:
        k, v = kv.split("=", 1)
        setattr(D, k, _value(v))
    full = CorpusIndex.load(Path(a.model) / "index" / "ag_news_dev.parquet")
    encoded, class_dims = foreign_latents(Path(a.model))
    # each document as drift compares it (drift.latent_features: the mean, and the class part's log-variance)
    own = D.latent_features(full.mu, full.logvar, class_dims)
    foreign = {k: (D.latent_features(mu, lv, class_dims), df) for k, (mu, lv, df) in encoded.items()}
    if a.dims:  # of the posterior means alone
        lo, hi = (int(v) for v in a.dims.split(":"))
        own = full.mu[:, lo:hi]
        foreign = {k: (mu[:, lo:hi], df) for k, (mu, _, df) in encoded.items()}
    t0 = time.time()
    res = {"name": a.name, "set": a.set, "dims": a.dims, "seeds": a.seeds, "first_seed": a.first_seed, "cases": {}}
    for name, (mu, df) in foreign.items():
        for share in SHARES:
            rows = []
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                order = np.random.default_rng(seed).permutation(len(full))
                ref_mu, own_mu = own[order[: len(full) // 2]], own[order[len(full) // 2:]]
                n = int(round(share * len(own_mu) / (1 - share)))
                planted = mu[df.reset_index(drop=True).sample(n=n, random_state=seed).index.to_numpy()]
                is_planted = np.r_[np.zeros(len(own_mu), bool), np.ones(n, bool)]
                m = D.measure(ref_mu, np.vstack([own_mu, planted]), seed=seed)
                t = top_region(m)
                members = m["region_of_new"] == t[0] if t else np.zeros(len(is_planted), bool)
                rows.append({"seed": seed, "flagged": bool(t and t[1]["flagged"] and t[1]["direction"] == "over"),
                             "recall": float(is_planted[members].sum() / n),
                             "precision": float(is_planted[members].mean()) if members.any() else 0.0})
            rec, prec = [r["recall"] for r in rows], [r["precision"] for r in rows]
            res["cases"][f"{name} {share:.0%}"] = {
                "meets": sum(r["flagged"] and r["recall"] >= 0.8 and r["precision"] >= 0.8 for r in rows),
                "recall_mean": round(float(np.mean(rec)), 3), "recall_min": round(min(rec), 3),
                "precision_mean": round(float(np.mean(prec)), 3), "precision_min": round(min(prec), 3), "runs": rows}
    same = 0
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        order = np.random.default_rng(seed).permutation(len(full))
        m = D.measure(own[order[: len(full) // 2]], own[order[len(full) // 2:]], seed=seed)
        same += sum(r["flagged"] for r in m["regions"])
    res["same_source_flagged"] = same
    res["constants"] = {k: getattr(D, k) for k in ("NEIGHBOURS", "PCA_DIMS", "DISCOVERY_RATIO", "VOTES", "VOTE_SHARE",
                                                   "MEMBER_SCORE", "MIN_SAMPLES", "SINGLE_GROUP", "ATTACH_NOISE",
                                                   "LOGVAR_WEIGHT", "SCORER")}
    res["seconds"] = round(time.time() - t0, 1)
    for case, c in res["cases"].items():
        print(f"{a.name:<22} {case:<30} meets {c['meets']}/{a.seeds}  recall {c['recall_mean']:.2f} (min "
              f"{c['recall_min']:.2f})  precision {c['precision_mean']:.2f} (min {c['precision_min']:.2f})")
    print(f"{a.name:<22} same source: {same} regions flagged in {a.seeds} seeds ({res['seconds']} s)")
    saved = [r for r in (json.loads(OUT.read_text()) if OUT.exists() else []) if r["name"] != a.name]
    OUT.write_text("[\n" + ",\n".join(json.dumps(r) for r in saved + [res]) + "\n]\n")  # one line a variant


if __name__ == "__main__":
    main()
