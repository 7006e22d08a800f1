"""Scale: index and map 1k, 10k and 100k documents with the default model, and check the app stays
interactive at each size. Texts: all of ../shared/data (AG News train + dev, SST-2 train + dev), then
synthetic texts (sentences recombined from those) to reach 100k. Prints a table and writes JSON.

    python benchmarks/scale.py [--sizes 1000,10000,100000] [--skip-browser]

Per size: encoding throughput of the VAE (posterior, probabilities, uncertainty) as a ratio to the bare
encoder's forward pass over the same texts (measured on the first 2,000), the time to encode all of them,
the map build time (UMAP fit on at most 20,000 points, the rest placed with transform), peak memory of the
process, and in Chromium: the time until the map is drawn and until a selection is answered.

    python benchmarks/scale.py --app-index FILE.parquet [--app-index ...] [--shots DIR]

The app's figures alone for indexes already made, e.g. 1,000,000 rows from `python benchmarks/scale_map.py
--rows 1000000 --index FILE.parquet` (encoding a million texts does not fit in a session on 2 cores): in
Chromium the map drawn and a lasso answered (medians of 3), and in a fresh process the index loaded, the
map's figure built in each colour mode and the peak memory. Writes benchmarks/scale_app.json.
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

    from vae_core.encoders import resolve_encoder

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


def browser_figures(models_dir: Path, label: str, rows: int, repeats: int = 3, shots: Path | None = None) -> dict:
    """In Chromium, once the model and corpus are loaded, `repeats` times each: the map drawn again (from another
    page), and a lasso's selection answered (the table of its documents on screen,
    and the run over: the centre decoded) -- medians, with every run's figure."""
    import statistics

    from app_server import app_page, lasso, settle

    res: dict = {"map_drawn_runs_s": [], "selection_answered_runs_s": [], "selection_run_over_runs_s": []}
    with app_page("latent_map", args=["--models-dir", str(models_dir)], width=1400, height=1000) as page:
        settle(page, "Checkpoint", 120_000)
        page.get_by_label("Checkpoint", exact=True).click()
        page.get_by_role("option", name=label).click()
        settle(page, f"{rows:,} documents · projection", 300_000)  # this corpus' map, not the one before
        page.locator(".js-plotly-plot canvas").first.wait_for(timeout=300_000)
        for i in range(repeats):
            # the map drawn again once the model and corpus are loaded: what a user waits for from now on
            page.get_by_role("link", name="Samples", exact=True).click()
            settle(page, "Draws from the prior", 300_000)
            t0 = time.perf_counter()
            page.get_by_role("link", name="Latent map", exact=True).click()
            settle(page, f"{rows:,} documents · projection", 300_000)
            page.locator(".js-plotly-plot canvas").first.wait_for(timeout=300_000)
            res["map_drawn_runs_s"].append(round(time.perf_counter() - t0, 2))
            if shots and i == 0:
                page.screenshot(path=str(shots / "map.png"))
            plot = page.locator(".js-plotly-plot").first
            t0 = lasso(page, plot)
            # answered: the documents' table is on screen and nothing shown is stale; the run goes on below it
            # (the centre of the selection decoded into text, the first document opened)
            res["selection_answered_runs_s"].append(round(settle(page, "Decode here", 300_000, whole_run=False) - t0, 2))
            res["selection_run_over_runs_s"].append(round(settle(page, "Decode here", 300_000) - t0, 2))
            if shots and i == 0:
                page.screenshot(path=str(shots / "selection.png"), full_page=True)
        res["selected_documents"] = page.get_by_text("Selected documents (").first.inner_text() \
            if page.get_by_text("Selected documents (").count() else "none"
    for key in ("map_drawn", "selection_answered", "selection_run_over"):
        res[f"{key}_s"] = statistics.median(res[f"{key}_runs_s"])
    return res


