"""SST-2 with the CLI a user runs: train on ../shared/data/sst2/train.csv (67,349 phrases and sentences),
select and evaluate on dev.csv (872 sentences). Prints the figures and writes JSON.

    python benchmarks/sst2.py [--runs runs/sst2_vae] [--epochs 2] [--skip-training]

Training (`python -m vae_core train ... --epochs 2 --decoder-epochs 0 --eval-every 700`) takes about
30 minutes on 2 cores; `--skip-training` evaluates a run already in RUNS/model (the same commands, run
before).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "sst2"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--train", default=str(DATA / "train.csv"))
    p.add_argument("--dev", default=str(DATA / "dev.csv"))
    p.add_argument("--runs", default=str(REPO / "runs" / "sst2_vae"))
    p.add_argument("--epochs", default="2")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "sst2.json"))
    a = p.parse_args()
    runs = Path(a.runs)
    train_cmd = [sys.executable, "-m", "vae_core", "train", "--train-file", a.train, "--dev-file", a.dev,
                 "--output-dir", str(runs), "--epochs", a.epochs, "--decoder-epochs", "0", "--eval-every", "700"]
    if not a.skip_training:
        t0 = time.time()
        subprocess.run(train_cmd, cwd=REPO, check=True)
        print(f"trained in {(time.time() - t0) / 60:.1f} min")
    model = runs / "model"
    out = subprocess.run([sys.executable, "-m", "vae_core", "evaluate", str(model), "--data", a.dev, "--json",
                          "--generation-rows", "0"], cwd=REPO, capture_output=True, text=True, check=True)
    ev = json.loads(out.stdout)
    metrics = json.loads((model / "metrics.json").read_text())
    res = {
        "train_command": "python -m vae_core " + " ".join(train_cmd[3:]).replace(str(REPO) + "/", "").replace(str(REPO.parent) + "/", "../"),
        "train_rows": json.loads((model / "data_fingerprint.json").read_text())["train"]["rows"],
        "dev_rows": ev.get("documents"),
        "accuracy": ev["accuracy"],
        "macro_f1": ev["macro_f1"],
        "kl_per_doc": ev.get("kl_per_doc"),
        "active_units": ev.get("active_units"),
        "dev_accuracy_during_training": [
            {"step": h["step"], "epoch": h["epoch"], "accuracy": round(h["dev"]["accuracy"], 4)}
            for h in metrics["history"] if "dev" in h],
        "train_minutes": round(metrics["train_seconds"] / 60, 1),
        "reference_tfidf_lr": 0.821,
        "target": 0.88,
    }
    for k, v in res.items():
        if not isinstance(v, list):
            print(f"{k:<28} {v}")
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
