"""TextVAE: a pretrained transformer encoder -> Gaussian posterior over z -> {classifier, decoder}.

The network lives here; the rest of what a TextVAE does lives beside it, in transformers' manner: checkpoint
folders (`checkpoint.CheckpointMixin`: save_pretrained / from_pretrained), tokenising, batching and the pass
over a corpus (`tokenizing.CorpusMixin`), decoding (`generation.GenerationMixin` and its logits processors),
where the encoder comes from (`encoders`) and changes to the decoder and latent (`changes`).

Shapes: B batch, S encoder tokens, T decoder tokens, H encoder hidden size, L latent size,
C classes, V decoder vocabulary (a subset of the encoder's WordPiece vocabulary), K memory vectors.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import CheckpointMixin
from .config import ConfigError, VAEConfig
from .encoders import load_pretrained_encoder
from .generation import GenerationMixin
from .outputs import Posterior, VAEOutput
from .readable import Readable
from .tokenizing import CorpusMixin


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


class TextVAE(CheckpointMixin, CorpusMixin, GenerationMixin, nn.Module):
    """The network: encoder, posterior, classifier, decoder and the bag-of-words head."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        if config.num_labels < 1:
            raise ConfigError("config.labels is empty: a TextVAE needs at least one class name.")
        if config.pretrained_encoder:
            self.encoder = load_pretrained_encoder(config.encoder_name_or_path)
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
        self.special_ids = self._read_special_ids()

    # ---- special tokens (BERT-style WordPiece: [CLS] opens, [SEP] closes) ----
    def _read_special_ids(self) -> dict[str, int]:
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
        self.special_ids = self._read_special_ids()

    def set_decoder_vocab(self, vocab_ids: torch.Tensor) -> None:
        """Use a subset of the encoder vocabulary as the decoder's output vocabulary (must hold eos and unk)."""
        vocab_ids = torch.as_tensor(vocab_ids, dtype=torch.long)
        for need in ("eos", "unk"):
            if not (vocab_ids == self.special_ids[need]).any():
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

    # ---- prototypes (prototype, then edit) ----
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
        return ids, self.word_embeddings(ids), self.special_ids["pad"]

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
        tgt = torch.where(tgt < 0, self.decoder.vocab_map[self.special_ids["unk"]], tgt)
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
            dec_in = torch.where(drop, torch.full_like(dec_in, self.special_ids["mask"]), dec_in)
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


def squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of a (n, L) and b (N, L) -> (n, N), in float32."""
    a, b = a.float(), b.float()
    return (a ** 2).sum(-1, keepdim=True) - 2 * a @ b.T + (b ** 2).sum(-1)[None]
