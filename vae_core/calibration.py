"""Is "96% sure" true? Expected calibration error, the reliability diagram's bins, and temperature scaling.

ECE (Naeini et al. 2015; Guo et al. 2017): the documents are put in equal-width bins by the confidence of their
predicted class; ECE is the average, weighted by bin size, of |accuracy - mean confidence| in each bin. A model
whose "90%" predictions are right 90% of the time has ECE 0.

Temperature scaling (Guo et al. 2017) divides the logits by one number T fitted to minimise the negative
log-likelihood of held-out labels: it moves every confidence and never the predicted class. `fit_and_check`
decides whether a model gets it: T is fitted on one half of the dev documents and scored on the other, both
ways round, and kept only when that held-out ECE and negative log-likelihood are both no worse than the model's own
(ECE lower).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

BINS = 15  # equal-width confidence bins, as in Guo et al. (2017)


@dataclass
class Reliability:
    """The reliability diagram: for each confidence bin with documents, its range, size, mean confidence and
    accuracy; and the figures that sum it up."""

    edges: list[float]  # bins + 1 edges from 0 to 1
    count: list[int]  # documents per bin
    confidence: list[float | None]  # mean confidence of the predicted class per bin (None: empty bin)
    accuracy: list[float | None]  # share predicted right per bin
    ece: float
    mce: float  # the largest gap of a non-empty bin
    mean_confidence: float
    accuracy_overall: float
    nll: float  # mean negative log-likelihood of the true class
    brier: float  # mean squared error of the probability vector against the one-hot label
    documents: int

    def to_dict(self) -> dict:
        return asdict(self)


def reliability(probs: np.ndarray, y: Sequence[int], bins: int = BINS) -> Reliability:
    """The reliability figures of class probabilities `probs` (N, C) against true classes `y` (N,)."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if p.ndim != 2 or len(p) != len(y) or len(y) == 0:
        raise ValueError(f"reliability needs probabilities (N, C) and N labels, got {p.shape} and {len(y)}.")
    conf, pred = p.max(1), p.argmax(1)
    right = (pred == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin b holds edges[b] < conf <= edges[b + 1]; a confidence of exactly 0 (impossible for a softmax) goes first
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    conf_sum = np.bincount(which, weights=conf, minlength=bins)
    right_sum = np.bincount(which, weights=right, minlength=bins)
    nonempty = count > 0
    mean_conf = np.where(nonempty, conf_sum / np.maximum(count, 1), np.nan)
    acc = np.where(nonempty, right_sum / np.maximum(count, 1), np.nan)
    gap = np.abs(acc - mean_conf)
    onehot = np.eye(p.shape[1])[y]
    return Reliability(
        edges=edges.tolist(), count=count.astype(int).tolist(),
        confidence=[None if np.isnan(v) else float(v) for v in mean_conf],
        accuracy=[None if np.isnan(v) else float(v) for v in acc],
        ece=float(np.sum(count[nonempty] * gap[nonempty]) / len(y)),
        mce=float(gap[nonempty].max()), mean_confidence=float(conf.mean()), accuracy_overall=float(right.mean()),
        nll=float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0)).mean()),
        brier=float(((p - onehot) ** 2).sum(1).mean()), documents=int(len(y)),
    )


def scale(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) (N, C), computed stably."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: Sequence[int]) -> float:
    """The T in [0.05, 20] that minimises the mean negative log-likelihood of softmax(logits / T) on labels y
    (a one-dimensional convex problem in 1/T, solved by bounded Brent search on log T)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)

    def nll(log_t: float) -> float:
        s = z / np.exp(log_t)
        s = s - s.max(1, keepdims=True)
        return float(-(s[np.arange(len(y)), y] - np.log(np.exp(s).sum(1))).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def fit_and_check(logits: np.ndarray, y: Sequence[int], seed: int = 0, bins: int = BINS) -> dict:
    """Whether temperature scaling helps this model, measured on documents it was not fitted on: the documents
    are split in two seeded halves, T is fitted on each and scored on the other, and the held-out ECE and NLL of
    the scaled probabilities are compared with the unscaled ones on the same documents. Returns the decision
    ("use"), the temperature fitted on all documents, and the figures behind it."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    before = reliability(scale(z, 1.0), y, bins)
    out = {"documents": int(n), "ece_before": before.ece, "nll_before": before.nll, "temperature": 1.0, "use": False}
    if n < 50:
        out["reason"] = f"{n} labelled dev documents are too few to fit a temperature (50 needed)"
        return out
    order = np.random.default_rng(seed).permutation(n)
    halves = (order[: n // 2], order[n // 2:])
    held_out = np.zeros_like(z)
    temps = []
    for fit_rows, score_rows in (halves, halves[::-1]):
        t = fit_temperature(z[fit_rows], y[fit_rows])
        temps.append(t)
        held_out[score_rows] = scale(z[score_rows], t)
    after = reliability(held_out, y, bins)
    t_all = fit_temperature(z, y)
    out.update({"ece_held_out": after.ece, "nll_held_out": after.nll, "half_temperatures": temps,
                "fitted_temperature": t_all})
    # kept when it helps on documents it was not fitted on by both measures: ECE alone, in 15 bins of a few hundred
    # documents, can fall by chance while the likelihood the temperature was fitted to gets worse (benchmarks/RESULTS.md)
    if after.ece < before.ece and after.nll <= before.nll:
        out.update(use=True, temperature=t_all,
                   reason=f"temperature {t_all:.3f} lowers ECE on held-out halves from {before.ece:.4f} to {after.ece:.4f}")
    else:
        out["reason"] = (f"temperature scaling would not lower both ECE ({before.ece:.4f} -> {after.ece:.4f}) and the "
                         f"negative log-likelihood ({before.nll:.4f} -> {after.nll:.4f}) on held-out halves: the "
                         "probabilities are kept as trained")
    return out


def calibrate_model(model, folder, logits, labels: Sequence[str | None], seed: int = 0) -> dict:
    """Decide, on the labelled documents among `labels`, whether `model` (loaded from the checkpoint `folder`) gets a
    temperature: `fit_and_check` on their `logits` at each posterior mean (N, C). The model's config takes the
    decision (its temperature, 1 when scaling does not help), written to the folder's config.json; the decision and
    its figures go to calibration.json either way. Returns them."""
    import json
    from pathlib import Path

    from .data import encode_labels
    from .files import atomic_write

    codes = np.asarray(encode_labels(labels, model.labels))
    known = codes >= 0
    if not known.any():
        raise ValueError("calibration needs labelled documents whose labels are the model's classes.")
    check = fit_and_check(np.asarray(logits, dtype=np.float64)[known], codes[known], seed=seed)
    check["previous_temperature"] = float(model.config.temperature)
    model.config.temperature = check["temperature"]
    folder = Path(folder)
    model.config.save(folder)
    atomic_write(folder / "calibration.json", json.dumps(check, indent=2) + "\n")
    return check


def calibrate_folder(folder, texts: Sequence[str], labels: Sequence[str | None], seed: int = 0,
                     batch_size: int = 64) -> dict:
    """`calibrate_model` for the checkpoint in `folder` on labelled dev documents, encoded now."""
    from .modeling import TextVAE

    model = TextVAE.from_pretrained(folder)
    logits = model.forward_corpus(texts, batch_size, progress=False, reconstruction=False).logits
    return calibrate_model(model, folder, logits.numpy(), labels, seed)


def calibration_line(check: dict) -> str:
    """What calibration decided, in one line for the console."""
    return f"calibration on {check['documents']:,} dev documents: {check.get('reason', '')}"
