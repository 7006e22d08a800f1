"""Which decoded text is kept (`vae_core.decoding`): candidates, swappable scorers and the choice among them."""
import torch

from vae_core.decoding import (BagOfWordsCoverage, CandidateScorer, DecoderLikelihood,
                               PosteriorCosine, choose, generate_candidates)


def test_the_choice_keeps_the_best_candidate_among_those_of_the_class_at_z():
    scores = torch.tensor([[3.0, 1.0, 2.0], [3.0, 1.0, 2.0], [0.0, 5.0, 1.0]])
    agrees = torch.tensor([[False, True, True], [False, False, False], [True, True, True]])
    # row 0: the best agreeing one (2.0, not the 3.0 that reads as another class); row 1: none agrees, all count
    assert choose(scores, agrees).tolist() == [2, 0, 1]


class Last(CandidateScorer):
    """A scorer that always prefers the last candidate."""
    description = "the last one"

    def __call__(self, model, cands):
        B, K = cands.shape
        return torch.arange(K, dtype=torch.float32).expand(B, K)


def test_a_scorer_swapped_in_decides_what_decode_text_keeps(tiny_model):
    z = torch.randn(3, tiny_model.config.latent_size, generator=torch.Generator().manual_seed(0))
    cands = generate_candidates(tiny_model, z, 4, 0.3, seed=0)
    assert cands.shape == (3, 4) and cands.mu.shape == (12, tiny_model.config.latent_size)
    assert [row[0] for row in cands.texts] == tiny_model.decode_text(z, candidates=1, readable=False), "greedy first"
    last = choose(Last()(tiny_model, cands), cands.agrees).tolist()
    kept = tiny_model.decode_text(z, candidates=4, readable=False, scorer=Last())
    assert kept == [cands.texts[b][k] for b, k in enumerate(last)]
    # the default rule is the cosine of the candidate's posterior mean and z, as the model card says
    cos = choose(PosteriorCosine()(tiny_model, cands), cands.agrees).tolist()
    assert tiny_model.decode_text(z, candidates=4, readable=False) == [cands.texts[b][k] for b, k in enumerate(cos)]


def test_decoder_likelihood_is_the_sum_of_the_token_log_probabilities(tiny_model):
    z = torch.randn(2, tiny_model.config.latent_size, generator=torch.Generator().manual_seed(1))
    cands = generate_candidates(tiny_model, z, 3, 0.5, seed=2)
    total, per_token = DecoderLikelihood()(tiny_model, cands), DecoderLikelihood(per_token=True)(tiny_model, cands)
    dec_in, tgt = tiny_model.decoder_io(cands.input_ids, cands.attention_mask)
    logp = torch.log_softmax(tiny_model.decode_logits(cands.z_per_candidate, dec_in).float(), -1)
    mask = tgt != -100
    by_hand = (logp.gather(-1, tgt.clamp(min=0)[..., None])[..., 0] * mask).sum(1).view(2, 3)
    assert torch.allclose(total, by_hand, atol=1e-4)
    assert torch.allclose(per_token, by_hand / mask.sum(1).clamp(min=1).view(2, 3), atol=1e-5)
    assert (total <= 0).all()


def test_bag_of_words_coverage_sums_the_heads_probabilities_of_the_words_written_once_each(tiny_model):
    z = torch.randn(2, tiny_model.config.latent_size, generator=torch.Generator().manual_seed(3))
    cands = generate_candidates(tiny_model, z, 3, 0.7, seed=4)
    dec, special = tiny_model.decoder, set(tiny_model.special_ids.values())
    with torch.no_grad():  # as decode_text scores
        cover = BagOfWordsCoverage()(tiny_model, cands)
        p = torch.softmax(dec.bow_logits(z, tiny_model.word_embeddings).float(), -1)
    for b in range(2):
        for k in range(3):
            ids = cands.input_ids[b * 3 + k][cands.attention_mask[b * 3 + k].bool()].tolist()
            words = {int(dec.vocab_map[i]) for i in ids if i not in special and dec.vocab_map[i] >= 0}
            assert abs(float(cover[b, k]) - float(p[b, sorted(words)].sum())) < 1e-5
    assert ((cover >= 0) & (cover <= 1)).all()


def test_posterior_cosine_is_the_cosine_of_each_candidates_mean_and_z(tiny_model):
    z = torch.randn(2, tiny_model.config.latent_size, generator=torch.Generator().manual_seed(7))
    cands = generate_candidates(tiny_model, z, 3, 0.7, seed=8)
    cos = PosteriorCosine()(tiny_model, cands)
    mu = cands.mu.view(2, 3, -1)
    by_hand = (mu * z[:, None]).sum(-1) / (mu.norm(dim=-1) * z.norm(dim=-1)[:, None])
    assert cos.shape == (2, 3) and torch.allclose(cos, by_hand, atol=1e-5)
