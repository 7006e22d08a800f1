"""Pure loss functions of the VAE classifier (no state, no model access)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

IGNORE = -100


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per document and dimension: (B, L) -> (B, L), in nats."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL per document (B,), in nats."""
    return kl_per_dim(mu, logvar).sum(-1)


def kl_free_bits(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Batch KL per document with free bits (Kingma et al. 2016): each dimension's batch-mean KL counts
    as at least `free_bits` nats, so the optimiser gains nothing by pushing a dimension below it."""
    per_dim = kl_per_dim(mu, logvar).mean(0)  # (L,)
    if free_bits > 0:
        per_dim = per_dim.clamp(min=free_bits)
    return per_dim.sum()


def reconstruction_nll(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Token cross-entropy summed per document: logits (B, T, V), targets (B, T) with -100 for padding.
    Returns (nll per document (B,), number of target tokens per document (B,))."""
    nll = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE, reduction="none")  # (B, T)
    mask = targets != IGNORE
    return (nll * mask).sum(1), mask.sum(1)


def bag_of_words_nll(bow_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """-log p(w | z) summed over the document's target tokens, each scored under one distribution over
    the vocabulary predicted from z (Zhao et al. 2017): bow_logits (B, V), targets (B, T) with -100 for
    padding -> (B,)."""
    logp = F.log_softmax(bow_logits.float(), dim=-1)  # (B, V)
    mask = targets != IGNORE
    picked = logp.gather(1, targets.clamp(min=0))  # (B, T)
    return -(picked * mask).sum(1)


def classification_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over labelled rows (label -100 = unlabelled); 0 when the batch has none."""
    if not bool((labels != IGNORE).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), labels, ignore_index=IGNORE)


def unlabelled_information(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Regularised information maximisation (Krause et al. 2010) over the unlabelled rows (label -100):
    the mean entropy of p(y|z) minus the entropy of its mean. Minimising it makes each unlabelled
    document's prediction confident (decision boundaries move into the empty regions between clusters)
    while the classes stay balanced over the batch, so that no class swallows the rest. Bounded by
    [-log C, log C]; 0 when the batch has fewer than two unlabelled rows."""
    free = labels == IGNORE
    if int(free.sum()) < 2:
        return logits.sum() * 0.0
    logp = F.log_softmax(logits[free].float(), dim=-1)  # (U, C)
    p = logp.exp()
    conditional = -(p * logp).sum(-1).mean()
    marginal = p.mean(0)
    return conditional + (marginal * marginal.clamp(min=1e-12).log()).sum()


def cyclical_beta(step: int, total_steps: int, cycles: int = 4, ratio: float = 0.5, beta_max: float = 1.0) -> float:
    """Cyclical annealing (Fu et al. 2019): in each of `cycles` equal periods beta rises linearly from 0
    to `beta_max` over the first `ratio` of the period and then stays there."""
    if total_steps <= 0 or cycles <= 0:
        return beta_max
    period = total_steps / cycles
    phase = (step % period) / period if step < total_steps else 1.0
    if ratio <= 0:
        return beta_max
    return beta_max * min(1.0, phase / ratio)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension."""
    return -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + math.log(2 * math.pi)).sum(-1)


def vae_loss(
    class_logits: torch.Tensor,
    labels: torch.Tensor,
    recon_logits: torch.Tensor,
    recon_targets: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float,
    free_bits: float = 0.0,
    class_weight: float = 1.0,
    recon_weight: float = 1.0,
    bow_logits: torch.Tensor | None = None,
    bow_weight: float = 0.0,
    info_weight: float = 0.0,
) -> dict[str, torch.Tensor]:
    """The training objective. The ELBO part (reconstruction + beta * KL with free bits, plus the
    auxiliary bag-of-words reconstruction when `bow_weight` > 0) is taken per target token so that its
    scale does not grow with document length; classification is added to it for labelled rows, and with
    `info_weight` > 0 the information term of `unlabelled_information` for unlabelled rows.
    Returns the total `loss` and its parts (detached) for logging."""
    nll, ntok = reconstruction_nll(recon_logits, recon_targets)  # (B,), (B,)
    kl_fb = kl_free_bits(mu, logvar, free_bits)  # scalar, nats per document
    tokens_per_doc = ntok.float().mean().clamp(min=1.0)
    bow = bag_of_words_nll(bow_logits, recon_targets).mean() if bow_logits is not None and bow_weight > 0 else nll.new_zeros(())
    elbo_term = (nll.mean() + beta * kl_fb + bow_weight * bow) / tokens_per_doc
    ce = classification_ce(class_logits, labels)
    loss = recon_weight * elbo_term + class_weight * ce
    info = unlabelled_information(class_logits, labels) if info_weight > 0 else ce.new_zeros(())
    if info_weight > 0:
        loss = loss + info_weight * info
    return {
        "bow_per_token": (bow / tokens_per_doc).detach(),
        "loss": loss,
        "ce": ce.detach(),
        "info": info.detach(),
        "recon_per_doc": nll.mean().detach(),
        "recon_per_token": (nll.sum() / ntok.sum().clamp(min=1)).detach(),
        "kl": kl_divergence(mu, logvar).mean().detach(),
        "beta": torch.tensor(beta),
    }
