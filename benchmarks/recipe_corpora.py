"""What `train` gives a user on a corpus: a run's model graded on the held-out file it never saw (issue 29).

Accuracy and macro-F1 against TF-IDF (1-2 grams) + logistic regression trained on the same training file in
this run; the decoded text of every held-out document (or the first --decode N) graded by the independent
reader against all held-out documents (top-1, top-10, mean cosine), BLEU-4, reconstruction perplexity; the
run's time per stage from its metrics. Appends a row to benchmarks/recipe_corpora.json (by --tag).

    python -m vae_core train --train-file benchmarks/data/dbpedia13/train.csv \\
        --dev-file benchmarks/data/dbpedia13/dev.csv --output-dir runs/dbpedia13
    python benchmarks/recipe_corpora.py --run runs/dbpedia13 --data benchmarks/data/dbpedia13 --tag dbpedia13-full
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

OUT = REPO / "benchmarks" / "recipe_corpora.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="a run folder of `train` (RUN/model), or a model folder")
    ap.add_argument("--data", required=True, help="folder with train.csv and holdout.csv")
    ap.add_argument("--tag", required=True)
    ap.add_argument("--decode", type=int, help="decode only the first N held-out documents (default: all)")
    ap.add_argument("--bow-guidance", type=float, help="decode with this bag-of-words guidance (default: the model's)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import torch

    from accuracy import tfidf_baseline
    from vae_core.config import portable_path
    from vae_core.data import read_corpus
    from vae_core.evaluate import evaluate_model
    from vae_core.modeling import TextVAE

    torch.set_num_threads(a.threads)
    run = Path(a.run)
    folder = run / "model" if (run / "model").is_dir() else run
    data = Path(a.data)
    train, holdout = read_corpus(data / "train.csv"), read_corpus(data / "holdout.csv")
    model = TextVAE.from_pretrained(folder)
    if a.bow_guidance is not None:
        model.config.decoder_bow_guidance = a.bow_guidance
    t0 = time.time()
    res = evaluate_model(model, holdout.texts, holdout.labels, generation_rows=a.decode)
    seconds = round(time.time() - t0, 1)
    metrics = json.loads((folder / "metrics.json").read_text())
    row = {
        "tag": a.tag, "model": portable_path(folder), "data": portable_path(data), "holdout_rows": len(holdout.texts),
        "train_rows": len(train.texts), "bow_guidance": model.config.decoder_bow_guidance,
        **{k: res.get(k) for k in ("accuracy", "macro_f1", "reader_top1", "reader_top10", "reader_cosine",
                                   "reader_candidates", "generation_rows", "bleu4", "recon_perplexity",
                                   "recon_perplexity_shuffled_z", "kl_per_doc", "label_consistency")},
        "tfidf_lr": tfidf_baseline(train, holdout),
        "stages": [{k: s.get(k) for k in ("stage", "train_seconds", "wall_seconds", "best_dev_accuracy")}
                   for s in metrics.get("stages", [])],
        "train_seconds": metrics.get("train_seconds"), "evaluation_seconds": seconds,
        "examples": [{k: ex[k] for k in ("text", "reconstruction", "reader_rank")} for ex in res.get("examples", [])[:4]],
    }
    rows = [r for r in (json.loads(OUT.read_text()) if OUT.exists() else []) if r["tag"] != a.tag] + [row]
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"{a.tag}: accuracy {row['accuracy']:.4f} (TF-IDF + LR {row['tfidf_lr']['accuracy']:.4f}); reader top-1 "
          f"{row['reader_top1']:.3f}, top-10 {row['reader_top10']:.3f}, cosine {row['reader_cosine']:.3f} "
          f"({row['generation_rows']} decoded, among {row['reader_candidates']}); BLEU-4 {row['bleu4']:.4f}; "
          f"perplexity {row['recon_perplexity']:.1f}; training {(row['train_seconds'] or 0) / 60:.1f} min of steps "
          + ", ".join(f"{s['stage']} {(s['wall_seconds'] or 0) / 60:.1f} min wall" for s in row["stages"]))


if __name__ == "__main__":
    main()
