import math

import pytest
import torch

from vae_core.losses import (bag_of_words_nll, classification_ce, cyclical_beta, gaussian_log_density, kl_divergence,
                             kl_free_bits, kl_per_dim, reconstruction_nll, unlabelled_information, vae_loss)


def test_kl_is_zero_when_posterior_equals_prior():
    mu, logvar = torch.zeros(5, 8), torch.zeros(5, 8)
    assert torch.equal(kl_divergence(mu, logvar), torch.zeros(5))


def test_kl_hand_computed():
    # KL(N(1, e^0) || N(0,1)) = 0.5 * (1 + 1 - 1 - 0) = 0.5 ; KL(N(0, e^1)||N(0,1)) = 0.5 * (e - 1 - 1)
    mu = torch.tensor([[1.0, 0.0]])
    logvar = torch.tensor([[0.0, 1.0]])
    per_dim = kl_per_dim(mu, logvar)
    assert per_dim[0, 0].item() == pytest.approx(0.5)
    assert per_dim[0, 1].item() == pytest.approx(0.5 * (math.e - 2.0))
    assert kl_divergence(mu, logvar).item() == pytest.approx(0.5 + 0.5 * (math.e - 2.0))


def test_free_bits_floor_per_dimension():
    mu = torch.tensor([[0.1, 2.0], [0.1, 2.0]])  # dim 0: KL 0.005 ; dim 1: KL 2.0
    logvar = torch.zeros(2, 2)
    assert kl_free_bits(mu, logvar, 0.0).item() == pytest.approx(0.005 + 2.0)
    assert kl_free_bits(mu, logvar, 0.5).item() == pytest.approx(0.5 + 2.0)
    # the floored dimension gets no gradient: nothing to gain by shrinking it further
    mu.requires_grad_(True)
    kl_free_bits(mu, logvar, 0.5).backward()
    assert torch.all(mu.grad[:, 0] == 0) and torch.all(mu.grad[:, 1] != 0)


def test_reconstruction_nll_uniform_logits_is_log_v():
    V = 7
    logits = torch.zeros(2, 3, V)
    targets = torch.tensor([[1, 2, -100], [3, -100, -100]])
    nll, ntok = reconstruction_nll(logits, targets)
    assert ntok.tolist() == [2, 1]
    assert nll.tolist() == pytest.approx([2 * math.log(V), math.log(V)])


def test_classification_ce_ignores_unlabelled_rows():
    logits = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    assert classification_ce(logits, torch.tensor([0, -100])).item() == pytest.approx(math.log(1 + math.exp(-2.0)))
    assert classification_ce(logits, torch.tensor([-100, -100])).item() == 0.0


def test_cyclical_beta_schedule():
    # 100 steps, 4 cycles of 25, rising over the first half of each cycle
    assert cyclical_beta(0, 100, 4, 0.5, 1.0) == 0.0
    assert cyclical_beta(6, 100, 4, 0.5, 1.0) == pytest.approx(0.48)
    assert cyclical_beta(12.5, 100, 4, 0.5, 1.0) == pytest.approx(1.0)
    assert cyclical_beta(20, 100, 4, 0.5, 1.0) == 1.0
    assert cyclical_beta(25, 100, 4, 0.5, 1.0) == 0.0
    assert cyclical_beta(100, 100, 4, 0.5, 0.7) == 0.7


def test_gaussian_log_density_standard_normal():
    z = torch.zeros(1, 3)
    assert gaussian_log_density(z, z, z).item() == pytest.approx(-1.5 * math.log(2 * math.pi))


def test_vae_loss_combines_parts():
    V, B, T, L = 5, 2, 3, 4
    class_logits = torch.zeros(B, 2)
    recon_logits = torch.zeros(B, T, V)
    targets = torch.ones(B, T, dtype=torch.long)
    mu, logvar = torch.zeros(B, L), torch.zeros(B, L)
    out = vae_loss(class_logits, torch.tensor([0, 1]), recon_logits, targets, mu, logvar, beta=1.0, free_bits=0.0)
    # per-token reconstruction log V, no KL, CE log 2
    assert out["loss"].item() == pytest.approx(math.log(V) + math.log(2))
    out = vae_loss(class_logits, torch.tensor([-100, -100]), recon_logits, targets, mu, logvar, beta=1.0,
                   free_bits=0.25)
    # unlabelled: reconstruction + KL only; free bits 0.25 * 4 dims = 1 nat per doc over 3 tokens
    assert out["loss"].item() == pytest.approx(math.log(V) + 1.0 / 3)


