"""Outputs of a tree, to show a refactoring changed none (issue 32): the bundled model's decoded texts of the first
200 dev documents, `evaluate`'s figures on the first 300 (100 decoded and read back), and its dev index built in
memory and by the streamed `index` command. Run it in the tree before and after a change, then compare:

    git worktree add /tmp/before <commit before>
    python benchmarks/outputs_unchanged.py run --repo /tmp/before --out /tmp/outputs/before
    python benchmarks/outputs_unchanged.py run --repo . --out /tmp/outputs/after
    python benchmarks/outputs_unchanged.py compare /tmp/outputs/before /tmp/outputs/after

`compare` also compares each built index with the shipped one, and writes benchmarks/outputs_unchanged.json."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "assets" / "models" / "ag_news_vae"
DEV = REPO / "assets" / "data" / "ag_news" / "dev.csv"
SHIPPED = MODEL / "index" / "ag_news_dev.parquet"


def run(repo: Path, out: Path, threads: int) -> None:
    """The outputs of the library in `repo` (its own code, this repository's model and data) written to `out`."""
    sys.path.insert(0, str(repo.resolve()))
    import torch

    from vae_core.data import read_corpus
    from vae_core.evaluate import evaluate_model
    from vae_core.modeling import TextVAE

    torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    model = TextVAE.from_pretrained(MODEL)
    dev = read_corpus(DEV)
    mu = model.encode_corpus(dev.texts[:200]).mu
    texts = [t for s in range(0, 200, 50) for t in model.decode_text(mu[s : s + 50])]
    (out / "decoded.json").write_text(json.dumps(texts, indent=1))
    res = evaluate_model(model, dev.texts[:300], dev.labels[:300], generation_rows=100, progress=False)
    (out / "evaluate.json").write_text(json.dumps(res, indent=1, default=float))
    meta = {"model": MODEL.name, "source": "ag_news/dev.csv"}
    try:
        from vae_core.indexing import Indexer
    except ImportError:  # a tree from before the one Indexer: its in-memory path
        from vae_core.cli import write_named_index
        from vae_core.index import build_index  # a tree from before the one Indexer (and before corpus_index)

        df = build_index(model, dev.texts, dev.labels, "umap", 0, progress=False)
        write_named_index(model, df, out / "memory.parquet",
                          {**meta, "labels": model.labels, "projection": "umap", "seed": 0, "rows": len(df)})
    else:
        Indexer(model, seed=0).build_file(dev.texts, dev.labels, out / "memory.parquet", meta)
    env = {**os.environ, "PYTHONPATH": str(repo.resolve()), "OMP_NUM_THREADS": str(threads)}
    subprocess.run([sys.executable, "-m", "vae_core", "index", str(MODEL), "--data", str(DEV), "--output",
                    str((out / "streamed.parquet").resolve())], check=True, env=env, cwd=repo)


def index_difference(a: Path, b: Path) -> dict:
    """Where two index files differ: the largest absolute difference of each numeric column, the text columns
    and the named regions (an empty dict: equal)."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    from vae_core.corpus_index import read_index

    (da, ma), (db, mb) = read_index(a), read_index(b)
    out = {}
    for c in da.columns:
        x, y = da[c], db[c]
        if c in ("probs", "mu", "logvar") or x.dtype.kind == "f":
            d = float(np.abs(np.stack(x.to_numpy()) - np.stack(y.to_numpy())).max())
            if d:
                out[c] = d
        elif x.astype(str).tolist() != y.astype(str).tolist():
            out[c] = "differs"
    if ma.get("regions") != mb.get("regions"):
        out["regions"] = "differ"
    return out


def compare(before: Path, after: Path) -> dict:
    a, b = json.loads((before / "decoded.json").read_text()), json.loads((after / "decoded.json").read_text())
    ea, eb = json.loads((before / "evaluate.json").read_text()), json.loads((after / "evaluate.json").read_text())
    res = {"decoded_texts": len(a), "decoded_texts_equal": sum(x == y for x, y in zip(a, b)),
           "evaluate_figures": len(ea), "evaluate_figures_differing": sorted(k for k in set(ea) | set(eb)
                                                                            if ea.get(k) != eb.get(k)),
           "index_differences": {}}
    pairs = {"after: in memory vs streamed": (after / "memory.parquet", after / "streamed.parquet"),
             "in memory: before vs after": (before / "memory.parquet", after / "memory.parquet"),
             "streamed: before vs after": (before / "streamed.parquet", after / "streamed.parquet"),
             "after, in memory vs the shipped index": (after / "memory.parquet", SHIPPED)}
    for name, (x, y) in pairs.items():
        res["index_differences"][name] = index_difference(x, y)
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("--repo", default=str(REPO))
    r.add_argument("--out", required=True)
    r.add_argument("--threads", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    c.add_argument("--json", default=str(REPO / "benchmarks" / "outputs_unchanged.json"))
    a = p.parse_args()
    if a.what == "run":
        run(Path(a.repo), Path(a.out), a.threads)
        return
    res = compare(Path(a.before), Path(a.after))
    print(json.dumps(res, indent=2))
    Path(a.json).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
