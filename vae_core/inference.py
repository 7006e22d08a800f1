"""One loaded model for an app or a service: thread-safe predictions, uncertainty, attributions,
decoding and walks through latent space. Inputs and outputs are plain Python and NumPy, so that a
caller never touches torch modules."""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .modeling import TextVAE

from .outputs import Posterior

MAX_CHARS = 20_000  # characters read from a typed text; the encoder reads at most max_length tokens of them
INTERPOLATION_MODES = ("linear", "spherical")
UNCERTAINTY_SAMPLES = 64  # draws from one text's posterior on the Classify page
IG_STEPS = 32  # Integrated Gradients' steps along the path from the PAD baseline
# One short text is too little work to share between threads: with two, every operation waits for both, and
# a browser or another process holding a core makes the encoder several times slower (benchmarks/RESULTS.md,
# latency). Classifying one text uses one thread.
SINGLE_TEXT_THREADS = 1


@dataclass
class Prediction:
    text: str
    labels: list[str]
    probs: list[float]  # one per label, from the posterior mean
    label: str
    confidence: float
    mu: list[float]
    logvar: list[float]
    reconstruction: str | None
    truncated: bool  # the text was longer than the encoder reads
    tokens_read: int
    tokens_total: int


@dataclass
class Uncertainty:
    """Class probabilities over K samples z ~ q(z|x)."""

    mean: list[float]  # (C,)
    std: list[float]  # (C,)
    flip_share: float  # share of samples whose predicted class differs from the one at mu
    samples: int

    # a posterior is settled when no sample leaves the class and p(class) hardly moves; near a boundary when
    # more than this share of the samples predicts another class
    SETTLED_SPREAD, BOUNDARY_SHARE = 0.05, 0.1

    def verdict(self, k: int) -> str:
        """How settled the prediction of class `k` is, in words."""
        if self.flip_share == 0 and self.std[k] < self.SETTLED_SPREAD:
            return "settled: the whole posterior sits in one class"
        if self.flip_share > self.BOUNDARY_SHARE:
            return "near a class boundary: part of the posterior crosses it"
        return "mostly settled"


@dataclass
class LatentPath:
    """Points of latent space with what the model makes of them."""

    z: np.ndarray  # (N, L)
    texts: list[str]  # decoded from each z
    probs: np.ndarray  # (N, C)
    labels: list[str]  # predicted class of each z

    def __len__(self) -> int:
        return len(self.texts)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between a and b (L,) at fractions t (N,) -> (N, L); linear when they are parallel."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    cos = float(np.dot(a, b) / max(na * nb, 1e-12))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    t = t[:, None]
    if omega < 1e-4:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