def test_bag_of_words_nll_hand_computed():
    # two documents over a vocabulary of 3; uniform logits give log 3 per counted token
    logits = torch.zeros(2, 3)
    targets = torch.tensor([[0, 1, 1], [2, -100, -100]])
    assert bag_of_words_nll(logits, targets).tolist() == pytest.approx([3 * math.log(3), math.log(3)])
    # a confident, correct prediction costs almost nothing; padding never counts
    logits = torch.tensor([[0.0, 0.0, 50.0]])
    assert bag_of_words_nll(logits, torch.tensor([[2, 2, -100]])).item() == pytest.approx(0.0, abs=1e-6)


def test_vae_loss_adds_the_bag_of_words_term_per_token():
    V, B, T, L = 5, 2, 3, 4
    args = (torch.zeros(B, 2), torch.tensor([0, 1]), torch.zeros(B, T, V), torch.ones(B, T, dtype=torch.long),
            torch.zeros(B, L), torch.zeros(B, L))
    base = vae_loss(*args, beta=1.0)["loss"].item()
    out = vae_loss(*args, beta=1.0, bow_logits=torch.zeros(B, V), bow_weight=0.5)
    # uniform bag of words: log V per token, weighted 0.5
    assert out["loss"].item() == pytest.approx(base + 0.5 * math.log(V))
    assert out["bow_per_token"].item() == pytest.approx(math.log(V))


def test_unlabelled_information_hand_computed():
    big = 50.0  # softmax of (big, 0) is one-hot to float precision
    # two unlabelled rows, each certain, of different classes: entropy 0, marginal (1/2, 1/2) -> -log 2
    confident_balanced = torch.tensor([[big, 0.0], [0.0, big], [0.0, 0.0]])
    labels = torch.tensor([-100, -100, 1])  # the labelled row does not count
    assert unlabelled_information(confident_balanced, labels).item() == pytest.approx(-math.log(2), abs=1e-6)
    # both certain of the same class: entropy 0, marginal one-hot -> 0 (a collapse is not rewarded)
    collapsed = torch.tensor([[big, 0.0], [big, 0.0]])
    assert unlabelled_information(collapsed, torch.tensor([-100, -100])).item() == pytest.approx(0.0, abs=1e-6)
    # both undecided: entropy log 2 each, marginal uniform -> log 2 - log 2 = 0
    assert unlabelled_information(torch.zeros(2, 2), torch.tensor([-100, -100])).item() == pytest.approx(0.0, abs=1e-6)
    # fewer than two unlabelled rows: no term
    assert unlabelled_information(confident_balanced, torch.tensor([0, 1, -100])).item() == 0.0


def test_vae_loss_adds_the_information_term_only_when_weighted():
    V, B, T, L = 5, 2, 3, 4
    class_logits = torch.tensor([[50.0, 0.0], [0.0, 50.0]])
    recon_logits, targets = torch.zeros(B, T, V), torch.ones(B, T, dtype=torch.long)
    mu, logvar = torch.zeros(B, L), torch.zeros(B, L)
    free = torch.tensor([-100, -100])
    off = vae_loss(class_logits, free, recon_logits, targets, mu, logvar, beta=1.0)
    on = vae_loss(class_logits, free, recon_logits, targets, mu, logvar, beta=1.0, info_weight=0.5)
    assert off["loss"].item() == pytest.approx(math.log(V))
    assert on["loss"].item() == pytest.approx(math.log(V) - 0.5 * math.log(2), abs=1e-5)
    assert on["info"].item() == pytest.approx(-math.log(2), abs=1e-6)
