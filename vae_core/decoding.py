"""Which decoded text to keep: a candidate generator and swappable scorers, in the style of transformers' logits
processors. `generate_candidates` decodes K texts from each latent (the greedy text and K - 1 samples at a
temperature, in one batch: a decoding step costs about the same for 1 row as for 80 on CPU) and encodes them again;
a `CandidateScorer` gives every candidate a score; `choose` keeps, among the candidates the classifier reads as the
class at z (all of them when none does), the best-scored. `TextVAE.decode_text` keeps by `DEFAULT_SCORER` (the
cosine of the candidate's posterior mean and z); benchmarks/decoding_choice.py compares the scorers
(benchmarks/RESULTS.md, "Which candidate to keep" and issue 29's item 6)."""
from __future__ import annotations

from dataclasses import dataclass
import torch


@dataclass
class Candidates:
    """K candidate texts for each of B latents, and what the encoder reads in them (rows latent-major: b * K + k)."""
    z: torch.Tensor  # (B, L) the latents decoded
    texts: list[list[str]]  # B lists of K texts (the tokenizer's), the greedy text first
    input_ids: torch.Tensor  # (B * K, S) the candidates as the encoder reads them (an empty text as ".")
    attention_mask: torch.Tensor  # (B * K, S)
    mu: torch.Tensor  # (B * K, L) their posterior means
    logvar: torch.Tensor  # (B * K, L)
    agrees: torch.Tensor  # (B, K) the classifier reads the candidate as the class at z

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.texts), len(self.texts[0]) if self.texts else 0

    @property
    def z_per_candidate(self) -> torch.Tensor:
        """(B * K, L): each candidate's own latent."""
        return self.z.repeat_interleave(self.shape[1], dim=0)


def generate_candidates(model, z: torch.Tensor, k: int, temperature: float, seed: int = 0,
                        max_length: int | None = None, **generate_kwargs) -> Candidates:
    """The greedy text and k - 1 samples at `temperature` for each latent, and their posteriors. Sample j of every
    latent draws from its own seed (`candidate_seed(seed, j)`), so the same z gives the same candidates in any
    batch. `generate_kwargs` go to `TextVAE.generate` (its logits processors)."""
    tok = model.need_tokenizer()
    B = z.shape[0]
    temps = torch.cat([torch.zeros(B), torch.full((B * (k - 1),), float(temperature))])
    seeds = [0] * B + [candidate_seed(seed, j) for _ in range(B) for j in range(1, k)]
    ids = model.generate(torch.cat([z, z.repeat_interleave(k - 1, dim=0)]), max_length, temperature=temps,
                         seeds=seeds, **generate_kwargs)
    both = [tok.decode(r, skip_special_tokens=True).strip() for r in ids]
    greedy, sampled = both[:B], both[B:]
    texts = [[greedy[b]] + sampled[b * (k - 1) : (b + 1) * (k - 1)] for b in range(B)]
    enc = model.tokenize([t if t.strip() else "." for row in texts for t in row])
    post = model.encode(**enc)
    agrees = model.classify(post.mu).argmax(-1).view(B, k) == model.classify(z).argmax(-1)[:, None]
    return Candidates(z, texts, enc["input_ids"], enc["attention_mask"], post.mu, post.logvar, agrees)


def candidate_seed(seed: int, j: int) -> int:
    """The seed of the j-th sampled candidate of every latent decoded with `seed`."""
    return (int(seed) << 16) + j


class CandidateScorer:
    """Scores candidates (B, K), higher better. `description` says the rule in words (the model card quotes it)."""
    description = ""

    def __call__(self, model, cands: Candidates) -> torch.Tensor:
        raise NotImplementedError


class EncoderDensity(CandidateScorer):
    """log q(z | candidate): the text the encoder itself maps back closest to z."""
    description = "the one the encoder maps back closest to z (the highest posterior density log q(z | text))"

    def __call__(self, model, cands: Candidates) -> torch.Tensor:
        from .losses import gaussian_log_density

        return gaussian_log_density(cands.z_per_candidate, cands.mu, cands.logvar).view(*cands.shape)


