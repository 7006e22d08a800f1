"""Can I trust this explanation? Erasure tests of word attributions (ERASER, DeYoung et al. 2020).

For each fraction f of the words the model read (10, 20, 30 and 50%), the text is classified again twice: with the
f most important words removed, and with only them kept. Comprehensiveness is how much the explained class's
probability falls when they are removed; sufficiency how much it falls when only they are kept. Each is averaged
over the fractions (AOPC). A faithful explanation has high comprehensiveness and low sufficiency; words chosen at
random (seeded, averaged over a few draws) are the yardstick.

Words are the tokenizer's words (as in `attribution.Attribution`); a text with words removed is the remaining
words joined by spaces, which the WordPiece tokenizer splits exactly as it split the original.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

FRACTIONS = (0.1, 0.2, 0.3, 0.5)
RANDOM_DRAWS = 3  # random rankings averaged for the random-word yardstick
RANDOM = "random"


@dataclass
class Erasure:
    """One ranking's erasure test for one text and class."""

    method: str
    fractions: list[float]
    words: int  # words of the text the model read
    words_erased: list[int]  # words removed (or kept) at each fraction
    prob: float  # p(class) of the whole text
    removed_prob: list[float]  # p(class) with the top words removed, at each fraction
    kept_prob: list[float]  # p(class) with only the top words kept
    comprehensiveness: float  # AOPC: mean of prob - removed_prob (higher: the words matter)
    sufficiency: float  # mean of prob - kept_prob (lower: the words are enough)

    def to_dict(self) -> dict:
        return asdict(self)


def words_at(fraction: float, n_words: int) -> int:
    """How many of `n_words` words a fraction covers: at least one, never all of them when there are two or more."""
    if n_words <= 1:
        return n_words
    return min(n_words - 1, max(1, math.ceil(fraction * n_words - 1e-9)))


def ranking(scores: Sequence[float]) -> list[int]:
    """Word indices, most important first (highest score: the strongest evidence for the class); ties in text order."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def erased_texts(words: Sequence[str], order: Sequence[int], fractions: Sequence[float] = FRACTIONS) -> tuple[list[str], list[str], list[int]]:
    """For each fraction, the text without its top words and the text of only them (in text order)."""
    removed, kept, counts = [], [], []
    for f in fractions:
        k = words_at(f, len(words))
        top = set(order[:k])
        removed.append(" ".join(w for i, w in enumerate(words) if i not in top))
        kept.append(" ".join(w for i, w in enumerate(words) if i in top))
        counts.append(k)
    return removed, kept, counts


def erasure_tests(words: Sequence[str], rankings: dict[str, Sequence[int]], target: int, prob: float,
                  probabilities: Callable[[list[str]], np.ndarray], fractions: Sequence[float] = FRACTIONS,
                  random_draws: int = RANDOM_DRAWS, seed: int = 0) -> dict[str, Erasure]:
    """The erasure test of each ranking of `words` (name -> word indices, most important first) and of random
    rankings (seeded; averaged over `random_draws`), for class `target` whose probability on the whole text is
    `prob`. `probabilities(texts)` classifies a batch of texts -> (N, C); all texts go in one call."""
    rng = np.random.default_rng(seed)
    orders = dict(rankings)
    randoms = [f"{RANDOM}:{d}" for d in range(random_draws)]
    for name in randoms:
        orders[name] = rng.permutation(len(words)).tolist()
    batch, spans = [], {}
    for name, order in orders.items():
        removed, kept, counts = erased_texts(words, order, fractions)
        spans[name] = (len(batch), counts)
        batch += removed + kept
    p = np.asarray(probabilities(batch), dtype=np.float64)[:, target] if batch else np.zeros(0)
    n = len(fractions)

    def test(name: str, rows: list[int]) -> Erasure:
        removed = np.mean([p[s : s + n] for s in rows], axis=0)
        kept = np.mean([p[s + n : s + 2 * n] for s in rows], axis=0)
        return Erasure(method=name, fractions=list(fractions), words=len(words), words_erased=spans[name if name in spans else randoms[0]][1],
                       prob=float(prob), removed_prob=removed.tolist(), kept_prob=kept.tolist(),
                       comprehensiveness=float(np.mean(prob - removed)), sufficiency=float(np.mean(prob - kept)))

    out = {name: test(name, [spans[name][0]]) for name in rankings}
    if random_draws:
        out[RANDOM] = test(RANDOM, [spans[r][0] for r in randoms])
    return out
