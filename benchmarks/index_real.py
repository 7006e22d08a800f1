"""`python -m vae_core index` on N real documents (benchmarks/scale.py's corpus: the shared AG News and SST-2
texts, then AG News sentences stitched together to reach N), as a user runs it: wall time, encoding time and
rate, map stage, and the peak memory of the command. Prints a line and writes JSON.

    python benchmarks/index_real.py [--rows 100000] [--out benchmarks/index_real.json]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "index_real.json"))
    args = p.parse_args()
    from index_processes import index_env, run
    from scale import corpus_texts

    tmp = Path(tempfile.mkdtemp())
    data = tmp / f"corpus_{args.rows}.csv"
    texts, labels = corpus_texts(args.rows)
    with open(data, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, [lab or "" for lab in labels]))
    r = run([sys.executable, "-m", "vae_core", "index", args.model, "--data", str(data), "--output",
             str(tmp / "index.parquet")], index_env())
    wall, encode_s, map_s = r["wall_s"], r["encode_s"][1], r["map_and_write_s"]
    peak_gb = r["peak_rss_mb_so_far"] / 1024
    res = {"rows": args.rows, "wall_s": wall, "encode_s": encode_s, "docs_per_s": round(args.rows / encode_s, 1),
           "map_and_write_s": map_s, "peak_rss_gb": round(peak_gb, 2),
           "index_mb": round((tmp / "index.parquet").stat().st_size / 2**20, 1)}
    print(f"{args.rows:,} documents: {wall / 60:.1f} min in all; encoding {encode_s:.0f} s ({res['docs_per_s']:.0f} docs/s), "
          f"map and index {map_s:.0f} s; peak memory {peak_gb:.2f} GB; index {res['index_mb']:.0f} MB")
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
