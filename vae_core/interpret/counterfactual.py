"""Latent counterfactuals: the smallest move of z that makes the classifier pick a chosen class.

The classifier on z is linear (logits = W z + b), so "class t wins by a logit margin m" is a set of
linear constraints (w_t - w_j) . (z0 + d) + (b_t - b_j) >= m for every other class j, and the smallest
move is the minimum-norm d that meets them: a small quadratic programme, solved exactly (SLSQP).

The flip point asks for a *confident* flip, as counterfactual explainers do (a target probability): a margin
m over each of the C - 1 other classes guarantees p(target | z) >= 1 / (1 + (C - 1) e^-m), so the confidence
q is met with m = log(q (C - 1) / (1 - q)). On the exact boundary (a margin of 0) the classifier is split,
and a text decoded there reads as either class about as often, at p >= 0.9 mostly as the target
(benchmarks/counterfactual_figures.py; figures in benchmarks/RESULTS.md). A line search over larger margins then finds
the smallest move whose *decoded text*, encoded again, is classified as the target too (a counterfactual you
can read), within a distance budget.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

MARGINS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0)
DEFAULT_CONFIDENCE = 0.9  # p(target | z) asked of the flip point


def margin_for(confidence: float, num_classes: int) -> float:
    """The logit margin over every other class that guarantees p(target) >= `confidence`."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence}.")
    return math.log(confidence * max(1, num_classes - 1) / (1.0 - confidence))


@dataclass
class Counterfactual:
    target: int
    start: np.ndarray  # (L,) the document's latent
    flip: np.ndarray | None  # (L,) the smallest move after which p(target | z) >= confidence
    point: np.ndarray | None  # (L,) the smallest move whose decoded text is classified as `target` (None if none)
    flip_distance: float | None
    boundary_distance: float  # of the smallest move onto the decision boundary (the classifier split)
    confidence: float
    distance: float | None  # of `point`
    decoded: str | None  # text decoded at `point` (or at the last point tried)
    decoded_label: int | None  # class of that text after encoding it again
    budget: float
    tried: list[dict]  # every margin tried: margin, distance, decoded, decoded_label

    @property
    def found(self) -> bool:
        return self.point is not None

    @property
    def flipped(self) -> bool:
        return self.flip is not None


def min_norm_move(W: np.ndarray, b: np.ndarray, z0: np.ndarray, target: int, margin: float) -> np.ndarray:
    """The smallest d (L,) with logit_target(z0 + d) >= logit_j(z0 + d) + margin for every j != target."""
    from scipy.optimize import minimize

    others = [j for j in range(W.shape[0]) if j != target]
    A = W[target][None, :] - W[others]  # (C-1, L)
    c = margin - (A @ z0 + (b[target] - b[others]))  # need A d >= c
    if (c <= 0).all():
        return np.zeros_like(z0)
    # start from the projection onto the most violated constraint
    k = int(np.argmax(c / np.linalg.norm(A, axis=1)))
    d0 = A[k] * c[k] / float(A[k] @ A[k])
    res = minimize(lambda d: 0.5 * float(d @ d), d0, jac=lambda d: d, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda d: A @ d - c, "jac": lambda d: A}],
                   options={"maxiter": 200, "ftol": 1e-10})
    d = res.x if res.success else d0
    if (A @ d - c < -1e-6).any():  # fall back to meeting the constraints one after another
        d = d0.copy()
        for _ in range(100):
            viol = c - A @ d
            k = int(np.argmax(viol))
            if viol[k] <= 1e-9:
                break
            d = d + A[k] * viol[k] / float(A[k] @ A[k])
    return d.astype(z0.dtype)


def latent_counterfactual(W: np.ndarray, b: np.ndarray, z0: np.ndarray, target: int,
                          decode_and_classify: Callable[[np.ndarray], tuple[list[str], np.ndarray]] | None = None,
                          budget: float = 8.0, confidence: float = DEFAULT_CONFIDENCE,
                          margins=MARGINS) -> Counterfactual:
    """Counterfactual of latent `z0` (L,) towards class `target` for a linear classifier (W (C, L), b (C,)):
    the flip point (p(target) >= `confidence`), then the line search over the larger `margins`.
    `decode_and_classify` maps latents (N, L) to (decoded texts, class index of each text re-encoded);
    without it only the latent flip is computed."""
    z0 = np.asarray(z0, dtype=np.float32)
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    first = margin_for(confidence, W.shape[0])
    margins = [first] + [m for m in margins if m > first]
    z64 = z0.astype(np.float64)
    moves = [min_norm_move(W, b, z64, target, m) for m in margins]
    dists = [float(np.linalg.norm(d)) for d in moves]
    within = [i for i, dist in enumerate(dists) if dist <= budget]
    flip = (z0 + moves[0]).astype(np.float32) if dists[0] <= budget else None
    cf = Counterfactual(target=target, start=z0, flip=flip, point=None,
                        flip_distance=dists[0] if flip is not None else None,
                        boundary_distance=float(np.linalg.norm(min_norm_move(W, b, z64, target, 0.0))),
                        confidence=confidence, distance=None, decoded=None, decoded_label=None, budget=budget,
                        tried=[])
    if decode_and_classify is None or not within:
        return cf
    points = np.stack([(z0 + moves[i]).astype(np.float32) for i in within])
    texts, classes = decode_and_classify(points)
    for i, text, k in zip(within, texts, classes):
        cf.tried.append({"margin": margins[i], "distance": dists[i], "decoded": text, "decoded_label": int(k)})
        if cf.point is None and int(k) == target:
            cf.point, cf.distance, cf.decoded, cf.decoded_label = points[within.index(i)], dists[i], text, int(k)
    if cf.point is None:
        cf.decoded, cf.decoded_label = cf.tried[-1]["decoded"], cf.tried[-1]["decoded_label"]
    return cf
