"""Is the classification latent or the linear head what limits accuracy? The model encodes the training and
dev files once; scikit-learn's LogisticRegression is fitted on the training documents and scored on dev,
reading (a) mu's classification dimensions and (b) the fine-tuned encoder's mean-pooled state before the
bottleneck, at several C; beside them the model's own head on mu, and its class probabilities averaged over
32 samples of z from each posterior.

    python benchmarks/head_probe.py
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
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from vae_core.config import portable_path
    from vae_core.data import encode_labels, read_corpus
    from vae_core.modeling import TextVAE
    from vae_core.outputs import Posterior

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--train", default=str(REPO / "assets" / "data" / "ag_news" / "train.csv"))
    p.add_argument("--dev", default=str(REPO / "assets" / "data" / "ag_news" / "dev.csv"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "head_probe.json"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model = TextVAE.from_pretrained(a.model).eval()
    Lc = model.config.class_latent_size

    def encode(path):
        corpus = read_corpus(path, "text", "label", require_labels=True)
        pooled, mu, lv = [], [], []
        with torch.no_grad():
            for s in range(0, len(corpus.texts), 64):
                h = model.pooled(**model.tokenize(corpus.texts[s : s + 64]))
                post = model.posterior_from_pooled(h)
                pooled.append(h.float())
                mu.append(post.mu.float())
                lv.append(post.logvar.float())
        y = np.array(encode_labels(corpus.labels, model.labels, path))
        return torch.cat(pooled).numpy(), torch.cat(mu), torch.cat(lv), y

    t0 = time.time()
    h_tr, mu_tr, _, y_tr = encode(a.train)
    h_dev, mu_dev, lv_dev, y_dev = encode(a.dev)
    print(f"encoded {len(y_tr)} + {len(y_dev)} documents in {time.time() - t0:.0f} s", flush=True)
    res = {"model": portable_path(a.model), "train": portable_path(a.train), "dev": portable_path(a.dev)}
    with torch.no_grad():
        res["own_head_on_mu"] = float((model.classify(mu_dev).argmax(-1).numpy() == y_dev).mean())
        probs = Posterior(mu_dev, lv_dev).class_probabilities(model, 32).mean(0)  # (N, C)
        res["own_head_32_samples"] = float((probs.argmax(-1).numpy() == y_dev).mean())
    for name, tr, dev in (("logreg_on_mu", mu_tr[:, :Lc].numpy(), mu_dev[:, :Lc].numpy()), ("logreg_on_pooled", h_tr, h_dev)):
        sc = StandardScaler().fit(tr)
        res[name] = {}
        for C in (10.0, 1.0, 0.1, 0.01):
            clf = LogisticRegression(C=C, max_iter=2000).fit(sc.transform(tr), y_tr)
            res[name][str(C)] = float((clf.predict(sc.transform(dev)) == y_dev).mean())
    print(json.dumps(res, indent=2))
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
