"""Token attributions for one text with captum: Integrated Gradients on the embedding layer (PAD
baseline, with its convergence delta) and occlusion (each word replaced by PAD) for comparison.

Scores are per word of the original text (WordPiece pieces summed), with character spans, so that a
view can colour the text the user typed rather than the tokenizer's pieces.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..modeling import TextVAE

METHODS = {
    "integrated_gradients": "Integrated Gradients",
    "occlusion": "Occlusion (word removed)",
    "input_x_gradient": "Input x Gradient",
    "kernel_shap": "Kernel SHAP",
    "lime": "LIME",
}
IG_TOLERANCE = 0.01  # |convergence delta| in probability units below which IG's path integral counts as converged
IG_MAX_STEPS = 256  # IG doubles its steps from the asked number until converged or this many
SAMPLING_EVALUATIONS = 200  # perturbed texts Kernel SHAP and LIME classify, per text


@dataclass
class Attribution:
    method: str
    target: int  # class index the scores explain
    words: list[str]  # words of the text as read by the model (after truncation)
    spans: list[tuple[int, int]]  # character span of each word in the original text
    scores: list[float]  # one per word: positive pushes towards `target`
    target_prob: float  # probability of `target` for the whole text
    baseline_prob: float  # probability of `target` with every word replaced by PAD
    delta: float | None  # IG convergence delta (sum of scores - (f(x) - f(baseline))); None for other methods
    truncated: bool
    steps: int | None = None  # IG's steps along the path (doubled until |delta| < IG_TOLERANCE, at most IG_MAX_STEPS)

    @property
    def converged(self) -> bool | None:
        """For IG, whether the path integral converged (|delta| < IG_TOLERANCE); None for other methods."""
        return None if self.delta is None else abs(self.delta) < IG_TOLERANCE


def _probability(model: TextVAE):
    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        post = model.encode(input_ids, attention_mask)
        return model.class_probs(post.mu)  # (B, C)

    return forward


def _per_word(per_token: torch.Tensor, word_ids: list, n_words: int, pieces_share: bool) -> torch.Tensor:
    """Token scores (S,) as word scores (n_words,): summed over a word's pieces (gradient methods), or the score
    every piece of the word carries (perturbation methods, one feature per word)."""
    per_token = per_token.detach()
    per_word = torch.zeros(n_words)
    for t, w in enumerate(word_ids):
        if w is not None:
            if pieces_share:
                per_word[w] = per_token[t]
            else:
                per_word[w] += per_token[t]
    return per_word


def _word_scores(method, forward, embeddings, input_ids, mask, baseline, special, pad, feature, target, word_ids,
                 n_words, n_steps):
    """(scores per word, IG's delta or None, IG's steps or None) of one method."""
    from captum.attr import FeatureAblation, KernelShap, LayerGradientXActivation, LayerIntegratedGradients, Lime

    delta_value, steps = None, None
    if method == "integrated_gradients":
        lig = LayerIntegratedGradients(forward, embeddings)
        steps = n_steps
        while True:
            attr, delta = lig.attribute(input_ids, baselines=baseline, target=target, additional_forward_args=(mask,),
                                        n_steps=steps, internal_batch_size=min(steps, 64), return_convergence_delta=True)
            delta_value = float(delta[0])
            if abs(delta_value) < IG_TOLERANCE or steps * 2 > IG_MAX_STEPS:
                break
            steps *= 2
        per_word = _per_word(attr.sum(-1)[0], word_ids, n_words, pieces_share=False)
    elif method == "input_x_gradient":
        attr = LayerGradientXActivation(forward, embeddings).attribute(input_ids, target=target,
                                                                       additional_forward_args=(mask,))
        per_word = _per_word(attr.sum(-1)[0], word_ids, n_words, pieces_share=False)
    else:
        kw = dict(baselines=pad, target=target, additional_forward_args=(mask,), feature_mask=feature)
        if method == "occlusion":
            attr = FeatureAblation(forward).attribute(input_ids, perturbations_per_eval=16, **kw)[0]
        elif method == "kernel_shap":
            attr = KernelShap(forward).attribute(input_ids, n_samples=SAMPLING_EVALUATIONS, perturbations_per_eval=50,
                                                 **kw)[0]
        else:
            attr = Lime(forward).attribute(input_ids, n_samples=SAMPLING_EVALUATIONS, perturbations_per_eval=50, **kw)[0]
        per_word = _per_word(attr, word_ids, n_words, pieces_share=True)

    return per_word, delta_value, steps


def attribute(model: TextVAE, text: str, target: int, method: str = "integrated_gradients",
              n_steps: int = 32, seed: int = 0) -> Attribution:
    """Attributions of class `target`'s probability (from the posterior mean) to the words of `text`. IG starts
    at `n_steps` and doubles them until its convergence delta is under IG_TOLERANCE (or IG_MAX_STEPS); the
    sampling methods (Kernel SHAP, LIME) are seeded, so that a text always gets the same scores."""
    if method not in METHODS:
        raise ValueError(f"unknown attribution method '{method}'; choose one of {', '.join(METHODS)}.")
    tok = model.tokenizer
    enc = tok([text], truncation=True, max_length=model.config.max_length, return_offsets_mapping=True,
              return_tensors="pt")
    full_len = len(tok(text, truncation=False)["input_ids"])
    input_ids, mask = enc["input_ids"], enc["attention_mask"]
    offsets = enc["offset_mapping"][0].tolist()
    word_ids = enc.word_ids(0)
    special = torch.tensor([i is None for i in word_ids])  # [CLS], [SEP]
    pad = model.special_ids["pad"]
    baseline = torch.where(special[None], input_ids, torch.full_like(input_ids, pad))  # (1, S)

    forward = _probability(model)
    model.eval()
    with torch.no_grad():
        p = forward(torch.cat([input_ids, baseline]), torch.cat([mask, mask]))  # (2, C)
    target_prob, baseline_prob = float(p[0, target]), float(p[1, target])

    # word index of every token; special tokens get none
    n_words = max((w for w in word_ids if w is not None), default=-1) + 1
    # one feature per word for the perturbation methods: all of its pieces are replaced by PAD together
    feature = torch.tensor([[w + 1 if w is not None else 0 for w in word_ids]])
    embeddings = model.encoder.get_input_embeddings()
    with torch.random.fork_rng(devices=[]):  # the samplers' draws, seeded, the caller's untouched
        torch.manual_seed(seed)
        per_word, delta_value, steps = _word_scores(method, forward, embeddings, input_ids, mask, baseline, special, pad,
                                                    feature, target, word_ids, n_words, n_steps)

    spans: list[list[int]] = [[10**9, -1] for _ in range(n_words)]
    for (s, e), w in zip(offsets, word_ids):
        if w is not None:
            spans[w][0], spans[w][1] = min(spans[w][0], s), max(spans[w][1], e)
    return Attribution(
        method=method, target=target, words=[text[s:e] for s, e in spans], spans=[(s, e) for s, e in spans],
        scores=[float(v) for v in per_word], target_prob=target_prob, baseline_prob=baseline_prob,
        delta=delta_value, truncated=full_len > model.config.max_length, steps=steps,
    )
