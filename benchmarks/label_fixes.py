"""Issue 41: does fixing labels the app's way pay off? Label flips are planted in a 3,000-row AG News training file
(10% at random, or 10% between the two most confusable classes, Business and Sci/Tech); a model is trained on it
(`train --recipe quick`, for time); the training file is indexed with that model and its suspect labels found as the
app finds them (`interpret.groups.suspect_labels`, with the model's probabilities or with cross-fitted ones,
`crossfit_probs`); a simulated reviewer looks at the top N suspects (N = 100, 300, 1000) and accepts a suggestion
only where it is right, marking the rest ambiguous (`vae_core.corrections`, the app's log); the corrected file is
exported (`corrections.export_frame`) and a model trained on it with the same recipe. Accuracy on AG News' 3,800
dev documents (never trained or selected on), against the model trained on the noisy file and on the clean one.

    python benchmarks/label_fixes.py --noise random --noise pair            # writes benchmarks/label_fixes.json

The decoder stage and the closing evaluation's decoding (the reader) are skipped: the decoder stage freezes the
classifier, so accuracy is the joint stage's, the figure here. Selection: 500 other training
rows (clean), as a user's dev file would be.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
SHARED = HERE.parent.parent / "shared" / "data" / "ag_news"
PAIR = ("Business", "Sci/Tech")
REVIEWED = (100, 300, 1000)


def make_files(work: Path, seed: int, rows: int = 3000, select: int = 500) -> tuple[Path, Path, pd.DataFrame]:
    every = pd.read_csv(SHARED / "train.csv").sample(frac=1.0, random_state=seed).reset_index(drop=True)
    train, dev = every.iloc[:rows].reset_index(drop=True), every.iloc[rows:rows + select].reset_index(drop=True)
    work.mkdir(parents=True, exist_ok=True)
    train.to_csv(work / "clean.csv", index=False)
    dev.to_csv(work / "select.csv", index=False)
    return work / "clean.csv", work / "select.csv", train


def plant(train: pd.DataFrame, kind: str, share: float, seed: int) -> pd.DataFrame:
    """`share` of the rows flipped: to a random other class, or between the PAIR classes."""
    rng = np.random.default_rng(seed)
    noisy = train.copy()
    classes = sorted(train["label"].unique())
    n = int(round(share * len(train)))
    if kind == "random":
        rows = rng.choice(len(train), n, replace=False)
        for r in rows:
            noisy.at[r, "label"] = rng.choice([c for c in classes if c != train.at[r, "label"]])
    else:
        pool = np.flatnonzero(train["label"].isin(PAIR).to_numpy())
        rows = rng.choice(pool, n, replace=False)
        for r in rows:
            noisy.at[r, "label"] = PAIR[1] if train.at[r, "label"] == PAIR[0] else PAIR[0]
    return noisy


def train(data: Path, select: Path, out: Path, recipe: str, epochs: float | None = None) -> Path:
    from vae_core import cli, recipe as rc

    if (out / "model" / "model.safetensors").exists():
        return out / "model"
    rc.closing_evaluation.__defaults__ = (rc.CLOSING_DOCUMENTS, 0, False)  # accuracy only: no decoding for the reader
    # the decoder stage freezes the classifier (accuracy is the joint stage's): left out, for time
    code = cli.main(["train", "--train-file", str(data), "--dev-file", str(select), "--output-dir", str(out),
                     "--recipe", recipe, "--no-index", "--decoder-epochs", "0", "--min-decoder-steps", "0",
                     *(["--epochs", str(epochs)] if epochs else [])])
    assert code == 0, f"train failed on {data}"
    return out / "model"


def accuracy(model: Path, holdout: Path) -> float:
    from vae_core.data import read_corpus
    from vae_core.modeling import TextVAE

    m = TextVAE.from_pretrained(model)
    corpus = read_corpus(holdout)
    probs = m.predict_proba(corpus.texts)
    pred = [m.config.labels[i] for i in np.asarray(probs).argmax(1)]
    return float(np.mean([p == y for p, y in zip(pred, corpus.labels)]))


def index_of(model: Path, data: Path):
    """The training file indexed with its model, as `index` or the app's upload would (no region names)."""
    from vae_core.data import read_corpus
    from vae_core.indexing import Indexer
    from vae_core.modeling import TextVAE

    corpus_file = read_corpus(data)
    return Indexer(TextVAE.from_pretrained(model), progress=False).build(corpus_file.texts, corpus_file.labels,
                                                                         {"source": data.name}, regions=False)


def suspects_of(corpus, crossfit: bool):
    from vae_core.interpret.groups import crossfit_probs, suspect_labels

    return suspect_labels(corpus, probs=crossfit_probs(corpus) if crossfit else None)


