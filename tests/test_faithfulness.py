"""Faithfulness of word attributions: the erasure test (ERASER) on a classifier with a known answer, and on a tiny
model through the Explorer, with every attribution method."""
from __future__ import annotations

import numpy as np
import pytest

from vae_core.interpret.faithfulness import RANDOM, erased_texts, erasure_tests, ranking, words_at

WORDS = "the goal keeper saved a late penalty in the cup final tonight".split()
KEY = {"goal", "keeper", "penalty", "cup"}  # what the fake classifier reads


def fake_probabilities(texts: list[str]) -> np.ndarray:
    """p(sport) = 0.1 + 0.2 per key word present (at most 0.9); two classes."""
    p = np.array([min(0.9, 0.1 + 0.2 * len(KEY & set(t.split()))) for t in texts])
    return np.stack([1 - p, p], -1)


def test_words_at_never_takes_none_nor_all():
    assert [words_at(f, 12) for f in (0.1, 0.2, 0.3, 0.5)] == [2, 3, 4, 6]
    assert words_at(0.1, 3) == 1 and words_at(0.5, 2) == 1 and words_at(0.5, 1) == 1


def test_ranking_and_erased_texts():
    assert ranking([0.1, 0.5, -0.2, 0.5]) == [1, 3, 0, 2]
    removed, kept, counts = erased_texts(["a", "b", "c", "d"], [2, 0, 1, 3], (0.25, 0.5))
    assert counts == [1, 2]
    assert removed == ["a b d", "b d"] and kept == ["c", "a c"]


def test_the_right_words_are_comprehensive_and_sufficient_random_ones_are_not():
    prob = float(fake_probabilities([" ".join(WORDS)])[0, 1])
    good = [WORDS.index(w) for w in ("goal", "keeper", "penalty", "cup")] + [i for i, w in enumerate(WORDS) if w not in KEY]
    bad = [i for i, w in enumerate(WORDS) if w not in KEY] + [WORDS.index(w) for w in ("goal", "keeper", "penalty", "cup")]
    res = erasure_tests(WORDS, {"good": good, "bad": bad}, 1, prob, fake_probabilities, seed=0)
    assert list(res) == ["good", "bad", RANDOM]
    g, b, r = res["good"], res["bad"], res[RANDOM]
    # 10/20/30/50% of 12 words = 2/3/4/6 words: the good ranking removes 2, 3, 4, 4 key words
    assert g.words_erased == [2, 3, 4, 6] and g.words == 12
    assert g.removed_prob == pytest.approx([0.5, 0.3, 0.1, 0.1])
    assert g.kept_prob == pytest.approx([0.5, 0.7, 0.9, 0.9])
    assert g.comprehensiveness == pytest.approx(np.mean([0.4, 0.6, 0.8, 0.8]))
    assert b.comprehensiveness == pytest.approx(0.0) and b.sufficiency == pytest.approx(0.8)
    assert b.comprehensiveness < r.comprehensiveness < g.comprehensiveness
    assert g.sufficiency < r.sufficiency < b.sufficiency


def test_the_random_yardstick_is_seeded():
    a = erasure_tests(WORDS, {}, 1, 0.9, fake_probabilities, seed=3)[RANDOM]
    b = erasure_tests(WORDS, {}, 1, 0.9, fake_probabilities, seed=3)[RANDOM]
    assert a == b


def test_every_method_explains_and_is_tested_on_a_tiny_model(tiny_model):
    from vae_core.inference import Explorer
    from vae_core.interpret.attribution import METHODS

    ex = Explorer(tiny_model)
    text = "market shares rise as the bank reports profit"
    attrs = [ex.attribute(text, 1, m) for m in METHODS]
    again = [ex.attribute(text, 1, m) for m in METHODS]
    for a, b in zip(attrs, again):
        assert a.words == b.words and a.scores == pytest.approx(b.scores), a.method  # seeded samplers
        assert len(a.scores) == len(a.words) == 8
    res = ex.faithfulness(text, attrs)
    assert list(res) == [*METHODS, RANDOM]
    for e in res.values():
        assert e.prob == pytest.approx(attrs[0].target_prob)
        assert len(e.removed_prob) == len(e.kept_prob) == 4
    assert res == ex.faithfulness(text, attrs)


def test_faithfulness_refuses_attributions_of_different_classes(tiny_model):
    from vae_core.inference import Explorer

    ex = Explorer(tiny_model)
    with pytest.raises(ValueError, match="same class"):
        ex.faithfulness("goal", [ex.attribute("goal", 0, "occlusion"), ex.attribute("goal", 1, "occlusion")])


def test_integrated_gradients_doubles_its_steps_until_converged(tiny_model, monkeypatch):
    from vae_core.interpret import attribution

    a = attribution.attribute(tiny_model, "chip makers and software", 2, n_steps=4)
    assert a.steps >= 4 and (a.converged or a.steps * 2 > attribution.IG_MAX_STEPS)
    monkeypatch.setattr(attribution, "IG_TOLERANCE", 0.0)  # never converged: it stops at the cap, and says so
    monkeypatch.setattr(attribution, "IG_MAX_STEPS", 16)
    b = attribution.attribute(tiny_model, "chip makers and software", 2, n_steps=4)
    assert b.steps == 16 and b.converged is False
