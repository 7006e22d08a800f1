"""How much of a document can an independent reader get back from a latent, whatever the decoder?

The independent reader (the base all-MiniLM-L6-v2 sentence embedding, `vae_core.evaluate.IndependentReader`)
looks for each dev document's source among all dev documents. This script bounds what any decoder could
give it, without decoding:

- copies: the training document nearest in latent space (by mu), nearest by the encoder's pooled state,
  and the training document the reader itself finds closest (the best a pure copy of the training corpus
  could do: an oracle, not a method);
- linear read-outs: ridge regression from mu, or from the top k principal components of the pooled state,
  to the reader's embedding (fitted on the training documents, scored on dev): how much of what the
  reader sees a latent of that size holds.

    python benchmarks/reader_ceiling.py [--model assets/models/ag_news_vae]

Prints a table and writes benchmarks/reader_ceiling.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "assets/models/ag_news_vae"))
    p.add_argument("--train", default=str(REPO / "assets/data/ag_news/train.csv"))
    p.add_argument("--dev", default=str(REPO / "assets/data/ag_news/dev.csv"))
    p.add_argument("--out", default=str(REPO / "benchmarks/reader_ceiling.json"))
    args = p.parse_args()

    import numpy as np
    import torch
    from sklearn.decomposition import PCA
    from sklearn.linear_model import Ridge
    from sklearn.neighbors import NearestNeighbors

    from vae_core.data import read_corpus
    from vae_core.evaluate import IndependentReader, reader_fidelity
    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    t0 = time.time()
    model = TextVAE.from_pretrained(args.model).float().eval()
    reader = IndependentReader()
    train = read_corpus(args.train, "text", "label", require_labels=True).texts
    dev = read_corpus(args.dev, "text", "label", require_labels=True).texts

    @torch.no_grad()
    def states(texts):
        hs, mus = [], []
        for s in range(0, len(texts), 64):
            b = model.tokenize(texts[s : s + 64])
            h = model.pooled(b["input_ids"], b["attention_mask"])
            hs.append(h)
            mus.append(model.posterior_from_pooled(h).mu)
        return torch.cat(hs).numpy(), torch.cat(mus).numpy()

    h_tr, mu_tr = states(train)
    h_dv, mu_dv = states(dev)
    r_tr, r_dv = reader.embed(train), reader.embed(dev)
    print(f"encoded in {time.time() - t0:.0f} s", file=sys.stderr)

    def score(pred):
        pred = pred / np.linalg.norm(pred, axis=1, keepdims=True)
        f = reader_fidelity(pred.astype(np.float32), r_dv)
        return {k: round(f[k], 3) for k in ("reader_top1", "reader_top10", "reader_cosine")}

    rows = []
    for name, a_tr, a_dv in (("mu", mu_tr, mu_dv), ("pooled state", h_tr, h_dv)):
        _, nn = NearestNeighbors(n_neighbors=1).fit(a_tr).kneighbors(a_dv)
        rows.append({"what": f"copy of the training document nearest by {name}", **score(r_tr[nn[:, 0]])})
    rows.append({"what": "copy of the training document the reader finds closest (oracle)",
                 **score(r_tr[(r_dv @ r_tr.T).argmax(1)])})
    rows.append({"what": f"ridge from mu ({mu_tr.shape[1]} dims)",
                 **score(Ridge(alpha=1.0).fit(mu_tr, r_tr).predict(mu_dv))})
    for k in (16, 32, 64, 96):
        pca = PCA(k, random_state=0).fit(h_tr)
        rows.append({"what": f"ridge from the top {k} principal components of the pooled state",
                     **score(Ridge(alpha=1.0).fit(pca.transform(h_tr), r_tr).predict(pca.transform(h_dv)))})
    rows.append({"what": "ridge from the pooled state (384 dims)", **score(Ridge(alpha=1.0).fit(h_tr, r_tr).predict(h_dv))})
    for r in rows:
        print(f"{r['what']:<75} top-1 {r['reader_top1']:.3f}  top-10 {r['reader_top10']:.3f}  cosine {r['reader_cosine']:.3f}")
    Path(args.out).write_text(json.dumps({"model": Path(args.model).name, "dev_documents": len(dev),
                                          "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
