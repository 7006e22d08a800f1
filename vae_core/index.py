"""Encode a corpus once into a table the app reads: text, label, prediction, probabilities, mu,
logvar, uncertainty and 2-D map coordinates (Parquet, with the model and projection in its metadata)."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .evaluate import forward_corpus
from .interpret.projection import fit_projection
from .modeling import TextVAE

INDEX_VERSION = 1


def posterior_uncertainty(model: TextVAE, mu: torch.Tensor, logvar: torch.Tensor, samples: int = 32,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """Sample z from each posterior: spread of the predicted class's probability and the share of
    samples whose prediction differs from the one at mu."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        pred = model.classify(mu).argmax(-1)  # (N,)
        eps = torch.randn((samples, *mu.shape), generator=g)
        z = mu[None] + eps * (0.5 * logvar).exp()[None]  # (K, N, L)
        p = torch.softmax(model.classify(z), -1)  # (K, N, C)
        p_pred = p.gather(-1, pred[None, :, None].expand(samples, -1, 1)).squeeze(-1)  # (K, N)
        flips = (p.argmax(-1) != pred[None]).float().mean(0)
    return {"prob_std": p_pred.std(0).numpy(), "flip_rate": flips.numpy()}


def build_index(model: TextVAE, texts: Sequence[str], labels: Sequence[str | None] | None = None,
                projection: str = "umap", seed: int = 0, batch_size: int = 64, progress: bool = True):
    import pandas as pd

    out = forward_corpus(model, texts, batch_size, progress, reconstruction=False)
    probs, mu, logvar = out["probs"], out["mu"], out["logvar"]
    pred = probs.argmax(-1).numpy()
    names = np.array(model.labels)
    unc = posterior_uncertainty(model, mu, logvar, seed=seed)
    xy = fit_projection(mu.numpy(), projection, seed)
    df = pd.DataFrame({
        "text": list(texts),
        "label": list(labels) if labels is not None else [None] * len(texts),
        "pred": names[pred],
        "confidence": probs.max(-1).values.numpy().astype(np.float32),
        "prob_std": unc["prob_std"].astype(np.float32),
        "flip_rate": unc["flip_rate"].astype(np.float32),
        "kl": out["kl"].numpy().astype(np.float32),
        "x": xy[:, 0],
        "y": xy[:, 1],
    })
    df["correct"] = [None if lab is None else bool(lab == p) for lab, p in zip(df["label"], df["pred"])]
    df["probs"] = list(probs.numpy().astype(np.float32))
    df["mu"] = list(mu.numpy().astype(np.float32))
    df["logvar"] = list(logvar.numpy().astype(np.float32))
    return df


def write_index(df, path: str | Path, meta: dict) -> Path:
    """Write the table atomically with `meta` (JSON) in the Parquet schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"vae_index": json.dumps({"version": INDEX_VERSION, **meta}).encode()})
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_index(path: str | Path):
    """(DataFrame, metadata dict) of an index file."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(b"vae_index")
    if raw is None:
        raise ValueError(f"{path} is not an index written by `python -m vae_core index` (no vae_index metadata).")
    return table.to_pandas(), json.loads(raw)
