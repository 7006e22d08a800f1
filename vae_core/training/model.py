"""The model phase of a training run: the model built or loaded (and changed as the run says), what is frozen and
shared with the base encoder, the optimiser's groups and schedule, the weights' moving average, and what the decoder
phase computes once (the frozen part's outputs, the prototype bank)."""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import torch

from ..changes import apply_changes
from ..config import TrainConfig, VAEConfig
from ..data import TokenizedDataset, build_decoder_vocab, tokenize_texts
from ..encoders import load_encoder_tokenizer, packaged_encoder, tensor_sha256
from ..modeling import TextVAE, squared_distances
from ..outputs import Posterior
from ..readable import CasingTable, Readable

DEFAULT_DECODER_VOCAB = 8192  # VAEConfig.decoder_vocab_size 0: the most frequent training tokens, this many


def build_model(cfg: TrainConfig, mc: VAEConfig, names: list[str], texts: list[str], start: Path | None,
                resume: bool) -> tuple[TextVAE, list[list[int]]]:
    """The run's model: loaded from `start` (a checkpoint, or the run's resume state), or a new one of `mc` (its
    decoder vocabulary the training texts' most frequent tokens); then the run's changes (`cfg.changes`, all but
    the decoder phase's additions). Returns it and the training texts' token ids."""
    mc.labels = list(names)
    if start is not None:
        model = TextVAE.from_pretrained(start)
        tokenizer = model.tokenizer
        if not resume:
            model.readable = Readable(CasingTable.learn(texts))
    else:
        tokenizer = load_encoder_tokenizer(mc.encoder_name_or_path)
    ids = tokenize_texts(tokenizer, texts, mc.max_length)
    if start is None:
        mc.max_length = min(mc.max_length, tokenizer.model_max_length)
        model = TextVAE(mc)
        model.set_special_ids(tokenizer)
        model.tokenizer = tokenizer
        model.readable = Readable(CasingTable.learn(texts))
        vocab_size = mc.decoder_vocab_size or DEFAULT_DECODER_VOCAB
        special = model.special_ids
        if vocab_size < model.word_embeddings.num_embeddings:
            model.set_decoder_vocab(torch.tensor(build_decoder_vocab(ids, vocab_size, [special["eos"], special["unk"]])))
        else:
            mc.decoder_vocab_size = 0
    changes = cfg.changes.settings()
    if cfg.init_from and not resume:
        changes = changes.for_retrained_decoder()
    apply_changes(model, changes, cfg.seed)
    freeze_and_share(model, cfg.freeze_embeddings, record=start is None)
    return model, ids


def freeze_and_share(model: TextVAE, freeze_embeddings: bool, record: bool) -> None:
    """Freeze the word embeddings (and the unused pooler). With a pretrained base and `record` (a new model) they
    are not saved: the config records their sha256 and checkpoints read them from the base model on load."""
    share = {}
    for name, p in model.named_parameters():
        frozen = name.startswith("encoder.pooler.") or (
            freeze_embeddings and name == "encoder.embeddings.word_embeddings.weight")
        if frozen:
            p.requires_grad_(False)
            if record and model.config.pretrained_encoder:
                share[name] = tensor_sha256(p)
    if not record:
        return
    model.config.shared_with_base = share
    packaged = packaged_encoder(model.config.encoder_name_or_path)
    model.config.base_package = packaged[1] if packaged else None


def encoder_depth(name: str, num_layers: int) -> int:
    """Where an encoder parameter sits, counted from the input: 0 for the embeddings, i + 1 for the
    i-th transformer layer (`...layer.<i>.` in BERT-like encoders), `num_layers` for anything else."""
    if ".embeddings." in name:
        return 0
    m = re.search(r"\.layers?\.(\d+)\.", name)
    return int(m.group(1)) + 1 if m else num_layers


