"""What a TextVAE returns: a posterior, one pass over a corpus, and the outputs of a training forward pass.

Shapes: B batch, N corpus rows, T decoder tokens, L latent size, C classes, V decoder vocabulary."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


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

    def class_probabilities(self, model, samples: int, seed: int = 0) -> torch.Tensor:
        """The classifier's probabilities at `samples` seeded draws from each posterior (samples, B, C): the
        same every time for the same posterior."""
        z = self.sample(torch.Generator(device=self.mu.device).manual_seed(seed), samples)
        return model.class_probs(z)

    @torch.no_grad()
    def sampled_predictions(self, model, samples: int, seed: int = 0) -> "SampledPredictions":
        """The class probabilities at `samples` seeded draws from each posterior, beside the class predicted at mu:
        how settled each prediction is (the one home of posterior-sample uncertainty: the app's Classify page and
        every index read it)."""
        return SampledPredictions(self.class_probabilities(model, samples, seed), model.classify(self.mu).argmax(-1))


@dataclass
class SampledPredictions:
    probs: torch.Tensor  # (K, B, C) class probabilities at K draws from each posterior
    at_mu: torch.Tensor  # (B,) the class predicted at mu

    @property
    def flip_rate(self) -> torch.Tensor:
        """(B,) share of the draws whose predicted class differs from the one at mu."""
        return (self.probs.argmax(-1) != self.at_mu[None]).float().mean(0)

    @property
    def prob_std(self) -> torch.Tensor:
        """(B,) spread over the draws of the probability of the class predicted at mu."""
        K = self.probs.shape[0]
        return self.probs.gather(-1, self.at_mu[None, :, None].expand(K, -1, 1)).squeeze(-1).std(0)


@dataclass
class CorpusPass:
    """One pass over a corpus with z = mu (`TextVAE.forward_corpus`), every row in the texts' order. Calibration,
    evaluation and an index can all read the same pass (`finish.finish_model`)."""
    logits: torch.Tensor  # (N, C) the classifier's logits at mu (TextVAE.classify: no temperature)
    mu: torch.Tensor  # (N, L)
    logvar: torch.Tensor  # (N, L)
    recon_nll: torch.Tensor  # (N,) reconstruction NLL of each document given mu, nats; 0 where not computed
    recon_tokens: torch.Tensor  # (N,) target tokens behind recon_nll; 0 where not computed
    temperature: float = 1.0  # the model's calibration temperature (VAEConfig.temperature) the probabilities take

    @property
    def probs(self) -> torch.Tensor:
        """(N, C) the class probabilities a user is shown (TextVAE.class_probs): softmax(logits / temperature)."""
        return torch.softmax(self.logits / self.temperature, dim=-1)

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

    def __len__(self) -> int:
        return len(self.mu)

    TENSORS = ("logits", "mu", "logvar", "recon_nll", "recon_tokens")

    def take(self, rows: Sequence[int]) -> "CorpusPass":
        """The pass of some rows, in the order given."""
        idx = torch.as_tensor(list(rows), dtype=torch.long)
        return CorpusPass(*(getattr(self, f)[idx] for f in self.TENSORS), temperature=self.temperature)

    @classmethod
    def concat(cls, passes: Sequence["CorpusPass"]) -> "CorpusPass":
        """Passes over consecutive pieces of a corpus, as one."""
        return cls(*(torch.cat([getattr(p, f) for p in passes]) for f in cls.TENSORS),
                   temperature=passes[0].temperature if passes else 1.0)


@dataclass
class VAEOutput:
    class_logits: torch.Tensor  # (B, C), from z
    recon_logits: torch.Tensor  # (B, T, V)
    recon_targets: torch.Tensor  # (B, T), decoder vocabulary indices, -100 where padding
    bow_logits: torch.Tensor  # (B, V), the document's bag of words predicted from z alone
    mu: torch.Tensor  # (B, L)
    logvar: torch.Tensor  # (B, L)
    z: torch.Tensor  # (B, L)
