"""`vae_core index` on 1 process and under `accelerate launch` on 2, on the same machine and corpus: wall time,
encoding time and documents per second of each process, peak memory, and whether both indexes hold the same
rows and latents. Prints a table and writes JSON.

    python benchmarks/index_processes.py [--model assets/models/ag_news_vae] [--data assets/data/ag_news/dev.csv]
        [--chunk-rows 500] [--out benchmarks/index_processes.json]

On this 2-core machine the 1-process run uses both cores (torch's threads) and each of the 2 processes one
(OMP_NUM_THREADS=1), so the figure is how the work divides, not a speed-up from more hardware.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def index_env(**extra: str) -> dict:
    """The environment `vae_core index` runs in here: this checkout on the path, offline."""
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra}


def run(cmd: list[str], env: dict) -> dict:
    """Run an `index` command: wall time, each process's encoding time and chunks (by its 1-based number), the
    map-and-write time, and the peak memory of the children so far (MB)."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    encoded = [(int(p), int(c), float(s)) for p, c, s in
               re.findall(r"process (\d+) of \d+: encoded (\d+) chunk\(s\) in ([\d.]+) s", proc.stderr)]
    assembled = float(re.search(r"map and index written in ([\d.]+) s", proc.stdout).group(1))
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall_s": round(wall, 1), "encode_s": {p: s for p, _, s in encoded}, "chunks": {p: c for p, c, _ in encoded},
            "map_and_write_s": assembled, "peak_rss_mb_so_far": round(peak_mb)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--data", default=str(REPO / "assets" / "data" / "ag_news" / "dev.csv"))
    p.add_argument("--chunk-rows", type=int, default=500)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "index_processes.json"))
    args = p.parse_args()
    from vae_core.corpus_index import read_index

    env = index_env()
    tmp = Path(tempfile.mkdtemp())
    common = ["index", args.model, "--data", args.data, "--chunk-rows", str(args.chunk_rows)]
    one = run([sys.executable, "-m", "vae_core", *common, "--output", str(tmp / "one.parquet")], env)
    two = run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "vae_core", *common,
               "--output", str(tmp / "two.parquet")], index_env(OMP_NUM_THREADS="1"))
    for r, name in ((one, "one.parquet"), (two, "two.parquet")):
        parts = json.loads((tmp / (name + ".manifest.json")).read_text())["parts"]
        r["documents"] = {p + 1: sum(x["rows"] for x in parts if x["process"] == p) for p in range(len(r["encode_s"]))}
    a, _ = read_index(tmp / "one.parquet")
    b, meta = read_index(tmp / "two.parquet")
    rows = len(a)
    same = {"rows_in_order": a["text"].tolist() == b["text"].tolist(),
            "mu_max_abs_diff": float(np.abs(np.stack(a["mu"]) - np.stack(b["mu"])).max()),
            "predictions_equal": bool((a["pred"] == b["pred"]).all())}
    res = {"documents": rows, "chunk_rows": args.chunk_rows, "one_process": one, "two_processes": two,
           "processes_recorded": meta["processes"], "same": same}
    for name, r in (("1 process (2 threads)", one), ("2 processes (1 thread each)", two)):
        per = ", ".join(f"process {p}: {r['documents'][p]} documents in {s:.1f} s "
                        f"({r['documents'][p] / max(s, 1e-9):.0f} docs/s)" for p, s in sorted(r["encode_s"].items()))
        print(f"{name}: wall {r['wall_s']:.1f} s; {per}; map + write {r['map_and_write_s']:.1f} s")
    print(f"same rows in the same order: {same['rows_in_order']}; max |mu difference| {same['mu_max_abs_diff']:.2e}; "
          f"same predictions: {same['predictions_equal']}")
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
