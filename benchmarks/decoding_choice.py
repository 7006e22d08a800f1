"""How decoded text is chosen among candidates, graded by the independent reader. For the first N documents
of a file, the greedy text and K - 1 samples at temperature T are decoded from each mu (`decoding.generate_candidates`,
as `TextVAE.decode_text` does); each candidate is scored by (`decoding`'s scorers)
  - the encoder's density log q(z | candidate) (what `decode_text` kept until 2026-12-07),
  - the decoder's own log-likelihood of the candidate given z, summed or per token,
  - the sum of both,
  - the share of the words the bag-of-words head expects at z that the candidate writes, alone and added to the
    density (each standardised over the K candidates),
  - parts of the density: over the content dimensions or the classified ones alone, its distance term without the
    log-variance, and the cosine of the candidate's posterior mean and z (what `decode_text` keeps now),
  - minimum Bayes risk among the K: the candidate closest to the others (by posterior mean, or by shared words),
and among the candidates the classifier reads as the class at z (all, when none does) each rule keeps its
best. Greedy alone is a row too, and so is a *ceiling* that no product may use: the candidate the independent
reader itself finds closest to the source (what any rule could reach with these candidates).
Every choice is graded as `evaluate` grades: the reader (base all-MiniLM-L6-v2) finding the source among all
documents of the file, the mean cosine of decoded text and source, and BLEU-4 against the decoder's target.

    python benchmarks/decoding_choice.py --tag shipped-K8
    python benchmarks/decoding_choice.py --tag K16 --candidates 16
    python benchmarks/decoding_choice.py --tag no-penalties --repetition-penalty 1.0 --no-repeat-ngram 0
    python benchmarks/decoding_choice.py --tag dbpedia13-bow05 --bow-guidance 0.5 --model runs/dbpedia13/model \
        --data benchmarks/data/dbpedia13/holdout.csv
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def standardised(scores):
    """(N, K) scores centred and scaled over each document's K candidates (log-densities run in the hundreds,
    the coverage below one), so that a weight means the same for both."""
    s = scores.float()
    return (s - s.mean(-1, keepdim=True)) / s.std(-1, keepdim=True).clamp(min=1e-6)


def latent_scores(c, content: int) -> dict:
    """Parts of the encoder density log q(z | candidate) = -1/2 sum ((z - mu) / sigma)^2 - sum log sigma + const,
    per candidate (N, K): over the content dimensions (the last `content`) or the classified ones alone, and the
    distance term alone; and minimum Bayes risk among each latent's K candidates."""
    import torch

    z, mu, logvar = c.z_per_candidate, c.mu, c.logvar
    per_dim = -0.5 * ((z - mu) ** 2 / logvar.exp() + logvar)
    split = z.shape[1] - content
    out = {"density_content": per_dim[:, split:].sum(1), "density_class": per_dim[:, :split].sum(1),
           "distance": (-0.5 * (z - mu) ** 2 / logvar.exp()).sum(1)}
    B, K = c.shape
    m = torch.nn.functional.normalize(mu.view(B, K, -1), dim=-1)
    sim = m @ m.transpose(1, 2)  # (B, K, K)
    out["mbr_latent"] = ((sim.sum(-1) - 1) / max(K - 1, 1)).view(-1)
    out["mbr_words"] = torch.tensor([mbr_words(row) for row in c.texts]).view(-1)
    return {k: v.view(*c.shape) for k, v in out.items()}


def mbr_words(texts: list[str]) -> list[float]:
    """Minimum Bayes risk with a word-overlap utility: each candidate's mean unigram F1 against the others."""
    from collections import Counter

    bags = [Counter(t.lower().split()) for t in texts]

    def f1(a, b):
        common = sum((a & b).values())
        return 0.0 if not common else 2 * common / (sum(a.values()) + sum(b.values()))

    return [sum(f1(a, b) for j, b in enumerate(bags) if j != i) / max(len(bags) - 1, 1) for i, a in enumerate(bags)]


