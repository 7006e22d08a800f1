"""Texts in and out of a TextVAE: tokenising, batches of similar length, and the one pass over a corpus
(`forward_corpus`) that every figure of a corpus reads."""
from __future__ import annotations

from typing import Iterator, Sequence

import torch

from .outputs import CorpusPass, Posterior


class CorpusMixin:
    """Tokenising and batching for TextVAE (the model's `tokenizer`, attached by from_pretrained or the trainer)."""

    def need_tokenizer(self):
        """The model's tokenizer, or an error that says how to get one."""
        if self.tokenizer is None:
            raise RuntimeError("This model has no tokenizer attached; load it with TextVAE.from_pretrained(folder).")
        return self.tokenizer

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        tok = self.need_tokenizer()
        enc = tok(list(texts), padding=True, truncation=True, max_length=self.config.max_length, return_tensors="pt")
        return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}

    def count_too_long(self, texts: Sequence[str]) -> int:
        """How many texts are longer than the encoder reads (they are cut to max_length tokens)."""
        tok = self.need_tokenizer()
        n = self.config.max_length
        ids = tok(list(texts), truncation=True, max_length=n + 1)["input_ids"]
        return sum(len(row) > n for row in ids)

    def batches(self, texts: Sequence[str] | None = None, ids: Sequence[Sequence[int]] | None = None,
                batch_size: int = 64, device=None) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
        """A corpus (texts, or token ids of the encoder's tokenizer) in batches of similar length, the longest
        first (less padding), padded by the tokenizer: (rows of the corpus, input_ids, attention_mask)."""
        from transformers import DataCollatorWithPadding

        from .data import batches_by_length

        if ids is None and not len(texts):
            return  # an empty corpus: no batch (the tokenizer refuses an empty list)
        if ids is None:
            tok = self.need_tokenizer()
            ids = tok(list(texts), truncation=True, max_length=self.config.max_length)["input_ids"]
        pad = DataCollatorWithPadding(self.need_tokenizer(), return_tensors="pt")
        for rows in batches_by_length([len(x) for x in ids], batch_size):
            b = pad([{"input_ids": list(ids[i])} for i in rows])
            yield rows, b["input_ids"].to(device or "cpu"), b["attention_mask"].to(device or "cpu")

    def encode_corpus(self, texts: Sequence[str], batch_size: int = 64) -> Posterior:
        """The posterior (N, L each) of every text, in the texts' order (`forward_corpus`'s, without
        reconstruction)."""
        return self.forward_corpus(texts, batch_size, progress=False, reconstruction=False).posterior

    @torch.no_grad()
    def forward_corpus(self, texts: Sequence[str], batch_size: int = 64, progress: bool = True,
                       reconstruction: bool | int | Sequence[int] = True) -> CorpusPass:
        """The one pass over a corpus with z = mu (`batches`): logits (and so probabilities), posterior and
        reconstruction NLL per document (for every document, or for the first N when `reconstruction` is a number; 0 elsewhere), in
        the texts' order."""
        from tqdm.auto import tqdm

        from .losses import reconstruction_nll

        self.eval()
        N, L = len(texts), self.config.latent_size
        logits = torch.zeros(N, self.config.num_labels)
        mu, logvar = torch.zeros(N, L), torch.zeros(N, L)
        nll, ntok = torch.zeros(N), torch.zeros(N)
        if isinstance(reconstruction, bool):
            wanted = (lambda i: reconstruction)
        elif isinstance(reconstruction, int):
            wanted = (lambda i: i < reconstruction)
        else:
            listed = set(int(i) for i in reconstruction)
            wanted = listed.__contains__
        device = next(self.parameters()).device  # the model's: CPU, or the GPU accelerate gave this process
        for idx, input_ids, mask in tqdm(self.batches(texts, batch_size=batch_size, device=device),
                                         total=-(-N // batch_size), desc="encoding", unit="batch", disable=not progress):
            post = self.encode(input_ids, mask)
            logits[idx] = self.classify(post.mu).float().cpu()
            mu[idx], logvar[idx] = post.mu.float().cpu(), post.logvar.float().cpu()
            rec = [r for r, i in enumerate(idx) if wanted(i)]
            if rec:
                dec_in, tgt = self.decoder_io(input_ids[rec], mask[rec])
                n, t = reconstruction_nll(self.decode_logits(post.mu[rec], dec_in), tgt)
                nll[[idx[r] for r in rec]], ntok[[idx[r] for r in rec]] = n.float().cpu(), t.float().cpu()
        return CorpusPass(logits, mu, logvar, nll, ntok, temperature=float(self.config.temperature))

    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Class probabilities (N, C) from the posterior mean."""
        return self.class_probs(self.encode_corpus(texts, batch_size).mu)
