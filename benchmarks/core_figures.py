"""Load time of a checkpoint and the cost of predicting one text relative to one forward pass of the
bare encoder, measured in the same process. Prints a table and writes JSON.

    python benchmarks/core_figures.py [--model assets/models/ag_news_vae] [--out benchmarks/core_figures.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "core_figures.json"))
    p.add_argument("--repeat", type=int, default=50)
    args = p.parse_args()

    import pandas as pd
    import torch
    from transformers import AutoModel

    from vae_core.encoders import resolve_encoder

    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    t0 = time.perf_counter()
    model = TextVAE.from_pretrained(args.model)
    load_s = time.perf_counter() - t0
    bare = AutoModel.from_pretrained(resolve_encoder(model.config.encoder_name_or_path)).eval()
    tok = model.tokenizer
    texts = pd.read_csv(REPO / "assets" / "data" / "ag_news" / "dev.csv").text[:20].tolist()

    def bare_forward(text):
        with torch.no_grad():
            enc = tok([text], truncation=True, max_length=model.config.max_length, return_tensors="pt")
            bare(**enc)

    rows = []
    for text in texts:
        b = median_time(lambda: bare_forward(text), args.repeat // 5)
        v = median_time(lambda: model.predict_proba([text]), args.repeat // 5)
        rows.append((b, v))
    bare_s = statistics.median(r[0] for r in rows)
    pred_s = statistics.median(r[1] for r in rows)
    ratio = statistics.median(r[1] / r[0] for r in rows)
    res = {"from_pretrained_s": round(load_s, 3), "bare_encoder_forward_ms": round(bare_s * 1000, 2),
           "predict_one_text_ms": round(pred_s * 1000, 2), "predict_over_bare_ratio": round(ratio, 3),
           "texts": len(texts), "threads": torch.get_num_threads()}
    for k, v in res.items():
        print(f"{k:<28} {v}")
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
