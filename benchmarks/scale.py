"""Scale: index and map 1k, 10k and 100k documents with the default model, and check the app stays
interactive at each size. Texts: all of ../shared/data (AG News train + dev, SST-2 train + dev), then
synthetic texts (sentences recombined from those) to reach 100k. Prints a table and writes JSON.

    python benchmarks/scale.py [--sizes 1000,10000,100000] [--skip-browser]

Per size: encoding throughput of the VAE (posterior, probabilities, uncertainty) as a ratio to the bare
encoder's forward pass over the same texts (measured on the first 2,000), the time to encode all of them,
the map build time (UMAP fit on at most 20,000 points, the rest placed with transform), peak memory of the
process, and in Chromium: the time until the map is drawn and until a selection is answered.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))


def corpus_texts(n: int, seed: int = 0) -> tuple[list[str], list[str | None]]:
    """n texts: the shared data sets first (AG News with labels, SST-2 without: other classes), then synthetic."""
    import pandas as pd

    texts: list[str] = []
    labels: list[str | None] = []
    for name in ("ag_news/train.csv", "ag_news/dev.csv"):
        df = pd.read_csv(SHARED / name)
        texts += df.text.tolist()
        labels += df.label.tolist()
    for name in ("sst2/train.csv", "sst2/dev.csv"):
        df = pd.read_csv(SHARED / name)
        texts += df.text.astype(str).tolist()
        labels += [None] * len(df)
    rng = random.Random(seed)
    pieces = [p.strip() for t in texts[:13_000] for p in t.split(".") if len(p.split()) > 3]
    while len(texts) < n:  # synthetic: three sentences of AG News stitched together
        texts.append(". ".join(rng.sample(pieces, 3)) + ".")
        labels.append(None)
    order = list(range(len(texts)))
    rng.shuffle(order)
    order = order[:n]
    return [texts[i] for i in order], [labels[i] for i in order]


def bare_encoder_seconds(model, texts: list[str], batch_size: int = 64) -> float:
    import torch
    from transformers import AutoModel

    from vae_core.modeling import resolve_encoder

    bare = AutoModel.from_pretrained(resolve_encoder(model.config.encoder_name_or_path)).eval()
    tok = model.tokenizer
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # the same length batching as the VAE's
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in range(0, len(texts), batch_size):
            enc = tok([texts[i] for i in order[s : s + batch_size]], padding=True, truncation=True,
                      max_length=model.config.max_length, return_tensors="pt")
            h = bare(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            _ = (h * m).sum(1) / m.sum(1)
    return time.perf_counter() - t0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def browser_figures(models_dir: Path, label: str) -> dict:
    from app_server import app_page, settle

    res = {}
    with app_page("latent_map", args=["--models-dir", str(models_dir)]) as page:
        settle(page, "Checkpoint", 120_000)
        page.get_by_label("Checkpoint", exact=True).click()
        page.get_by_role("option", name=label).click()
        t0 = time.perf_counter()
        settle(page, "documents · projection", 300_000)
        page.locator(".js-plotly-plot canvas").first.wait_for(timeout=300_000)
        res["first_open_incl_model_load_s"] = round(time.perf_counter() - t0, 2)
        # the map drawn again once the model and corpus are loaded: what a user waits for from now on
        page.get_by_role("link", name="Samples", exact=True).click()
        settle(page, "Draws from the prior", 300_000)
        t0 = time.perf_counter()
        page.get_by_role("link", name="Latent map", exact=True).click()
        settle(page, "documents · projection", 300_000)
        page.locator(".js-plotly-plot canvas").first.wait_for(timeout=300_000)
        res["map_drawn_s"] = round(time.perf_counter() - t0, 2)
        plot = page.locator(".js-plotly-plot").first
        box = plot.locator(".nsewdrag").first.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx - 40, cy - 40)
        page.mouse.down()
        for x, y in ((cx + 40, cy - 40), (cx + 40, cy + 40), (cx - 40, cy + 40), (cx - 40, cy - 40)):
            page.mouse.move(x, y, steps=5)
        t0 = time.perf_counter()
        page.mouse.up()
        # answered: the table of the selected documents is on screen and nothing shown is stale; the run
        # goes on below it (the centre of the selection decoded into text)
        res["selection_answered_s"] = round(settle(page, "Decode here", 300_000, whole_run=False) - t0, 2)
        res["selection_run_over_s"] = round(settle(page, "Decode here", 300_000) - t0, 2)
    return res


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "scale.json"))
    args = p.parse_args()
    import torch

    from vae_core.index import index_table, write_index
    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    model = TextVAE.from_pretrained(args.model)
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        texts, labels = corpus_texts(n)
        sample = texts[:2000]
        t0 = time.perf_counter()
        model.forward_corpus(sample, progress=False, reconstruction=False)
        vae_s = time.perf_counter() - t0
        bare_s = bare_encoder_seconds(model, sample)
        t0 = time.perf_counter()
        out = model.forward_corpus(texts, progress=True, reconstruction=False)
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        df = index_table(model, texts, labels, out, "umap", seed=0)
        map_s = time.perf_counter() - t0
        row = {"documents": n, "throughput_ratio_vs_bare_encoder": round(bare_s / vae_s, 3),
               "encode_docs_per_s": round(n / encode_s, 1), "encode_s": round(encode_s, 1),
               "map_build_s": round(map_s, 1), "peak_memory_mb": round(peak_mb())}
        print(json.dumps(row), flush=True)  # the library figures, before the browser's
        if not args.skip_browser:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / f"scale_{n}"
                shutil.copytree(args.model, folder, ignore=shutil.ignore_patterns("index"))
                write_index(df, folder / "index" / f"scale_{n}.parquet",
                            {"model": folder.name, "labels": model.labels, "projection": "umap", "seed": 0,
                             "source": f"scale_{n}", "rows": n})
                try:
                    row.update(browser_figures(Path(tmp), f"my models / scale_{n}"))
                except Exception as e:  # a timeout at this size is a result too: keep the other sizes
                    row["browser_error"] = f"{type(e).__name__}: {str(e).splitlines()[0]}"[:300]
        results.append(row)
        print(json.dumps(row), flush=True)
    print(f"\n{'documents':>10} {'ratio':>6} {'docs/s':>7} {'encode s':>9} {'map s':>7} {'peak MB':>8} {'drawn s':>8} {'select s':>9}")
    for r in results:
        print(f"{r['documents']:>10,} {r['throughput_ratio_vs_bare_encoder']:>6} {r['encode_docs_per_s']:>7} "
              f"{r['encode_s']:>9} {r['map_build_s']:>7} {r['peak_memory_mb']:>8} {r.get('map_drawn_s', '-'):>8} "
              f"{r.get('selection_answered_s', '-'):>9}")
    Path(args.out).write_text(json.dumps({"machine": "2 cores, 24 GiB, no GPU", "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
