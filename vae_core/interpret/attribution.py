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
}


@dataclass
class Attribution:
    method: str
    target: int  # class index the scores explain
    words: list[str]  # words of the text as read by the model (after truncation)
    spans: list[tuple[int, int]]  # character span of each word in the original text
    scores: list[float]  # one per word: positive pushes towards `target`
    target_prob: float  # probability of `target` for the whole text
    baseline_prob: float  # probability of `target` with every word replaced by PAD
    delta: float | None  # IG convergence delta (sum of scores - (f(x) - f(baseline))); None for occlusion
    truncated: bool


def _probability(model: TextVAE):
    def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        post = model.encode(input_ids, attention_mask)
        return torch.softmax(model.classify(post.mu), dim=-1)  # (B, C)

    return forward


def attribute(model: TextVAE, text: str, target: int, method: str = "integrated_gradients",
              n_steps: int = 32) -> Attribution:
    """Attributions of class `target`'s probability (from the posterior mean) to the words of `text`."""
    from captum.attr import FeatureAblation, LayerIntegratedGradients

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
    pad = model._special["pad"]
    baseline = torch.where(special[None], input_ids, torch.full_like(input_ids, pad))  # (1, S)

    forward = _probability(model)
    model.eval()
    with torch.no_grad():
        p = forward(torch.cat([input_ids, baseline]), torch.cat([mask, mask]))  # (2, C)
    target_prob, baseline_prob = float(p[0, target]), float(p[1, target])

    # word index of every token; special tokens get none
    n_words = max((w for w in word_ids if w is not None), default=-1) + 1
    if method == "integrated_gradients":
        lig = LayerIntegratedGradients(forward, model.encoder.get_input_embeddings())
        attr, delta = lig.attribute(input_ids, baselines=baseline, target=target, additional_forward_args=(mask,),
                                    n_steps=n_steps, internal_batch_size=n_steps, return_convergence_delta=True)
        per_token = attr.sum(-1)[0]  # (S,)
        delta_value = float(delta[0])
        per_word = torch.zeros(n_words)
        for t, w in enumerate(word_ids):
            if w is not None:
                per_word[w] += per_token[t]
    else:
        # one feature per word: all of its pieces are replaced by PAD together
        feature = torch.tensor([[w + 1 if w is not None else 0 for w in word_ids]])
        ablate = FeatureAblation(lambda ids, m: forward(ids, m))
        attr = ablate.attribute(input_ids, baselines=pad, target=target, additional_forward_args=(mask,),
                                feature_mask=feature, perturbations_per_eval=16)[0]  # (S,)
        per_word = torch.zeros(n_words)
        for t, w in enumerate(word_ids):
            if w is not None:
                per_word[w] = attr[t]  # every piece of a word carries the word's score
        delta_value = None

    spans: list[list[int]] = [[10**9, -1] for _ in range(n_words)]
    for (s, e), w in zip(offsets, word_ids):
        if w is not None:
            spans[w][0], spans[w][1] = min(spans[w][0], s), max(spans[w][1], e)
    return Attribution(
        method=method, target=target, words=[text[s:e] for s, e in spans], spans=[(s, e) for s, e in spans],
        scores=[float(v) for v in per_word], target_prob=target_prob, baseline_prob=baseline_prob,
        delta=delta_value, truncated=full_len > model.config.max_length,
    )
