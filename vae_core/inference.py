"""One loaded model for an app or a service: thread-safe predictions, decoding and text checks."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from .modeling import TextVAE

MAX_CHARS = 20_000


@dataclass
class Prediction:
    text: str
    labels: list[str]
    probs: list[float]  # one per label
    label: str
    confidence: float
    mu: list[float]
    reconstruction: str | None
    truncated: bool  # the text was longer than the encoder reads
    tokens_read: int


class Explorer:
    """Wraps a TextVAE for concurrent use: torch modules and the fast tokenizer are used under a lock."""

    def __init__(self, model: TextVAE, name: str = "model"):
        self.model, self.name = model, name
        self.lock = threading.Lock()

    @classmethod
    def load(cls, folder: str | Path) -> "Explorer":
        return cls(TextVAE.from_pretrained(folder), Path(folder).name)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    def classify(self, text: str, reconstruct: bool = True) -> Prediction:
        text = text or ""
        if not text.strip():
            raise ValueError("The text is empty: type or paste a document to classify.")
        model = self.model
        with self.lock, torch.no_grad():
            n_tokens = len(model.tokenizer(text[:MAX_CHARS], truncation=False)["input_ids"])
            post = model.encode(**model.tokenize([text[:MAX_CHARS]]))
            probs = torch.softmax(model.classify(post.mu), -1)[0]
            rec = model.decode_text(post.mu)[0] if reconstruct else None
        k = int(probs.argmax())
        return Prediction(text=text, labels=self.labels, probs=[float(p) for p in probs], label=self.labels[k],
                          confidence=float(probs[k]), mu=[float(v) for v in post.mu[0]], reconstruction=rec,
                          truncated=len(text) > MAX_CHARS or n_tokens > model.config.max_length,
                          tokens_read=min(n_tokens, model.config.max_length))
