"""Decoding text from a latent, in transformers' manner: a generation mixin for TextVAE (`generate` for token ids,
`decode_text` for text) and the logits processors every step goes through (transformers' own for repeats, and
`BagOfWordsGuidance`, this model's pull towards the words z says the document holds).

Sampling is seeded per row: a row's draws come from its own seed (`generate(seeds=...)`), never from a generator
shared by the batch, so a latent decodes to the same text alone, among 8 or among 64."""
from __future__ import annotations

from typing import Sequence

import torch
from transformers import (LogitsProcessor, LogitsProcessorList, NoRepeatNGramLogitsProcessor,
                          RepetitionPenaltyLogitsProcessor, SuppressTokensLogitsProcessor)

DECODE_CANDIDATES = 8  # texts tried per latent in decode_text (see there)
DECODE_TEMPERATURE = 0.3  # of decode_text's sampled candidates
SAMPLE_TOP_K = 64  # tokens a sampled decoding step chooses from (see generate)


def decoding_processors(no_repeat_ngram_size: int = 3, repetition_penalty: float = 1.2) -> LogitsProcessorList:
    """transformers' logits processors for decoding (input ids and scores in the decoder's vocabulary):
    no repeated n-grams (0 = off) and a repetition penalty (1.0 = off)."""
    procs = LogitsProcessorList()
    if repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if no_repeat_ngram_size:
        procs.append(NoRepeatNGramLogitsProcessor(no_repeat_ngram_size))
    return procs


class BagOfWordsGuidance(LogitsProcessor):
    """Adds `weight` times the bag-of-words head's log-probabilities at z (B, V) to every step's scores: the words z
    says the document holds (names and facts the decoder alone rarely writes). A word already written is covered:
    its bias falls to the row's lowest, so that it is not written again and again. `TextVAE.guidance_bias` is the
    same bias for teacher-forced training."""

    def __init__(self, log_probs: torch.Tensor, weight: float):
        self.bias = weight * log_probs.float()  # (B, V)
        self.floor = self.bias.min(-1, keepdim=True).values  # (B, 1)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1]:
            self.bias.scatter_(1, input_ids[:, -1:], self.floor)  # the word written last step is covered
        return scores.float() + self.bias


class RowSampler:
    """Top-k sampling where every row draws from its own seed: the Gumbel-max trick over the top `k` tokens with
    noise drawn once per distinct seed, (T, k) uniforms, so that a row's text does not depend on the rows beside
    it. Rows at temperature 0 take the argmax."""

    def __init__(self, temperature: torch.Tensor, seeds: Sequence[int], steps: int, k: int = SAMPLE_TOP_K):
        self.temps = temperature.clamp(min=1e-6)  # (B,)
        self.sampled = temperature > 0  # (B,)
        self.k = k
        seeds = [int(s) for s in seeds]
        distinct = {s: i for i, s in enumerate(sorted(set(seeds)))}
        noise = torch.stack([torch.rand(steps, k, generator=torch.Generator().manual_seed(s)) for s in distinct])
        row = torch.tensor([distinct[s] for s in seeds])
        u = noise[row].clamp(1e-10, 1 - 1e-7).to(temperature.device)  # (B, T, k)
        self.gumbel = -torch.log(-torch.log(u))

    def __call__(self, step: int, scores: torch.Tensor) -> torch.Tensor:
        """The next token of each row (B,) from its scores (B, V)."""
        top, idx = scores.float().topk(min(self.k, scores.shape[-1]), dim=-1)  # (B, k)
        drawn = (top / self.temps[:, None] + self.gumbel[:, step, : top.shape[1]]).argmax(-1, keepdim=True)
        return torch.where(self.sampled, idx.gather(1, drawn)[:, 0], idx[:, 0])


def row_seeds(seed: int | Sequence[int], rows: int) -> list[int]:
    return [int(seed)] * rows if isinstance(seed, int) else [int(s) for s in seed]


