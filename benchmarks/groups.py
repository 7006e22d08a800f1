"""Error slices, suspect labels and named map regions (issue 18) on the shipped model and its AG News dev index:
coverage and description consistency of the slices, precision and recall of the suspect list against labels
flipped at random, and the time each takes. Prints a table and writes JSON.

    python benchmarks/groups.py [--model assets/models/ag_news_vae] [--seeds 10] [--out benchmarks/groups.json]

- slices: the share of misclassified documents in a slice of >= 5 with a description; the share of slices whose
  description, encoded again, is classified as the slice's main predicted or main true class.
- suspects: 5% of the dev labels flipped to another class at random (seeded, one run per seed); the top k of
  the suspect list (k = the number flipped) against the flipped rows: precision = hits / k listed, recall =
  hits / k. The predictions and latents stay those of the index (the model never saw dev).
- times: the first call in a fresh process (the model loaded, nothing cached) and a second call.
- regions: on the shipped index, and on a 100,000-row index made by drawing z from the dev documents'
  posteriors (placed on the map by its latent-to-map mapping, classified by the model, each row carrying its
  source document's text): encoding 100,000 real texts does not fit in a session on 2 cores.
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


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def flipped_copy(corpus, share: float, seed: int):
    """The corpus with `share` of its labels moved to another class at random, and the rows moved."""
    from vae_core.corpus_index import CorpusIndex

    rng = np.random.default_rng(seed)
    labels = corpus.labels
    n = len(corpus)
    rows = rng.choice(n, int(round(share * n)), replace=False)
    df = corpus.df.copy()
    given = df["label"].to_numpy().copy()
    for r in rows:
        given[r] = rng.choice([lab for lab in labels if lab != given[r]])
    df["label"] = given
    df["correct"] = df["label"] == df["pred"]
    return CorpusIndex(df, corpus.meta, corpus.arrays), set(rows.tolist())


def variant_precision(corpus, seeds: int, share: float) -> dict:
    """Precision of the top k for other ways to build the suspect list, on the same flipped corpora: the model's
    probabilities alone, the neighbours' labels alone, and cleanlab's own choice of issues
    (`find_label_issues`, pruned by noise rate) ranked by the same score."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    from vae_core.interpret.groups import NEIGHBOUR_WEIGHT, SUSPECT_NEIGHBOURS, neighbour_label_shares

    names, out = corpus.labels, {}
    p_model = corpus.probs.astype(np.float64) / corpus.probs.sum(1, keepdims=True)
    for seed in range(seeds):
        noisy, flipped = flipped_copy(corpus, share, seed)
        y = np.array([names.index(v) for v in noisy.df["label"]])
        k = SUSPECT_NEIGHBOURS
        smoothed = (neighbour_label_shares(corpus.mu, y, len(names), k) * k + 1) / (k + len(names))
        for name, evidence, cleanlab_pick in (
                ("model probabilities alone", p_model, False), ("neighbours' labels alone", smoothed, False),
                ("both, cleanlab's find_label_issues", (1 - NEIGHBOUR_WEIGHT) * p_model + NEIGHBOUR_WEIGHT * smoothed,
                 True)):
            score = 1 - get_label_quality_scores(y, evidence, method="self_confidence")
            pool = np.flatnonzero(find_label_issues(y, evidence, filter_by="prune_by_noise_rate")
                                  if cleanlab_pick else evidence.argmax(1) != y)
            top = pool[np.argsort(-score[pool], kind="stable")][: len(flipped)]
            out.setdefault(name, []).append(len(set(top.tolist()) & flipped) / len(flipped))
    return {name: round(float(np.mean(v)), 4) for name, v in out.items()}


def description_sweep(explorer, corpus, slices) -> list[dict]:
    """Decoding the slices' centres with other numbers of candidates and tokens: the time (the second of two
    calls) and the share of descriptions that read as the slice's true or predicted class."""
    centres = np.stack([corpus.mu[s.rows].mean(0) for s in slices])
    out = []
    for candidates, tokens in ((8, 48), (4, 48), (4, 40), (4, 32), (2, 48)):
        explorer.decode(centres[:1], candidates, tokens)
        texts, seconds = timed(lambda: explorer.decode(centres, candidates, tokens))
        classes = explorer.reclassify(texts)
        ok = np.mean([explorer.labels[int(c)] in (s.true_label, s.pred_label) for c, s in zip(classes, slices)])
        out.append({"candidates": candidates, "tokens": tokens, "decode_s": round(seconds, 2),
                    "class_ok_share": round(float(ok), 4)})
    return out