class Explorer:
    """Wraps a TextVAE for concurrent use: torch modules, captum hooks and the fast tokenizer are only
    touched under one lock, so sessions of an app can share a single loaded model."""

    def __init__(self, model: TextVAE, name: str = "model", folder: str | Path | None = None):
        self.model, self.name = model, name
        self.folder = Path(folder) if folder is not None else None
        self.lock = threading.Lock()
        self.threads = torch.get_num_threads()  # torch's intra-op threads for batch work (decoding, attributions)

    @contextlib.contextmanager
    def turn(self, threads: int | None = None):
        """The model to oneself: the lock, and torch's intra-op threads for this call. torch keeps that
        number per thread, and a thread takes the last one set anywhere when it first computes, so every
        turn sets its own; a turn on fewer threads sets the number back when it ends, because other
        libraries in the same thread (numba, under UMAP) read it too."""
        want = threads or self.threads
        with self.lock:
            torch.set_num_threads(want)
            try:
                yield
            finally:
                if want != self.threads:
                    torch.set_num_threads(self.threads)

    @classmethod
    def load(cls, folder: str | Path) -> "Explorer":
        from .catalog import display_name

        return cls(TextVAE.from_pretrained(folder), display_name(folder), folder)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @property
    def examples(self) -> dict[str, list[str]]:
        """Example texts of each class from the model's own training data (`catalog.read_examples`); {} for
        a model saved without them."""
        from .catalog import read_examples

        return read_examples(self.folder, self.labels) if self.folder is not None else {}

    @property
    def cache_key(self) -> str:
        """Names this model's weights for caches: its folder, the weights' modification time and the calibration
        temperature the loaded model applies."""
        if self.folder is None:
            return f"{self.name}:{id(self.model)}"
        weights = self.folder / "model.safetensors"
        return (f"{self.folder.resolve()}:{weights.stat().st_mtime_ns if weights.exists() else 0}"
                f":T{self.model.config.temperature:g}")

    @property
    def latent_size(self) -> int:
        return self.model.config.latent_size

    # ---- text -> latent ----
    def classify(self, text: str, reconstruct: bool = True) -> Prediction:
        text = text or ""
        if not text.strip():
            raise ValueError("The text is empty: type or paste a document to classify.")
        model = self.model
        clipped = text[:MAX_CHARS]
        with self.turn(SINGLE_TEXT_THREADS), torch.no_grad():
            n_tokens = len(model.tokenizer(clipped, truncation=False)["input_ids"])
            post = model.encode(**model.tokenize([clipped]))
            probs = model.class_probs(post.mu)[0]
        rec = self.decode(post.mu.numpy())[0] if reconstruct else None
        k = int(probs.argmax())
        return Prediction(text=text, labels=self.labels, probs=[float(p) for p in probs], label=self.labels[k],
                          confidence=float(probs[k]), mu=post.mu[0].tolist(), logvar=post.logvar[0].tolist(),
                          reconstruction=rec, truncated=len(text) > MAX_CHARS or n_tokens > model.config.max_length,
                          tokens_read=min(n_tokens, model.config.max_length), tokens_total=n_tokens)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior (mu, logvar), each (N, L), of several texts."""
        with self.turn():
            post = self.model.encode_corpus([t[:MAX_CHARS] for t in texts])
        return post.mu.numpy(), post.logvar.numpy()

    def uncertainty(self, mu: Sequence[float], logvar: Sequence[float], samples: int = UNCERTAINTY_SAMPLES,
                    seed: int = 0) -> Uncertainty:
        """Class probabilities over `samples` draws from the posterior (seeded: the same every time)."""
        post = Posterior(torch.tensor(np.asarray(mu, dtype=np.float32))[None],
                         torch.tensor(np.asarray(logvar, dtype=np.float32))[None])  # (1, L) each
        with self.turn(SINGLE_TEXT_THREADS):
            s = post.sampled_predictions(self.model, samples, seed)
        p = s.probs[:, 0]  # (K, C)
        return Uncertainty(mean=p.mean(0).tolist(), std=p.std(0).tolist(), flip_share=float(s.flip_rate[0]),
                           samples=samples)

    def attribute(self, text: str, target: int, method: str = "integrated_gradients", n_steps: int = IG_STEPS):
        from .interpret.attribution import attribute

        if not (0 <= target < len(self.labels)):
            raise ValueError(f"target class {target} is not one of the model's {len(self.labels)} classes.")
        with self.turn():
            return attribute(self.model, text[:MAX_CHARS], target, method, n_steps)

    def faithfulness(self, text: str, attributions: Sequence, seed: int = 0) -> dict:
        """The erasure test (`interpret.faithfulness`) of each attribution of `text` (all for one class), and of
        seeded random words: method name -> Erasure, "random" last."""
        from .interpret.faithfulness import erasure_tests, ranking

        if not attributions:
            raise ValueError("faithfulness needs at least one attribution of the text.")
        first = attributions[0]
        if any(a.target != first.target or a.words != first.words for a in attributions):
            raise ValueError("the attributions to test must explain the same class of the same text.")

        def probabilities(texts: list[str]) -> np.ndarray:
            with self.turn(), torch.no_grad():
                return self.model.class_probs(self.model.encode_corpus(texts).mu).numpy()

        return erasure_tests(first.words, {a.method: ranking(a.scores) for a in attributions}, first.target,
                             first.target_prob, probabilities, seed=seed)

    # ---- latent -> text and classes ----
    def probs(self, z: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C) of latents (N, L)."""
        z_t = torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float32)))
        with self.turn(), torch.no_grad():
            return self.model.class_probs(z_t).numpy()

    def decode(self, z: np.ndarray, candidates: int | None = None, max_length: int | None = None) -> list[str]:
        """Written text for latents (N, L): of the greedy text and seeded samples (`candidates` in all, at most
        `max_length` tokens; the model's defaults when None), the one `TextVAE.decode_text` keeps (it reads as
        the class at z and the encoder maps it back in z's direction); the same z gives the same text in any
        batch (its samples are seeded per row)."""
        z_t = torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float32)))
        with self.turn():
            return self.model.decode_text(z_t, max_length, **({} if candidates is None else {"candidates": candidates}))

    def top_words(self, z: np.ndarray, k: int = 8) -> list[list[tuple[str, float]]]:
        """The words the bag-of-words head expects in a document at each latent, with probabilities."""
        model = self.model
        z_t = torch.as_tensor(np.atleast_2d(np.asarray(z, dtype=np.float32)))
        with self.turn(), torch.no_grad():
            p = torch.softmax(model.decoder.bow_logits(z_t, model.word_embeddings), -1)  # (N, V)
            # scored against the corpus-wide word frequencies (the head's bias), so that "the" does not win
            prior = torch.softmax(model.decoder.bow_bias, -1)
            lift = p / prior.clamp(min=1e-9)
            ids = model.decoder.vocab_ids
            tok = model.tokenizer
            special = set(tok.all_special_ids)
            out = []
            for row, lrow in zip(p, lift):
                order = torch.argsort(lrow * row.sqrt(), descending=True).tolist()
                words = []
                for j in order:
                    tid = int(ids[j])
                    piece = tok.convert_ids_to_tokens(tid)
                    if tid in special or piece.startswith("##") or not any(c.isalnum() for c in piece):
                        continue
                    words.append((piece, float(row[j])))
                    if len(words) == k:
                        break
                out.append(words)
            return out

    def path(self, z: np.ndarray) -> LatentPath:
        """Decode and classify each latent of a path (N, L)."""
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        probs = self.probs(z)
        return LatentPath(z=z, texts=self.decode(z), probs=probs, labels=[self.labels[i] for i in probs.argmax(-1)])

    def interpolate(self, z_a: Sequence[float], z_b: Sequence[float], steps: int = 10, mode: str = "linear") -> LatentPath:
        """`steps` points from z_a to z_b (both ends included), linear or spherical."""
        if mode not in INTERPOLATION_MODES:
            raise ValueError(f"unknown interpolation '{mode}'; choose one of {', '.join(INTERPOLATION_MODES)}.")
        if not 2 <= steps <= 50:
            raise ValueError(f"steps must be between 2 and 50, got {steps}.")
        a, b = np.asarray(z_a, dtype=np.float32), np.asarray(z_b, dtype=np.float32)
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)
        z = slerp(a, b, t) if mode == "spherical" else (1 - t[:, None]) * a + t[:, None] * b
        return self.path(z)

    def arithmetic(self, a: str, b: str, c: str, scales: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)) -> LatentPath:
        """Latent arithmetic (Optimus): z(A) + s * (z(C) - z(B)) for each scale s, decoded and classified; at
        s = 1 it is z(A) - z(B) + z(C), e.g. a sports story - "sports" + "business". z is each text's
        posterior mean."""
        texts = [a or "", b or "", c or ""]
        empty = [name for name, t in zip("ABC", texts) if not t.strip()]
        if empty:
            raise ValueError(f"Text {' and '.join(empty)} is empty: latent arithmetic needs all three texts.")
        mu, _ = self.encode(texts)
        s = np.asarray(scales, dtype=np.float32)[:, None]
        return self.path(mu[0][None] + s * (mu[2] - mu[1])[None])

    # ---- debugging a decision ----
    def classifier_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(W (C, L), b (C,)) of the linear classifier on z; W is zero on the content part of z, which the
        classifier does not read (VAEConfig.content_latent_size)."""
        head = self.model.classifier
        W = np.zeros((head.out_features, self.latent_size), dtype=np.float32)
        W[:, : head.in_features] = head.weight.detach().numpy()
        return W, head.bias.detach().numpy().copy()

    def count_too_long(self, texts: Sequence[str]) -> int:
        """How many texts are longer than the encoder reads (only their beginning is encoded)."""
        with self.turn():
            return self.model.count_too_long([t[:MAX_CHARS] for t in texts])

    def reclassify(self, texts: Sequence[str]) -> np.ndarray:
        """Predicted class index of each text (empty texts count as '.')."""
        mu, _ = self.encode([t if t.strip() else "." for t in texts])
        return self.probs(mu).argmax(-1)

    def counterfactual(self, mu: Sequence[float], target: int, budget: float = 8.0, confidence: float | None = None):
        """The smallest move of z after which the classifier gives class `target` at least `confidence`
        (0.9 by default), and the smallest whose decoded text is classified as `target` too."""
        from .interpret.counterfactual import DEFAULT_CONFIDENCE, latent_counterfactual

        if not (0 <= target < len(self.labels)):
            raise ValueError(f"target class {target} is not one of the model's {len(self.labels)} classes.")
        W, b = self.classifier_weights()

        def decode_and_classify(z: np.ndarray):
            texts = self.decode(z)
            return texts, self.reclassify(texts)

        return latent_counterfactual(W, b, np.asarray(mu, dtype=np.float32), target, decode_and_classify, budget,
                                     DEFAULT_CONFIDENCE if confidence is None else confidence)

    def class_direction(self, source: int, target: int, centroids: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Unit vector (L,) from class `source` towards `target`: the difference of their centroids when
        given, else of the classifier's weight rows (the gradient of logit_target - logit_source)."""
        if centroids is not None:
            d = centroids[self.labels[target]] - centroids[self.labels[source]]
        else:
            W, _ = self.classifier_weights()
            d = W[target] - W[source]
        n = float(np.linalg.norm(d))
        if n == 0:
            raise ValueError("the two classes have the same direction; pick two different classes.")
        return (d / n).astype(np.float32)

    def walk(self, z0: Sequence[float], direction: np.ndarray, distances: Sequence[float]) -> LatentPath:
        """z0 + s * direction for each distance s, decoded and classified."""
        z0 = np.asarray(z0, dtype=np.float32)
        return self.path(z0[None] + np.asarray(distances, dtype=np.float32)[:, None] * direction[None])

    def sample_prior(self, n: int = 8, seed: int = 0) -> LatentPath:
        """n latents drawn from the prior N(0, I) (seeded), decoded and classified."""
        rng = np.random.default_rng(seed)
        return self.path(rng.standard_normal((n, self.latent_size)).astype(np.float32))
