"""Few labels: a VAE trained with N labels per class plus the rest of the training file as unlabelled text,
against the same model trained on the N labelled rows alone and the frozen encoder + logistic regression on
those rows, all evaluated on the same dev file in one run. Prints a table and writes JSON.

    python benchmarks/semi_supervised.py [--labels-per-class 40] [--train F] [--dev F] [--runs runs/semi]

Both VAEs are trained with `python -m vae_core train` (the CLI a user runs); the labelled rows are the ones
`--labels-per-class` keeps (seeded), written to RUNS/labelled.csv for the labelled-only run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def train(args: list[str], log: Path) -> float:
    t0 = time.time()
    with log.open("w") as f:
        subprocess.run([sys.executable, "-m", "vae_core", "train", *args], cwd=REPO, stdout=f,
                       stderr=subprocess.STDOUT, check=True)
    return time.time() - t0


def evaluate(model: Path, dev: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "vae_core", "evaluate", str(model), "--data", dev, "--json",
                          "--generation-rows", "0"], cwd=REPO, capture_output=True, text=True, check=True)
    res = json.loads(out.stdout)
    return {"accuracy": res["accuracy"], "macro_f1": res["macro_f1"]}


def history(model: Path) -> dict:
    """Dev accuracy after each epoch, from the run's metrics.json."""
    hist = json.loads((model / "metrics.json").read_text())["history"]
    per_epoch = [round(h["dev"]["accuracy"], 4) for h in hist if "dev" in h]
    return {"dev_accuracy_per_epoch": per_epoch, "best_dev_accuracy": max(per_epoch) if per_epoch else None}


def main() -> None:
    import pandas as pd

    from accuracy import frozen_encoder_baseline
    from vae_core.config import VAEConfig, portable_path
    from vae_core.data import UNLABELLED, encode_labels, keep_labels_per_class, label_vocabulary, read_corpus

    p = argparse.ArgumentParser()
    p.add_argument("--labels-per-class", type=int, default=40)
    p.add_argument("--train", default=str(REPO / "assets" / "data" / "ag_news" / "train.csv"))
    p.add_argument("--dev", default=str(REPO / "assets" / "data" / "ag_news" / "dev.csv"))
    p.add_argument("--runs", default=str(REPO / "runs" / "semi"))
    p.add_argument("--epochs", default="5", help="joint epochs of the semi-supervised run")
    p.add_argument("--labelled-epochs", default="25", help="epochs of the labelled-only run (few rows: more passes)")
    p.add_argument("--info-weight", default="1.0",
                   help="--unlabelled-info-weight of the semi-supervised run (0 = reconstruction + KL only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "semi_supervised.json"))
    a = p.parse_args()
    runs = Path(a.runs)
    runs.mkdir(parents=True, exist_ok=True)

    corpus = read_corpus(a.train, "text", "label")
    names = label_vocabulary(corpus)
    kept = keep_labels_per_class(encode_labels(corpus.labels, names), a.labels_per_class, a.seed)
    rows = [i for i, y in enumerate(kept) if y != UNLABELLED]
    labelled = runs / "labelled.csv"
    pd.DataFrame({"text": [corpus.texts[i] for i in rows], "label": [corpus.labels[i] for i in rows]}).to_csv(
        labelled, index=False)
    common = ["--dev-file", a.dev, "--decoder-epochs", "0", "--seed", str(a.seed)]
    res: dict = {"command": "python benchmarks/semi_supervised.py " + " ".join(sys.argv[1:]),
                 "unlabelled_info_weight": float(a.info_weight), "labels_per_class": a.labels_per_class, "labelled_rows": len(rows), "train_rows": len(kept),
                 "dev": portable_path(a.dev)}

    print(f"frozen encoder + logistic regression on the {len(rows)} labelled rows", flush=True)
    dev = read_corpus(a.dev, "text", "label")
    small = read_corpus(str(labelled), "text", "label")
    res["frozen_encoder_lr"] = frozen_encoder_baseline(VAEConfig().encoder_name_or_path, small, dev)

    print(f"VAE on the {len(rows)} labelled rows only (log: {runs / 'labelled.log'})", flush=True)
    secs = train(["--train-file", str(labelled), "--output-dir", str(runs / "labelled"), "--epochs", a.labelled_epochs,
                  *common], runs / "labelled.log")
    res["vae_labelled_only"] = {**evaluate(runs / "labelled" / "model", a.dev), "train_seconds": round(secs),
                                **history(runs / "labelled" / "model")}

    print(f"VAE semi-supervised: {len(rows)} labels + {len(kept) - len(rows)} unlabelled rows "
          f"(log: {runs / 'semi.log'})", flush=True)
    secs = train(["--train-file", a.train, "--labels-per-class", str(a.labels_per_class), "--output-dir",
                  str(runs / "semi"), "--epochs", a.epochs, "--unlabelled-info-weight", a.info_weight, *common],
                 runs / "semi.log")
    res["vae_semi_supervised"] = {**evaluate(runs / "semi" / "model", a.dev), "train_seconds": round(secs),
                                  **history(runs / "semi" / "model")}

    print(f"\n{'model':<44}{'accuracy':>10}{'macro-F1':>10}")
    for key, name in (("frozen_encoder_lr", "frozen encoder + LR, labelled rows"),
                      ("vae_labelled_only", "VAE, labelled rows only"),
                      ("vae_semi_supervised", "VAE, labelled + unlabelled rows")):
        print(f"{name:<44}{res[key]['accuracy']:>10.4f}{res[key]['macro_f1']:>10.4f}")
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
