"""Would several trained runs together beat the best one? Dev accuracy of each checkpoint, of the average
of their class probabilities (every pair, every triple, all of them), and how many dev documents every
run gets wrong. Prints the figures and writes JSON.

    python benchmarks/ensembles.py assets/models/ag_news_vae runs/RUN_A/model runs/RUN_B/model ...
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="checkpoint folders with the same labels")
    p.add_argument("--dev-file", default=str(REPO / "assets/data/ag_news/dev.csv"))
    p.add_argument("--out", default=str(REPO / "benchmarks/ensembles.json"))
    args = p.parse_args()

    import torch

    from vae_core.config import portable_path
    from vae_core.data import encode_labels, read_corpus
    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    dev = read_corpus(args.dev_file, "text", "label", require_labels=True)
    probs, labels = {}, None
    for folder in args.models:
        print(f"scoring {folder}", flush=True)
        model = TextVAE.from_pretrained(folder).eval()
        if labels is not None and model.labels != labels:
            raise SystemExit(f"{folder}: its labels {model.labels} differ from {labels}; compare runs of one task.")
        labels = model.labels
        probs[folder] = model.predict_proba(dev.texts).float()  # (N, C)
    y = torch.tensor(encode_labels(dev.labels, labels, dev.source))

    def accuracy(members) -> float:
        return float((sum(probs[m] for m in members).argmax(-1) == y).float().mean())

    out = {"dev_file": portable_path(args.dev_file), "documents": len(y),
           "single": {m: round(accuracy([m]), 4) for m in args.models}}
    for k in sorted({2, 3, len(args.models)}):
        if k > len(args.models):
            continue
        scores = [accuracy(c) for c in itertools.combinations(args.models, k)]
        out[f"average_of_{k}"] = {"best": round(max(scores), 4), "mean": round(statistics.mean(scores), 4),
                                  "worst": round(min(scores), 4), "combinations": len(scores)}
    wrong = torch.stack([probs[m].argmax(-1) != y for m in args.models]).sum(0)  # (N,) runs wrong per doc
    out["wrong_in_every_run"] = int((wrong == len(args.models)).sum())
    out["wrong_in_some_run"] = int((wrong > 0).sum())
    print(json.dumps(out, indent=1))
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
