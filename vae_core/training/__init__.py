"""Training a TextVAE, split by phase: `data` (the files and the loader), `model` (the model built or loaded and
changed, the optimiser, the weights' average, the decoder phase's caches), `loop` (`Trainer`: the joint phase and
the decoder phase) and `checkpoints` (the run folder, the resume state and the log). `vae_core.recipe` runs the
stages of a recipe, each one `train`."""
from __future__ import annotations

from .loop import Trainer


def train(cfg, model_config=None, resume: bool = False, **stage):
    """One training run (see `Trainer`); `stage` passes a recipe stage's log_path and name."""
    return Trainer(cfg, model_config, resume, **stage).fit()


__all__ = ["Trainer", "train"]