def parameter_groups(model: TextVAE, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: the heads (posterior, classifier, decoder) at `head_lr`; the encoder at `lr`, or
    with `layer_decay` < 1 at lr * layer_decay ** (layers above), one group per depth."""
    enc: dict[int, list] = {}
    heads = []
    n_layers = int(getattr(model.encoder.config, "num_hidden_layers", 0) or 0)
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if not name.startswith("encoder."):
            heads.append(p)
            continue
        depth = encoder_depth(name, n_layers) if cfg.layer_decay != 1.0 else n_layers
        enc.setdefault(depth, []).append(p)
    groups = [{"params": ps, "lr": cfg.lr * cfg.layer_decay ** max(0, n_layers - d)} for d, ps in sorted(enc.items())]
    return groups + [{"params": heads, "lr": cfg.head_lr}]


def two_phase_schedule(joint_steps: int, decoder_steps: int, warmup_ratio: float):
    """Learning-rate factor per step: linear warm-up and decay over the joint phase, then the same
    again over the decoder phase."""

    def phase(s: int, n: int) -> float:
        warm = int(warmup_ratio * n)
        if s < warm:
            return (s + 1) / (warm + 1)
        return max(0.0, (n - s) / max(1, n - warm))

    def factor(step: int) -> float:
        return phase(step, joint_steps) if step < joint_steps else phase(step - joint_steps, decoder_steps)

    return factor


def optimisation(model: TextVAE, cfg: TrainConfig, joint_steps: int, decoder_steps: int, step: int = 0):
    """(AdamW over the model's trainable parameters, its two-phase schedule at `step`). Rebuilt at a step > 0 after
    the model gained parameters, grouped as a resumed run builds them."""
    optimizer = torch.optim.AdamW(parameter_groups(model, cfg), weight_decay=cfg.weight_decay)
    if step:
        for g in optimizer.param_groups:
            g["initial_lr"] = g["lr"]
    schedule = two_phase_schedule(joint_steps, decoder_steps, cfg.warmup_ratio)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule, last_epoch=step - 1)


def mixed_precision(name: str) -> str:
    """bf16 where the hardware has it (CUDA, or a CPU with AVX-512 BF16 / AMX), else full precision."""
    if name != "bf16":
        return name
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "no"


class WeightAverage:
    """The exponential moving average of the trained weights (Polyak averaging): a float32 copy of every trainable
    tensor, updated by torch's own EMA update (`get_ema_multi_avg_fn`) with a short memory early on. Kept for the
    trained tensors only, not in an `AveragedModel`: that would copy the whole model (the frozen encoder and
    embeddings too), could not follow the model when it gains parameters (the content latent, the prototype
    decoder) and would still need the frozen parts written into it by hand when the decoder phase freezes them."""

    def __init__(self, model: TextVAE, decay: float):
        self.decay = decay
        self.tensors = {n: p.detach().clone().float() for n, p in model.named_parameters() if p.requires_grad}

    def update(self, model: TextVAE, step: int) -> None:
        from torch.optim.swa_utils import get_ema_multi_avg_fn

        avg, cur = [], []
        for name, p in model.named_parameters():
            if p.requires_grad and name in self.tensors:
                avg.append(self.tensors[name])
                cur.append(p.detach().float())
        if avg:
            get_ema_multi_avg_fn(min(self.decay, (1 + step) / (10 + step)))(avg, cur, None)

    def follow(self, model: TextVAE) -> None:
        """Average the parameters the model gained too (from their current values)."""
        for name, p in model.named_parameters():
            if p.requires_grad and (name not in self.tensors or self.tensors[name].shape != p.shape):
                self.tensors[name] = p.detach().clone().float()

    def freeze(self, model: TextVAE) -> None:
        """A frozen parameter's average is itself."""
        for name, p in model.named_parameters():
            if not p.requires_grad and name in self.tensors:
                self.tensors[name] = p.detach().clone().float()

    @contextmanager
    def applied(self, model: TextVAE):
        """The model holds the averaged weights inside the block, its own after it."""
        params = dict(model.named_parameters())
        own = {n: params[n].detach().clone() for n in self.tensors}
        with torch.no_grad():
            for n, t in self.tensors.items():
                params[n].copy_(t)
        try:
            yield
        finally:
            with torch.no_grad():
                for n, t in own.items():
                    params[n].copy_(t)


@torch.no_grad()
def cache_frozen_part(model: TextVAE, dataset: TokenizedDataset, pooled: bool, device="cpu") -> torch.Tensor:
    """What a frozen encoder gives each row of `dataset`, computed once for a decoder-only phase: its
    pooled state (N, H) when a posterior on it is still trained (`pooled`), else its posterior [mu, logvar]
    (N, 2L). Rows in dataset order; `posterior_of_cached` turns rows back into posteriors."""
    width = model.encoder.config.hidden_size if pooled else 2 * model.config.latent_size
    out = torch.zeros(len(dataset), width)
    for idx, ids, mask in model.batches(ids=dataset.input_ids, batch_size=64, device=device):
        if pooled:
            out[idx] = model.pooled(ids, mask).float().cpu()
        else:
            post = model.encode(ids, mask)
            out[idx] = torch.cat([post.mu, post.logvar], -1).float().cpu()
    return out


def posterior_of_cached(model: TextVAE, rows: torch.Tensor, pooled: bool) -> Posterior:
    """The posteriors of rows of `cache_frozen_part` (the same `pooled`)."""
    if pooled:
        return model.posterior_from_pooled(rows)
    return Posterior(*rows.chunk(2, -1))


def leave_one_out_neighbours(keys: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """For each row of keys (N, L), the index of the nearest other row (Euclidean) (N,)."""
    out = torch.empty(len(keys), dtype=torch.long)
    for s in range(0, len(keys), chunk):
        d = squared_distances(keys[s : s + chunk], keys)  # (c, N)
        d[torch.arange(d.shape[0]), torch.arange(s, s + d.shape[0])] = float("inf")
        out[s : s + chunk] = d.argmin(-1).cpu()
    return out


class PrototypeBank:
    """The training documents as the decoder's prototypes: each distinct text once, its latent mean from the current
    posterior (refreshed before every save) and its first tokens; in training each document edits its nearest other
    document (`neighbours`, fixed when the decoder phase began and kept in the resume state)."""

    def __init__(self, dataset: TokenizedDataset):
        first: dict[tuple, int] = {}  # token ids -> bank row
        rows, source = [], []  # dataset row -> bank row; bank row -> its first dataset row
        for row, ids in enumerate(dataset.input_ids):
            if tuple(ids) not in first:
                first[tuple(ids)] = len(source)
                source.append(row)
            rows.append(first[tuple(ids)])
        self.dataset = dataset
        self.rows, self.source = torch.tensor(rows), torch.tensor(source)
        self.neighbours: torch.Tensor | None = None

    def set_on(self, model: TextVAE, frozen_rows: torch.Tensor, device) -> None:
        """Give `model` the bank, its keys from the model's posterior of the cached frozen part."""
        P, pad = model.config.prototype_tokens, model.special_ids["pad"]
        ids = torch.full((len(self.source), P), pad, dtype=torch.int32)
        for b, row in enumerate(self.source.tolist()):
            toks = self.dataset.input_ids[row][1:-1][:P]  # without [CLS] and [SEP]
            ids[b, : len(toks)] = torch.tensor(toks, dtype=torch.int32)
        with torch.no_grad():
            keys = posterior_of_cached(model, frozen_rows[self.source].to(device),
                                       pooled=model.content_posterior is not None).mu
        model.set_prototypes(keys.float(), ids)
        if self.neighbours is None:
            self.neighbours = leave_one_out_neighbours(model.prototypes.keys)

    def rows_for(self, index: torch.Tensor) -> torch.Tensor:
        """The bank row each training row (dataset `index`) edits in training: its nearest other document."""
        return self.neighbours[self.rows[index.cpu()]]
