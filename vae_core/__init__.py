"""vae_core: a transformer VAE classifier (encoder -> Gaussian posterior -> classifier + decoder).

    from vae_core import TextVAE
    model = TextVAE.from_pretrained("assets/models/ag_news_vae")
    model.predict_proba(["Stocks rallied after the rate decision"])

Heavy modules (torch, transformers) load on first use, not at import time.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "VAEConfig": "config", "TrainConfig": "config", "ConfigError": "config",
    "TextVAE": "modeling", "Posterior": "outputs", "VAEOutput": "outputs", "CheckpointError": "encoders",
    "DataError": "data", "read_corpus": "data", "ModelChanges": "changes", "apply_changes": "changes",
    "CorpusPass": "outputs", "train": "training", "evaluate_model": "evaluate", "Indexer": "indexing",
    "CorpusIndex": "corpus_index", "read_index": "corpus_index",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'vae_core' has no attribute '{name}'")
