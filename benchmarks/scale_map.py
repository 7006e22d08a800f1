"""The map stage of `vae_core index` at scale: N rows written as parts (z drawn from the AG News dev documents'
posteriors, each row carrying its source document's text and label and the model's class of z: encoding N real texts
does not fit in a session on 2 cores), then `indexing.assemble` (the map fitted on a 20,000 sample, every
other row placed part by part, regions named, the index written part by part), timed, with the peak memory of
that step. Also compares the two ways of placing rows on a fitted map on held-out rows: UMAP's `transform`
and the project's latent -> map mapping (`LatentMap`, distance-weighted nearest neighbours), by time and by
trustworthiness (scikit-learn) against their latents. Prints a table and writes JSON.

    python benchmarks/scale_map.py [--rows 100000] [--chunk-rows 4096] [--out benchmarks/scale_map.json]
                                   [--index FILE.parquet]

--index keeps the index it wrote (benchmarks/scale.py's app figures at 1,000,000 rows read it).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def write_parts(explorer, corpus, parts: Path, rows: int, chunk_rows: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vae_core.indexing import part_schema

    rng = np.random.default_rng(seed)
    logvar = corpus.logvar
    names = np.array(explorer.labels)
    parts.mkdir(parents=True, exist_ok=True)
    for chunk, first in enumerate(range(0, rows, chunk_rows)):
        n = min(chunk_rows, rows - first)
        src = rng.integers(0, len(corpus), n)
        z = corpus.mu[src] + rng.standard_normal((n, corpus.mu.shape[1])).astype(np.float32) * np.exp(0.5 * logvar[src])
        probs = explorer.probs(z).astype(np.float32)
        table = pa.table({
            "text": corpus.df["text"].to_numpy()[src].tolist(), "label": corpus.df["label"].to_numpy()[src].tolist(),
            "pred": names[probs.argmax(1)].tolist(), "confidence": probs.max(1),
            "prob_std": np.zeros(n, np.float32), "flip_rate": np.zeros(n, np.float32),
            "kl": np.zeros(n, np.float32), "probs": list(probs), "mu": list(z), "logvar": list(logvar[src]),
        }, schema=part_schema()).replace_schema_metadata({b"vae_part": json.dumps(
            {"chunk": chunk, "first_row": first, "rows": n, "process": 0}).encode()})
        pq.write_table(table, parts / f"part-{chunk:06d}.parquet")


def compare_placement(corpus, explorer, seed: int = 0, fit: int = 20_000, held_out: int = 5_000) -> dict:
    """UMAP transform against LatentMap on rows drawn like the parts', fitted on `fit` of them."""
    from sklearn.manifold import trustworthiness

    from vae_core.interpret.projection import FittedMap, LatentMap

    rng = np.random.default_rng(seed + 1)
    logvar = corpus.logvar
    src = rng.integers(0, len(corpus), fit + held_out)
    z = corpus.mu[src] + rng.standard_normal((len(src), corpus.mu.shape[1])).astype(np.float32) * np.exp(0.5 * logvar[src])
    fitted = FittedMap(z[:fit], "umap", seed)
    out = {}
    t0 = time.perf_counter()
    xy_umap = fitted.place(z[fit:])
    out["umap_transform"] = {"seconds_per_10k": round((time.perf_counter() - t0) / held_out * 10_000, 2)}
    t0 = time.perf_counter()
    xy_knn = LatentMap(z[:fit], fitted.xy).transform(z[fit:])
    out["latent_map_knn"] = {"seconds_per_10k": round((time.perf_counter() - t0) / held_out * 10_000, 2)}
    for name, xy in (("umap_transform", xy_umap), ("latent_map_knn", xy_knn)):
        out[name]["trustworthiness_k10"] = round(float(trustworthiness(z[fit:], xy, n_neighbors=10)), 4)
    out["fitted_rows_trustworthiness_k10"] = round(float(trustworthiness(z[:held_out], fitted.xy[:held_out],
                                                                         n_neighbors=10)), 4)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--chunk-rows", type=int, default=4096)
    p.add_argument("--skip-compare", action="store_true")
    p.add_argument("--index", help="where to keep the index (default: a temporary folder)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "scale_map.json"))
    args = p.parse_args()
    import torch

    from vae_core.corpus_index import CorpusIndex, read_index
    from vae_core.indexing import Indexer, assemble_parts
    from vae_core.inference import Explorer

    torch.set_num_threads(2)
    explorer = Explorer.load(args.model)
    corpus = CorpusIndex.load(Path(args.model) / "index" / "ag_news_dev.parquet")
    tmp = Path(tempfile.mkdtemp())
    output = Path(args.index) if args.index else tmp / "big.parquet"
    t0 = time.perf_counter()
    write_parts(explorer, corpus, tmp / "parts", args.rows, args.chunk_rows)
    made = time.perf_counter() - t0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    manifest = assemble_parts(Indexer(explorer, "umap", 0), tmp / "parts", output,
                        {"processes": 1, "chunk_rows": args.chunk_rows})
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_mb = output.stat().st_size / 2**20
    res = {"rows": args.rows, "parts_made_s": round(made, 1), "map_stage_s": round(seconds, 1),
           "placing_s": manifest["map_place_seconds"], "map_fit_rows": manifest["map_fit_rows"],
           "peak_rss_mb_before": round(before), "peak_rss_mb_after": round(peak), "index_mb": round(size_mb, 1)}
    _, meta = read_index(output) if args.rows <= 200_000 else (None, {"rows": manifest["rows"]})
    res["rows_written"] = meta["rows"]
    print(f"{args.rows:,} rows: map stage {seconds:.1f} s (placing {manifest['map_place_seconds']:.1f} s), peak memory "
          f"{peak:.0f} MB (before it {before:.0f} MB), index {size_mb:.0f} MB")
    if not args.skip_compare:
        res["placement"] = compare_placement(corpus, explorer)
        for name in ("umap_transform", "latent_map_knn"):
            r = res["placement"][name]
            print(f"placing with {name}: {r['seconds_per_10k']:.2f} s per 10,000 rows, trustworthiness (k=10) "
                  f"{r['trustworthiness_k10']:.3f}")
        print(f"the fitted rows themselves: trustworthiness {res['placement']['fitted_rows_trustworthiness_k10']:.3f}")
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