def main() -> None:
    import numpy as np
    import sacrebleu
    import torch

    from vae_core.config import portable_path
    from vae_core.data import read_corpus
    from vae_core.evaluate import IndependentReader, reader_fidelity
    from vae_core.decoding import (BagOfWordsCoverage, DecoderLikelihood, EncoderDensity, PosteriorCosine, choose,
                                   generate_candidates)
    from vae_core.generation import DECODE_CANDIDATES, DECODE_TEMPERATURE
    from vae_core.modeling import TextVAE

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "assets" / "models" / "ag_news_vae"))
    p.add_argument("--data", default=str(REPO / "assets" / "data" / "ag_news" / "dev.csv"))
    p.add_argument("--rows", type=int, default=400, help="documents decoded (the first N of the file)")
    p.add_argument("--candidates", type=int, default=DECODE_CANDIDATES)
    p.add_argument("--temperature", type=float, default=DECODE_TEMPERATURE)
    p.add_argument("--repetition-penalty", type=float, default=1.2, help="as TextVAE.generate (1.0 = off)")
    p.add_argument("--no-repeat-ngram", type=int, default=3, help="as TextVAE.generate (0 = off)")
    p.add_argument("--bow-guidance", type=float, help="TextVAE's decoder_bow_guidance for this run (default: the model's)")
    p.add_argument("--tag", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "decoding_choice.json"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    model = TextVAE.from_pretrained(a.model).eval()
    if a.bow_guidance is not None:
        model.config.decoder_bow_guidance = a.bow_guidance
    tok = model.tokenizer
    texts = read_corpus(a.data, "text", "label").texts
    N, K = min(a.rows, len(texts)), a.candidates
    scorers = {"density": EncoderDensity(), "dec_sum": DecoderLikelihood(), "dec_mean": DecoderLikelihood(per_token=True),
               "bow": BagOfWordsCoverage(), "cosine": PosteriorCosine()}
    t0 = time.time()
    cands, parts = [], []
    with torch.no_grad():
        mu = model.encode_corpus(texts[:N]).mu
        for s in range(0, N, 50):
            # as decode_text: seed 0, greedy rows first; the penalties as given
            c = generate_candidates(model, mu[s : s + 50], K, a.temperature, seed=0,
                                    repetition_penalty=a.repetition_penalty, no_repeat_ngram_size=a.no_repeat_ngram)
            parts.append({"agrees": c.agrees, **{name: scorer(model, c) for name, scorer in scorers.items()},
                          **latent_scores(c, model.config.content_latent_size)})
            cands += c.texts
            print(f"decoded {s + len(c.texts)}/{N} ({time.time() - t0:.0f} s)", flush=True)
    seconds = time.time() - t0
    sc = {k: torch.cat([q[k] for q in parts]) for k in parts[0]}

    reader = IndependentReader()
    src = reader.embed(texts)
    emb = reader.embed([c for row in cands for c in row]).reshape(N, K, -1)
    refs = []
    for t in texts[:N]:
        i = tok(t, truncation=True, max_length=model.config.max_length)["input_ids"]
        refs.append(tok.decode(i[1 : model.config.decoder_max_length], skip_special_tokens=True).strip())

    def keep(score):
        return choose(score, sc["agrees"])

    rules = {"encoder density (shipped until 2026-12-07)": keep(sc["density"]), "decoder log-likelihood": keep(sc["dec_sum"]),
             "decoder log-likelihood per token": keep(sc["dec_mean"]),
             "encoder density + decoder log-likelihood": keep(sc["density"] + sc["dec_sum"]),
             "bag-of-words coverage": keep(sc["bow"]),
             **{f"encoder density + {w:g} x bag-of-words coverage (standardised)":
                keep(standardised(sc["density"]) + w * standardised(sc["bow"])) for w in (0.5, 1, 2)},
             "encoder density, the content dimensions alone": keep(sc["density_content"]),
             "encoder density, the classified dimensions alone": keep(sc["density_class"]),
             "encoder density without its log-variance term (the standardised distance alone)": keep(sc["distance"]),
             "cosine of the candidate's posterior mean and z (shipped)": keep(sc["cosine"]),
             "minimum Bayes risk: the candidate whose posterior mean is closest to the others'": keep(sc["mbr_latent"]),
             "minimum Bayes risk: the candidate whose words the others share most (unigram F1)": keep(sc["mbr_words"]),
             "encoder density + minimum Bayes risk by words (standardised)":
                 keep(standardised(sc["density"]) + standardised(sc["mbr_words"])),
             "greedy only": torch.zeros(N, dtype=torch.long),
             "ceiling: the candidate the reader prefers (not usable)": torch.from_numpy((emb * src[:N, None]).sum(-1).argmax(-1))}
    res = {"tag": a.tag, "model": portable_path(a.model), "data": portable_path(a.data), "rows": N, "candidates": K,
           "bow_guidance": model.config.decoder_bow_guidance,
           "temperature": a.temperature, "repetition_penalty": a.repetition_penalty,
           "no_repeat_ngram": a.no_repeat_ngram, "decoding_seconds": round(seconds, 1), "rules": {}}
    for name, pick in rules.items():
        f = reader_fidelity(emb[np.arange(N), pick.numpy()], src)
        hyp = [cands[i][k] for i, k in enumerate(pick.tolist())]
        res["rules"][name] = {"reader_top1": round(f["reader_top1"], 4), "reader_top10": round(f["reader_top10"], 4),
                              "reader_cosine": round(f["reader_cosine"], 4),
                              "bleu4": round(sacrebleu.corpus_bleu(hyp, [refs], lowercase=True).score / 100, 4),
                              "label_consistent": round(float(sc["agrees"][torch.arange(N), pick].float().mean()), 4)}
        print(f"{name:<56} " + "  ".join(f"{k} {v}" for k, v in res["rules"][name].items()), flush=True)
    out = Path(a.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    rows = [r for r in rows if r.get("tag") != a.tag] + [res]
    out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
