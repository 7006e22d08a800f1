"""Does a document's decoded text depend on the batch it is decoded in? (issue 40) The bundled model decodes the
first 64 AG News dev documents from their posterior means in one batch, the first 8 in a batch of 8, and each of
the first 8 alone; the script counts how many of the 8 texts agree. Then the first 200 dev documents' posterior
means as the model's dev index stores them, decoded in one batch of 200, in batches of 50 and in batches of 8. Run it on a tree before and after a change:

    python benchmarks/batch_independence.py --repo /tmp/before --tag before
    python benchmarks/batch_independence.py --tag after

Each run adds its tag's figures to benchmarks/batch_independence.json."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "assets" / "models" / "ag_news_vae"
DEV = REPO / "assets" / "data" / "ag_news" / "dev.csv"
OUT = REPO / "benchmarks" / "batch_independence.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repo", default=str(REPO), help="the tree whose library decodes (default: this one)")
    p.add_argument("--tag", required=True)
    p.add_argument("--model", default=str(MODEL))
    a = p.parse_args()
    sys.path.insert(0, str(Path(a.repo).resolve()))
    import pandas as pd
    import torch

    from vae_core.modeling import TextVAE

    torch.manual_seed(0)
    model = TextVAE.from_pretrained(a.model)
    texts = pd.read_csv(DEV).text[:64].tolist()
    mu = model.encode_corpus(texts).mu
    t0 = time.time()
    in_64 = model.decode_text(mu)
    seconds_64 = time.time() - t0
    in_8 = model.decode_text(mu[:8])
    alone = [model.decode_text(mu[i : i + 1])[0] for i in range(8)]
    import numpy as np

    stored = pd.read_parquet(Path(a.model) / "index" / "ag_news_dev.parquet", columns=["mu"])["mu"]
    mu200 = torch.tensor(np.stack(stored.to_numpy()[:200]).astype(np.float32))
    by = {bs: [t for s in range(0, 200, bs) for t in model.decode_text(mu200[s : s + bs])] for bs in (200, 50, 8)}
    res = {"repo": str(Path(a.repo).resolve()), "model": str(a.model),
           "index_200_same_in_batches_of_50_and_200": sum(x == y for x, y in zip(by[50], by[200])),
           "index_200_same_in_batches_of_8_and_200": sum(x == y for x, y in zip(by[8], by[200])),
           "same_in_8_and_64": sum(x == y for x, y in zip(in_8, in_64)),
           "same_alone_and_in_64": sum(x == y for x, y in zip(alone, in_64)),
           "of": 8, "seconds_batch_of_64": round(seconds_64, 1),
           "texts": [{"in_64": x, "in_8": y, "alone": z} for x, y, z in zip(in_64[:8], in_8, alone)]}
    print(json.dumps({k: v for k, v in res.items() if k != "texts"}, indent=2))
    for i, t in enumerate(res["texts"]):
        if len({t["in_64"], t["in_8"], t["alone"]}) > 1:
            print(f"document {i}:\n  in 64: {t['in_64']}\n  in 8:  {t['in_8']}\n  alone: {t['alone']}")
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[a.tag] = res
    OUT.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