def app_figures_of_index(index: Path, model: Path, shots: Path | None) -> dict:
    """`browser_figures` for an index already made (benchmarks/scale_map.py --index writes one of 1,000,000 rows),
    served with the model in a temporary models folder; and (`load_figures`) what loading it and building its
    figure take in the app's process."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / index.stem
        shutil.copytree(model, folder, ignore=shutil.ignore_patterns("index"))
        (folder / "index").mkdir()
        (folder / "index" / index.name).symlink_to(index.resolve())
        row = {"index": index.name, "rows": _rows_of(index)}  # its name: the machine's folders mean nothing elsewhere
        row.update(browser_figures(Path(tmp), f"my models / {index.stem}", row["rows"], shots=shots))
    return row


LOAD_SCRIPT = """
import json, resource, sys, time
t0 = time.perf_counter()
from vae_core.corpus_index import CorpusIndex
from app_ui import figures
corpus = CorpusIndex.load(sys.argv[1])
load = time.perf_counter() - t0
t0 = time.perf_counter()
key = corpus.content_key
key_s = time.perf_counter() - t0
build = {}
for mode in ("label", "pred", "correct", "confidence", "prob_std"):
    t0 = time.perf_counter()
    fig = figures.latent_map(corpus.df, corpus.labels, mode)
    build[mode] = round(time.perf_counter() - t0, 2)
    size = len(fig.to_json())
print(json.dumps({"load_s": round(load, 2), "content_key_s": round(key_s, 2), "figure_build_s": build,
                  "figure_mb": round(size / 2**20, 2), "density_image": bool(fig.layout.images),
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def load_figures(index: Path) -> dict:
    """In a fresh process, as the app does: the index loaded (`CorpusIndex.load`), its cache key, the map's figure
    built in each colour mode (the last one's size), and the process' peak memory."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, str(index)], cwd=REPO, capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def _rows_of(index: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(index).metadata.num_rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--out", help="default: benchmarks/scale.json, or benchmarks/scale_app.json with --app-index")
    p.add_argument("--app-index", action="append", default=[],
                   help="only the app's figures for this index (repeatable), e.g. the 1,000,000 rows of "
                        "`benchmarks/scale_map.py --rows 1000000 --index FILE`")
    p.add_argument("--shots", help="a folder for screenshots of the map and of a selection (with --app-index)")
    args = p.parse_args()
    if args.app_index:
        results = []
        for index in map(Path, args.app_index):
            shots = Path(args.shots) / index.stem if args.shots else None
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
            row = app_figures_of_index(index, Path(args.model), shots)
            row.update(load_figures(index))
            print(json.dumps(row), flush=True)
            results.append(row)
        out = Path(args.out or REPO / "benchmarks" / "scale_app.json")
        out.write_text(json.dumps({"machine": "2 cores, 24 GiB, no GPU", "results": results}, indent=2) + "\n")
        print(f"-> {out}")
        return
    args.out = args.out or str(REPO / "benchmarks" / "scale.json")
    import torch

    from vae_core.indexing import Indexer, Part
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
        indexer = Indexer(model, "umap", 0, progress=True)
        t0 = time.perf_counter()
        part = Part(n, table=indexer.encode(texts, labels))
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        xy, _, _ = indexer.assemble([part], regions=False)  # the map alone, as before regions were named
        map_s = time.perf_counter() - t0
        row = {"documents": n, "throughput_ratio_vs_bare_encoder": round(bare_s / vae_s, 3),
               "encode_docs_per_s": round(n / encode_s, 1), "encode_s": round(encode_s, 1),
               "map_build_s": round(map_s, 1), "peak_memory_mb": round(peak_mb())}
        print(json.dumps(row), flush=True)  # the library figures, before the browser's
        if not args.skip_browser:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / f"scale_{n}"
                shutil.copytree(args.model, folder, ignore=shutil.ignore_patterns("index"))
                indexer.write([part], xy, folder / "index" / f"scale_{n}.parquet",
                              indexer.meta({"model": folder.name, "source": f"scale_{n}"}, n, None))
                try:
                    row.update(browser_figures(Path(tmp), f"my models / scale_{n}", n))
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
