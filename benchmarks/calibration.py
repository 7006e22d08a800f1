"""Does temperature scaling fitted on the dev file calibrate held-out documents? (issue 30)

For each model and corpus folder (dev.csv, and holdout.csv when there is one): the classifier's logits at each
posterior mean, with the model's temperature set aside (T = 1); `calibration.fit_and_check` on dev (the decision
`train` makes: T fitted on each half of dev and scored on the other); then T fitted on all of dev and the
expected calibration error (15 bins), NLL and accuracy of the held-out documents without and with it.

    python benchmarks/calibration.py --run ag=assets/models/ag_news_vae:assets/data/ag_news \
        --run dbpedia13=runs/dbpedia13_min1500/model:benchmarks/data/dbpedia13 \
        --run sst2s=runs/sst2s_now/model:benchmarks/data/sst2s

Prints a table and writes benchmarks/calibration.json.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "calibration.json"


def logits_of(model, path: Path) -> tuple[np.ndarray, np.ndarray]:
    import torch

    from vae_core.data import encode_labels, read_corpus

    corpus = read_corpus(path, require_labels=True)
    with torch.no_grad():
        z = model.classify(model.encode_corpus(corpus.texts).mu).float().numpy()
    return z, np.asarray(encode_labels(corpus.labels, model.labels))


def main() -> None:
    from vae_core.calibration import fit_and_check, fit_temperature, reliability, scale
    from vae_core.config import portable_path
    from vae_core.modeling import TextVAE

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True, help="TAG=MODEL:DATA_FOLDER")
    args = ap.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    for spec in args.run:
        tag, rest = spec.split("=", 1)
        model_dir, data = (Path(p) for p in rest.split(":", 1))
        model = TextVAE.from_pretrained(model_dir)
        dev_z, dev_y = logits_of(model, data / "dev.csv")
        check = fit_and_check(dev_z, dev_y)
        t = fit_temperature(dev_z, dev_y)
        row = {"model": portable_path(model_dir), "data": portable_path(data), "dev_documents": len(dev_y),
               "decision": check, "temperature": t}
        held = data / "holdout.csv"
        if held.exists():
            z, y = logits_of(model, held)
            before, after = reliability(scale(z, 1.0), y), reliability(scale(z, t), y)
            row.update({"held_out": "holdout.csv", "held_out_documents": len(y), "accuracy": before.accuracy_overall,
                        "accuracy_scaled": after.accuracy_overall, "ece": before.ece, "ece_scaled": after.ece,
                        "nll": before.nll, "nll_scaled": after.nll, "mean_confidence": before.mean_confidence,
                        "mean_confidence_scaled": after.mean_confidence})
        else:  # no held-out file: the decision's own halves of dev are the held-out documents
            row.update({"held_out": "the other half of dev.csv", "held_out_documents": len(dev_y),
                        "ece": check["ece_before"], "ece_scaled": check["ece_held_out"],
                        "nll": check["nll_before"], "nll_scaled": check["nll_held_out"]})
        results[tag] = row
        print(f"{tag:<10} T {t:.3f} ({'kept' if check['use'] else 'not kept'}); ECE on {row['held_out']} "
              f"({row['held_out_documents']:,}): {row['ece']:.4f} -> {row['ece_scaled']:.4f}; NLL {row['nll']:.4f} -> "
              f"{row['nll_scaled']:.4f}" + (f"; accuracy {row['accuracy']:.4f} = {row['accuracy_scaled']:.4f}"
                                           if "accuracy" in row else ""))
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