class PosteriorCosine(CandidateScorer):
    """The cosine of the candidate's posterior mean and z: the text the encoder maps back in z's direction, whatever
    its certainty. The density also weighs each dimension by the candidate's own posterior variance, which rewards
    texts the encoder is sure of over texts that say what z says."""
    description = "the one the encoder maps back in the direction of z (the highest cosine of its posterior mean and z)"

    def __call__(self, model, cands: Candidates) -> torch.Tensor:
        return torch.nn.functional.cosine_similarity(cands.z_per_candidate, cands.mu, dim=1).view(*cands.shape)


class DecoderLikelihood(CandidateScorer):
    """The decoder's own log-likelihood of the candidate given z, summed over its tokens or per token."""

    def __init__(self, per_token: bool = False):
        self.per_token = per_token
        self.description = f"the one the decoder finds likeliest given z{' per token' if per_token else ''}"

    def __call__(self, model, cands: Candidates) -> torch.Tensor:
        dec_in, tgt = model.decoder_io(cands.input_ids, cands.attention_mask)
        logits = model.decode_logits(cands.z_per_candidate, dec_in).float()
        lp = -torch.nn.functional.cross_entropy(logits.transpose(1, 2), tgt, ignore_index=-100, reduction="none").sum(1)
        if self.per_token:
            lp = lp / (tgt != -100).sum(1).clamp(min=1)
        return lp.view(*cands.shape)


class BagOfWordsCoverage(CandidateScorer):
    """The share of the words z's bag-of-words head expects that the candidate writes: the head's probabilities at
    z summed over the candidate's distinct words (special tokens aside). The head is trained with every stage to
    predict a document's words from z alone, so a candidate that writes z's names and facts scores high."""
    description = "the one that writes most of the words the bag-of-words head expects at z"

    def __call__(self, model, cands: Candidates) -> torch.Tensor:
        dec = model.decoder
        B, K = cands.shape
        p = torch.softmax(dec.bow_logits(cands.z, model.word_embeddings).float(), -1)  # (B, V)
        special = dec.vocab_map[torch.as_tensor(sorted(set(model.special_ids.values())), device=p.device)]
        p[:, special[special >= 0]] = 0.0
        idx = dec.vocab_map[cands.input_ids]  # (B * K, S), -1 outside the decoder's vocabulary
        keep = (idx >= 0) & cands.attention_mask.bool()
        written = torch.zeros(B * K, p.shape[1], device=p.device)
        written.scatter_add_(1, idx.clamp(min=0), keep.float())
        return ((written > 0).float() * p.repeat_interleave(K, dim=0)).sum(-1).view(B, K)  # once per word


# The cosine: on every held-out document the independent reader found the source first more often than with the
# density (SST-2 sentences 0.672 -> 0.706, AG News dev 0.771 -> 0.791, DBpedia 0.507 -> 0.516), and the mean
# cosine rose on all three (benchmarks/RESULTS.md, issue 29).
DEFAULT_SCORER = PosteriorCosine()


def choose(scores: torch.Tensor, agrees: torch.Tensor) -> torch.Tensor:
    """(B,) the index of the best candidate of each latent among those the classifier reads as the class at z (all
    of them when none does): with a content latent most of z is the content part, and a score of z alone would
    keep a text of another class too often."""
    return scores.masked_fill(~agrees & agrees.any(-1, keepdim=True), float("-inf")).argmax(-1)


def decode_candidates(model, z: torch.Tensor, k: int, temperature: float, seed: int = 0,
                      max_length: int | None = None, scorer: CandidateScorer | None = None) -> list[str]:
    """For each latent, the candidate `choose` keeps by `scorer` (DEFAULT_SCORER): the tokenizer's text."""
    cands = generate_candidates(model, z, k, temperature, seed, max_length)
    best = choose((scorer or DEFAULT_SCORER)(model, cands), cands.agrees).tolist()
    return [cands.texts[b][i] for b, i in enumerate(best)]
