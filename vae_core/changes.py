"""Changes to a model's decoder and latent, in one place: `config.ModelChanges` says what a run changes (a recipe stage
and the user's options both carry one), `apply_changes` applies it to a model, new or loaded.

What a run keeps of the checkpoint it starts from:
- `--init-from`: the encoder, posterior, classifier, decoder weights, labels, decoder length, dropout and word dropout,
  each unless the run's changes name it; the decoder is trained again, so the model decodes with this run's guidance
  (the one given, else the default: `ModelChanges.for_retrained_decoder`).
- `--resume`: everything; the run continues as it was started, with its saved changes."""
from __future__ import annotations

import torch
import torch.nn as nn

from .config import ConfigError, ModelChanges


def apply_changes(model, changes: ModelChanges, seed: int = 0) -> bool:
    """Apply `changes` to `model` in place (its config follows); new weights are drawn from generators seeded by
    `seed`. An addition the model already has is left as it is (a resumed run meets it again). True when the
    model gained parameters (an optimiser must then be rebuilt)."""
    cfg = model.config
    if changes.word_dropout is not None:
        cfg.word_dropout = float(changes.word_dropout)
    if changes.decoder_dropout is not None:
        set_decoder_dropout(model, changes.decoder_dropout)
    if changes.decoder_bow_guidance is not None:
        cfg.decoder_bow_guidance = float(changes.decoder_bow_guidance)
    if changes.decoder_guided_training is not None:
        cfg.decoder_guided_training = bool(changes.decoder_guided_training)
    if changes.decoder_max_length is not None:
        set_decoder_length(model, changes.decoder_max_length, torch.Generator().manual_seed(seed))
    grew = False
    if changes.content_dims and model.content_posterior is None:
        add_content_latent(model, changes.content_dims, torch.Generator().manual_seed(seed))
        grew = True
    if changes.prototype_tokens and not cfg.prototype_tokens:
        add_prototype_decoder(model, changes.prototype_tokens, torch.Generator().manual_seed(seed + 1))
        grew = True
    return grew


def set_decoder_dropout(model, dropout: float) -> None:
    from .modeling import DecoderBlock

    model.config.dropout = float(dropout)
    for m in model.decoder.modules():
        if isinstance(m, nn.Dropout):
            m.p = float(dropout)
        elif isinstance(m, DecoderBlock):
            m.dropout = float(dropout)


def set_decoder_length(model, max_length: int, generator: torch.Generator | None = None) -> None:
    """`max_length` target tokens: longer adds position embeddings, drawn as at initialisation, after the trained
    ones; shorter keeps the first ones."""
    if max_length == model.config.decoder_max_length:
        return
    old = model.decoder.pos
    new = nn.Embedding(max_length, old.embedding_dim).to(old.weight.device, old.weight.dtype)
    keep = min(max_length, old.num_embeddings)
    with torch.no_grad():
        nn.init.normal_(new.weight, 0.0, 0.02, generator=generator)
        new.weight[:keep] = old.weight[:keep]
    new.weight.requires_grad_(old.weight.requires_grad)
    model.decoder.pos = new
    model.config.decoder_max_length = int(max_length)


def add_content_latent(model, dims: int, generator: torch.Generator | None = None) -> None:
    """Widen z by `dims` content dimensions (VAEConfig.content_latent_size) that the classifier does not read: a new
    content posterior on the encoder's pooled state, and the decoder's inputs widened with zero weights for them,
    so that the model decodes exactly as before until they are trained."""
    if model.content_posterior is not None:
        raise ConfigError("this model already has a content latent.")
    if dims < 1:
        raise ConfigError(f"a content latent needs at least 1 dimension, got {dims}.")
    H = model.encoder.config.hidden_size
    L = model.config.latent_size
    model.content_posterior = nn.Linear(H, 2 * dims).to(model.posterior.weight.device)
    with torch.no_grad():
        nn.init.normal_(model.content_posterior.weight, 0.0, 0.02, generator=generator)
        nn.init.zeros_(model.content_posterior.bias)
    dec = model.decoder
    # the decoder reads [z, p(y|z)]: new columns go between the old z and the class probabilities
    for parent, name in ((dec, "z_to_emb"), (dec, "z_to_mem"), (dec.bow_proj, "0")):
        old: nn.Linear = getattr(parent, name)
        new = nn.Linear(old.in_features + dims, old.out_features).to(old.weight.device)
        with torch.no_grad():
            new.weight.zero_()
            new.weight[:, :L] = old.weight[:, :L]
            new.weight[:, L + dims :] = old.weight[:, L:]
            new.bias.copy_(old.bias)
        setattr(parent, name, new)
    model.config.latent_size = L + dims
    model.config.content_latent_size = dims


def add_prototype_decoder(model, tokens: int, generator: torch.Generator | None = None) -> None:
    """Let the decoder read the first `tokens` tokens of a prototype document (VAEConfig.prototype_tokens): new
    position embeddings and a norm for them. Until a bank is set (`TextVAE.set_prototypes`) nothing changes."""
    if model.config.prototype_tokens:
        raise ConfigError("this model's decoder already reads prototypes.")
    if tokens < 1:
        raise ConfigError(f"prototype_tokens must be at least 1, got {tokens}.")
    dec, device = model.decoder, model.decoder.pos.weight.device
    dec.proto_pos = nn.Embedding(tokens, dec.hidden).to(device)
    with torch.no_grad():
        nn.init.normal_(dec.proto_pos.weight, 0.0, 0.02, generator=generator)
    dec.proto_ln = nn.LayerNorm(dec.hidden).to(device)
    model.config.prototype_tokens = int(tokens)
