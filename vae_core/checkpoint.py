"""A TextVAE's checkpoint folder, in transformers' manner: `save_pretrained` writes config.json, model.safetensors
(without the encoder weights it shares with its base model, recorded by sha256), labels, tokenizer and casing table;
`from_pretrained` reads one back and refuses pickles and mismatches with a message that says what is wrong."""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from .config import ConfigError, VAEConfig
from .encoders import CheckpointError, tensor_sha256
from .files import atomic_replace_dir
from .readable import CasingTable, Readable

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
WEIGHTS_NAME = "model.safetensors"
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


def _write_files(folder: Path, files: dict[str, Any]) -> None:
    for name, content in files.items():
        data = content if isinstance(content, (str, bytes)) else json.dumps(content, indent=2, default=float) + "\n"
        (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def _read_weights(folder: Path) -> tuple[VAEConfig, dict[str, torch.Tensor]]:
    """The config and the stored tensors of a checkpoint folder, or a CheckpointError saying what is missing."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not folder.is_dir():
        raise CheckpointError(f"{folder} is not a folder: give a checkpoint folder with config.json and {WEIGHTS_NAME}.")
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(
                f"{folder} holds only pickled weights ({', '.join(pickles)}). Pickle files can run code when "
                f"loaded, so they are refused: convert them to {WEIGHTS_NAME} with safetensors on a machine you trust."
            )
        raise CheckpointError(f"{folder} has no {WEIGHTS_NAME}.")
    try:
        config = VAEConfig.load(folder)
    except (ConfigError, TypeError) as e:
        raise CheckpointError(str(e)) from None
    try:
        return config, load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({e}).") from None


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")


def _check_state(model, folder: Path, config: VAEConfig, state: dict[str, torch.Tensor]) -> None:
    """The stored tensors fit the model that config.json builds: the same names, the decoder vocabulary, the same
    shapes, and the base encoder's shared weights as trained."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state) - set(config.shared_with_base) - {"decoder.vocab_map"})
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{folder / WEIGHTS_NAME} does not match {folder / 'config.json'}: "
                              + (f"missing {_names(missing)}; " if missing else "")
                              + (f"unexpected {_names(unexpected)}" if unexpected else ""))
    vocab_ids = state["decoder.vocab_ids"]
    if vocab_ids.numel() != own["decoder.vocab_ids"].numel() or int(vocab_ids.max()) >= model.word_embeddings.num_embeddings:
        raise CheckpointError(
            f"{folder}: the decoder vocabulary in the weights ({vocab_ids.numel()} ids) does not fit config.json "
            f"(decoder_vocab_size={config.decoder_vocab_size}, encoder vocabulary {model.word_embeddings.num_embeddings})."
        )
    try:
        model.set_decoder_vocab(vocab_ids)
    except ConfigError as e:
        raise CheckpointError(f"{folder}: {e}") from None
    own = model.state_dict()
    for k, v in state.items():
        if own[k].shape != v.shape:
            raise CheckpointError(
                f"{folder}: weight {k} has shape {tuple(v.shape)} but config.json implies {tuple(own[k].shape)} "
                "(label count, latent size or vocabulary differ between config and weights)."
            )
    for k, digest in config.shared_with_base.items():
        if tensor_sha256(own[k]) != digest:
            raise CheckpointError(
                f"{folder} was trained on a different copy of the base encoder '{config.encoder_name_or_path}' "
                f"(weight {k} differs){'; it expects ' + config.base_package if config.base_package else ''}."
            )


class CheckpointMixin:
    """save_pretrained / from_pretrained for TextVAE."""

    def save_pretrained(self, folder: str | Path, dtype: str = "float16", extra_files: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint folder atomically: a half-written checkpoint is never visible. `extra_files` (name ->
        text, bytes or a JSON-able value) are written beside the weights."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            cast = DTYPES[dtype]
            state = {}
            for k, v in self.state_dict().items():
                if k in self.config.shared_with_base:
                    continue
                v = v.detach().cpu()
                state[k] = (v.to(cast) if v.is_floating_point() else v).contiguous()
            save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "dtype": dtype})
            self.config.save(tmp)
            (tmp / "labels.json").write_text(json.dumps(self.labels, indent=2) + "\n")
            if self.tokenizer is not None:
                self.tokenizer.save_pretrained(str(tmp))
            if not self.readable.casing.empty:
                self.readable.casing.save(tmp)
            _write_files(tmp, extra_files or {})
            atomic_replace_dir(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path):
        """Load a checkpoint folder (safetensors only; pickled weights are refused)."""
        from transformers import AutoTokenizer

        folder = Path(folder)
        config, state = _read_weights(folder)
        # Without weights to share, the encoder's architecture in config.json is enough.
        model = cls(config if config.shared_with_base else replace(config, pretrained_encoder=False))
        model.config = config
        if "prototypes.keys" in state and "prototypes.ids" in state and config.prototype_tokens:
            model.set_prototypes(state["prototypes.keys"], state["prototypes.ids"])
        _check_state(model, folder, config, state)
        own = model.state_dict()
        model.load_state_dict({k: (v.to(own[k].dtype) if v.is_floating_point() else v) for k, v in state.items()},
                              strict=False)
        if (folder / "tokenizer_config.json").exists() or (folder / "tokenizer.json").exists():
            model.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model.readable = Readable(CasingTable.load(folder))
        model.eval()
        return model