def review(corpus, table, truth: pd.Series, n: int, log_file: Path, classes: list[str], data: Path, out: Path) -> dict:
    """The top n suspects reviewed: a suggestion accepted only where it is the clean label, else ambiguous; the
    corrected file exported."""
    from vae_core.corrections import CorrectionLog, export_frame, write_export

    log_file.unlink(missing_ok=True)
    log = CorrectionLog(log_file, corpus.df["text"].tolist(), corpus.df["label"].tolist(), classes)
    top = table.head(n)
    right = top[top["suggested"].to_numpy() == truth.to_numpy()[top["row"].to_numpy()]]
    wrong = top[~top["row"].isin(right["row"])]
    for suggested, rows in right.groupby("suggested")["row"]:
        log.record(rows.tolist(), "relabel", suggested, view="benchmark reviewer")
    if len(wrong):
        log.record(wrong["row"].tolist(), "ambiguous", view="benchmark reviewer")
    write_export(export_frame(data, log), out)
    return {"reviewed": int(len(top)), "accepted": int(len(right)),
            "precision": float(len(right) / len(top)) if len(top) else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", action="append", choices=["random", "pair"], required=True)
    ap.add_argument("--share", type=float, default=0.10)
    ap.add_argument("--recipe", default="quick")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=Path("runs/label_fixes"))
    ap.add_argument("--epochs", type=float, help="joint epochs (default: the recipe's)")
    ap.add_argument("--noisy-select", action="store_true",
                    help="plant the same noise in the selection file too, as a user's own dev file would carry it")
    ap.add_argument("--reviewed", type=int, action="append", help="N suspects reviewed (default: 100, 300, 1000)")
    a = ap.parse_args()
    reviewed = tuple(a.reviewed or REVIEWED)
    holdout = SHARED / "dev.csv"
    clean_file, select, clean = make_files(a.work, a.seed)
    path = HERE / "label_fixes.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    t0 = time.time()
    clean_acc = accuracy(train(clean_file, select, a.work / "clean", a.recipe, a.epochs), holdout)
    print(f"clean file: holdout accuracy {clean_acc:.4f}", flush=True)
    for kind in a.noise:
        noisy = plant(clean, kind, a.share, a.seed)
        flipped = int((noisy["label"] != clean["label"]).sum())
        noisy_file = a.work / f"noisy_{kind}.csv"
        noisy.to_csv(noisy_file, index=False)
        chosen_on = select
        if a.noisy_select:
            chosen_on = a.work / f"select_{kind}.csv"
            plant(pd.read_csv(select), kind, a.share, a.seed + 1).to_csv(chosen_on, index=False)
        model = train(noisy_file, chosen_on, a.work / f"noisy_{kind}", a.recipe, a.epochs)
        noisy_acc = accuracy(model, holdout)
        entry = {"rows": len(clean), "flipped": flipped, "recipe": a.recipe, "epochs": a.epochs,
                 "noisy_selection": a.noisy_select, "clean": clean_acc, "noisy": noisy_acc,
                 "holdout": "AG News dev (3,800)", "suspects": {}, "fixed": {}}
        print(f"{kind}: {flipped} flips; noisy holdout accuracy {noisy_acc:.4f}", flush=True)
        corpus = index_of(model, noisy_file)
        for crossfit in (False, True):
            table = suspects_of(corpus, crossfit)
            flips = set(np.flatnonzero((noisy["label"] != clean["label"]).to_numpy()).tolist())
            found = {}
            for n in reviewed:
                top = table.head(n)
                hits = sum(int(r) in flips for r in top["row"])
                found[n] = {"listed": int(len(top)), "flips_found": hits, "precision": hits / max(len(top), 1),
                            "recall": hits / max(len(flips), 1)}
            name = "crossfit" if crossfit else "model"
            entry["suspects"][name] = {"count": int(len(table)), "top": found}
            print(f"  suspects ({name} probabilities): {len(table)} listed; " + "; ".join(
                f"top {n}: {v['flips_found']} flips (P {v['precision']:.2f}, R {v['recall']:.2f})" for n, v in found.items()),
                flush=True)
            entry["tables"] = entry.get("tables", {})
            entry["tables"][name] = (corpus, table)
        best = max(("model", "crossfit"), key=lambda k: entry["suspects"][k]["top"][max(reviewed)]["flips_found"])
        entry["reviewed_with"] = best
        corpus, table = entry.pop("tables")[best]
        for n in reviewed:
            fixed_file = a.work / f"fixed_{kind}_{n}.csv"
            got = review(corpus, table, clean["label"], n, a.work / f"log_{kind}_{n}.jsonl", sorted(clean["label"].unique()),
                         noisy_file, fixed_file)
            acc = accuracy(train(fixed_file, chosen_on, a.work / f"fixed_{kind}_{n}", a.recipe, a.epochs), holdout)
            lost = clean_acc - noisy_acc
            got.update(accuracy=acc, won_back=(acc - noisy_acc) / lost if lost > 0 else None)  # None: nothing lost
            entry["fixed"][str(n)] = got
            won = f"won back {got['won_back']:.0%} of the {lost:.4f}" if got["won_back"] is not None else "nothing was"
            print(f"  top {n} reviewed ({best}): {got['accepted']} of {got['reviewed']} suggestions right "
                  f"(P {got['precision']:.2f}); holdout accuracy {acc:.4f}, {won} lost to noise", flush=True)
        results[f"{kind}_{a.share:g}_seed{a.seed}" + (f"_epochs{a.epochs:g}" if a.epochs else "")
                + ("_noisy_selection" if a.noisy_select else "")] = entry
        path.write_text(json.dumps(results, indent=1) + "\n")
    print(f"done in {(time.time() - t0) / 60:.1f} min -> {path}")


if __name__ == "__main__":
    main()