class GenerationMixin:
    """Decoding for TextVAE: token ids (`generate`) and text (`decode_text`)."""

    def _processors(self, z: torch.Tensor, allow_unk: bool) -> tuple[LogitsProcessorList, int]:
        """The processors of every step (guidance, the [UNK] ban) and the decoder's index of [SEP]."""
        dec = self.decoder
        eos_idx = int(dec.vocab_map[self.special_ids["eos"]])
        unk_idx = int(dec.vocab_map[self.special_ids["unk"]])
        every = LogitsProcessorList()
        if self.config.decoder_bow_guidance:
            every.append(BagOfWordsGuidance(torch.log_softmax(dec.bow_logits(z, self.word_embeddings).float(), -1),
                                            self.config.decoder_bow_guidance))
        if not allow_unk and unk_idx != eos_idx:
            every.append(SuppressTokensLogitsProcessor([unk_idx], device=z.device))
        return every, eos_idx

    @torch.no_grad()
    def generate(self, z: torch.Tensor, max_length: int | None = None, allow_unk: bool = False,
                 no_repeat_ngram_size: int = 3, repetition_penalty: float = 1.2,
                 temperature: float | torch.Tensor = 0.0, seeds: int | Sequence[int] = 0) -> list[list[int]]:
        """Decoding from z (B, L) -> encoder token ids of each text (without [CLS]/[SEP]): greedy, or sampled at
        `temperature` > 0; a tensor (B,) of temperatures mixes both in one batch (0 = greedy for that row). A sampled
        row draws from its own seed (`seeds`: one for every row, or one per row), so the same z and seed give the
        same text in any batch.

        Every step goes through the logits processors: with config.decoder_bow_guidance > 0 `BagOfWordsGuidance`,
        [UNK] suppressed (unless `allow_unk`), then transformers' as its `generate` applies them: an n-gram never
        repeats (`no_repeat_ngram_size`, 0 = off) and the logits of tokens already produced are divided (positive)
        or multiplied (negative) by `repetition_penalty` (1.0 = off). Sampling draws from the top SAMPLE_TOP_K tokens
        at each row's own temperature (transformers' warpers take one temperature per batch)."""
        was_training = self.training
        self.eval()
        try:
            B, dec = z.shape[0], self.decoder
            T = min(max_length or self.config.decoder_max_length, self.config.decoder_max_length)
            cond = self.decoder_condition(z)
            memory = dec.memory_kv(cond, self.prototype_memory(z))
            caches = [dict() for _ in dec.blocks]
            out_emb = dec.output_embeddings(self.word_embeddings)  # (V, H), gathered once
            temps = torch.as_tensor(temperature, dtype=torch.float32, device=z.device).expand(B)  # (B,)
            # Top-k sampling: drawing over the whole vocabulary costs more than the decoder's step on CPU, and at
            # the temperatures used here the tokens past the top SAMPLE_TOP_K hold a negligible share.
            sampler = RowSampler(temps, row_seeds(seeds, B), T) if bool((temps > 0).any()) else None
            every, eos_idx = self._processors(z, allow_unk)
            repeats = decoding_processors(no_repeat_ngram_size, repetition_penalty)
            tok = torch.full((B, 1), self.special_ids["bos"], dtype=torch.long, device=z.device)
            out = torch.zeros((B, 0), dtype=torch.long, device=z.device)  # decoder-vocabulary indices
            done = torch.zeros(B, dtype=torch.bool, device=z.device)
            for t in range(T):
                h = dec.hidden_states(tok, cond, self.word_embeddings, start=t, memory=memory, caches=caches)
                logits = every(out, dec.logits(h[:, -1], self.word_embeddings, out_emb))  # (B, V)
                if t:
                    logits = repeats(out, logits)
                nxt = sampler(t, logits) if sampler is not None else logits.argmax(-1)  # (B,)
                nxt = torch.where(done, torch.full_like(nxt, eos_idx), nxt)
                out = torch.cat([out, nxt[:, None]], dim=1)
                done |= nxt == eos_idx
                if bool(done.all()):
                    break
                tok = dec.vocab_ids[nxt][:, None]  # (B, 1)
            ids = dec.vocab_ids[out].tolist()
            eos = self.special_ids["eos"]
            return [row[: row.index(eos)] if eos in row else row for row in ids]
        finally:
            self.train(was_training)

    @torch.no_grad()
    def decode_text(self, z: torch.Tensor, max_length: int | None = None, candidates: int = DECODE_CANDIDATES,
                    temperature: float = DECODE_TEMPERATURE, seed: int = 0, readable: bool = True,
                    scorer=None) -> list[str]:
        """Text for each latent z (B, L). With `candidates` > 1 the greedy text and candidates - 1 samples
        (seeded per row: the same z always gives the same text, in any batch) are encoded again, and of those the
        classifier reads as the class at z (all, if none does) the best by `scorer` is kept (`decoding`; by default
        the one whose posterior mean points the way z does: the text the encoder itself would map back towards z).
        With 1, greedy decoding. `readable` texts are written as the training corpus writes (see
        `readable.Readable`); otherwise they are the tokenizer's lower-case, space-separated tokens."""
        raw = self.decode_tokens(z, max_length, candidates, temperature, seed, scorer)
        return [self.readable(t) for t in raw] if readable else raw

    def decode_tokens(self, z: torch.Tensor, max_length: int | None = None, candidates: int = DECODE_CANDIDATES,
                      temperature: float = DECODE_TEMPERATURE, seed: int = 0, scorer=None) -> list[str]:
        """`decode_text`'s texts as the tokenizer writes them (lower case, tokens separated by spaces)."""
        if candidates <= 1 or z.shape[0] == 0:
            tok = self.need_tokenizer()
            return [tok.decode(ids, skip_special_tokens=True).strip() for ids in self.generate(z, max_length)]
        from .decoding import decode_candidates

        return decode_candidates(self, z, candidates, temperature, seed, max_length, scorer)