def synthetic_index(explorer, corpus, n: int, seed: int = 0):
    """n rows drawn from the corpus' posteriors: z ~ q(z|x) of a random document, its text, the model's class."""
    import pandas as pd

    from vae_core.corpus_index import CorpusIndex

    rng = np.random.default_rng(seed)
    src = rng.integers(0, len(corpus), n)
    logvar = corpus.logvar
    z = corpus.mu[src] + rng.standard_normal((n, corpus.mu.shape[1])).astype(np.float32) * np.exp(0.5 * logvar[src])
    probs = np.concatenate([explorer.probs(z[s : s + 20_000]) for s in range(0, n, 20_000)])
    xy = np.concatenate([corpus.map.transform(z[s : s + 20_000]) for s in range(0, n, 20_000)])
    names = np.array(explorer.labels)
    df = pd.DataFrame({"text": corpus.df["text"].to_numpy()[src], "label": None, "pred": names[probs.argmax(1)],
                       "x": xy[:, 0], "y": xy[:, 1]})
    df["probs"], df["mu"] = list(probs), list(z)
    return CorpusIndex(df, {"labels": explorer.labels})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--index", help="default: MODEL/index/ag_news_dev.parquet")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--flip", type=float, default=0.05)
    p.add_argument("--big", type=int, default=100_000, help="rows of the synthetic index for the regions' time")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "groups.json"))
    args = p.parse_args()

    import torch

    from vae_core.corpus_index import CorpusIndex
    from vae_core.inference import Explorer
    from vae_core.interpret.groups import SLICE_MIN_SIZE, error_slices, map_regions, suspect_labels

    torch.set_num_threads(2)
    explorer = Explorer.load(args.model)
    corpus = CorpusIndex.load(args.index or Path(args.model) / "index" / "ag_news_dev.parquet")
    res: dict = {"model": Path(args.model).name, "documents": len(corpus)}

    slices, t_slices = timed(lambda: error_slices(explorer, corpus))
    suspects, t_suspects = timed(lambda: suspect_labels(corpus))
    _, t_slices2 = timed(lambda: error_slices(explorer, corpus))
    wrong = int((corpus.df["correct"] == False).sum())  # noqa: E712
    described = [s for s in slices if s.size >= SLICE_MIN_SIZE and s.description.strip()]
    res["slices"] = {
        "misclassified": wrong, "slices": len(slices), "sizes": [s.size for s in slices],
        "covered_share": round(sum(s.size for s in described) / max(wrong, 1), 4),
        "description_class_ok_share": round(float(np.mean([s.description_label in (s.true_label, s.pred_label)
                                                           for s in slices])), 4) if slices else None,
        "description_is_pred_share": round(float(np.mean([s.description_label == s.pred_label for s in slices])), 4)
        if slices else None,
        "first_call_s": round(t_slices, 2), "second_call_s": round(t_slices2, 2),
        "examples": [{"size": s.size, "pair": f"{s.true_label}->{s.pred_label}", "share": round(s.pair_share, 2),
                      "description": s.description, "reads_as": s.description_label, "words": s.words}
                     for s in slices[:5]],
    }
    res["description_sweep"] = description_sweep(explorer, corpus, slices) if slices else []
    res["suspects_clean"] = {"listed": len(suspects), "first_call_s": round(t_suspects, 2)}
    res["slices_plus_suspects_first_view_s"] = round(t_slices + t_suspects, 2)

    runs = []
    for seed in range(args.seeds):
        noisy, flipped = flipped_copy(corpus, args.flip, seed)
        table = suspect_labels(noisy)
        k = len(flipped)
        top = table["row"].head(k).tolist()
        hits = len(set(top) & flipped)
        false_pos = [r for r in top if r not in flipped]
        clean_suspect = set(suspects["row"].tolist())
        runs.append({"seed": seed, "flipped": k, "listed": len(table), "precision": round(hits / max(len(top), 1), 4),
                     "recall": round(hits / k, 4),
                     # rows wrongly listed that the clean corpus' own list already holds (AG News' own errors?)
                     "false_positives_suspect_in_clean": sum(r in clean_suspect for r in false_pos),
                     "false_positives": len(false_pos)})
    res["suspects_variants_precision"] = variant_precision(corpus, args.seeds, args.flip)
    res["suspects_flipped"] = {
        "share": args.flip, "runs": runs,
        "precision_mean": round(float(np.mean([r["precision"] for r in runs])), 4),
        "recall_mean": round(float(np.mean([r["recall"] for r in runs])), 4),
        "precision_min": min(r["precision"] for r in runs), "recall_min": min(r["recall"] for r in runs),
    }

    regions, t_regions = timed(lambda: map_regions(explorer, corpus))
    res["regions_shipped"] = {"regions": len(regions), "seconds": round(t_regions, 2),
                              "headlines": [r.headline for r in regions],
                              "stored_in_index": corpus.regions is not None}
    big, t_make = timed(lambda: synthetic_index(explorer, corpus, args.big))
    big_regions, t_big = timed(lambda: map_regions(explorer, big))
    res["regions_big"] = {"rows": len(big), "regions": len(big_regions), "seconds": round(t_big, 2),
                          "made_in_s": round(t_make, 1), "headlines": [r.headline for r in big_regions]}

    print(f"slices: {len(slices)} of {wrong} misclassified; covered {res['slices']['covered_share']:.1%}; description "
          f"reads as the slice's true or predicted class {res['slices']['description_class_ok_share']:.1%}; "
          f"first call {t_slices:.2f} s, second {t_slices2:.2f} s")
    for d in res["description_sweep"]:
        print(f"  descriptions with {d['candidates']} candidates of <= {d['tokens']} tokens: decoded in "
              f"{d['decode_s']:.2f} s, {d['class_ok_share']:.0%} read as the slice's class")
    print(f"suspects (clean dev): {len(suspects)} listed in {t_suspects:.2f} s; slices + suspects first view "
          f"{t_slices + t_suspects:.2f} s")
    s = res["suspects_flipped"]
    print(f"suspects, {args.flip:.0%} flipped, {args.seeds} seeds: precision {s['precision_mean']:.3f} (min "
          f"{s['precision_min']:.3f}), recall {s['recall_mean']:.3f} (min {s['recall_min']:.3f})")
    for name, v in res["suspects_variants_precision"].items():
        print(f"  instead: {name}: precision {v:.3f}")
    for r in runs:
        print(f"  seed {r['seed']}: {r['flipped']} flipped, {r['listed']} listed, precision {r['precision']:.3f}, "
              f"recall {r['recall']:.3f}; {r['false_positives']} false positives, "
              f"{r['false_positives_suspect_in_clean']} of them suspect in the clean corpus too")
    print(f"regions: shipped index {len(regions)} in {t_regions:.2f} s; {len(big):,}-row index {len(big_regions)} in "
          f"{t_big:.2f} s")
    Path(args.out).write_text(json.dumps(res, indent=2, default=float) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
