"""Why a corpus' decoded text is recognised less often: what limits the independent reader on it (issue 29).

For a model and a corpus folder (train.csv, holdout.csv), on the first --rows held-out documents graded against
all held-out documents, as `evaluate` grades:

- a perfect decoder's ceiling: the source's own first tokens, cut to the decoder's length, with the tokens
  outside the decoder's vocabulary (the 8,192 most frequent training tokens) left as [UNK]; and with the whole
  WordPiece vocabulary, or 64 tokens: how much the vocabulary and the decoder's length cost at best;
- what z holds for a reader: ridge regression from mu (all latent dimensions) to the reader's embedding, fitted on
  the training documents (no decoder at all);
- the model's decoded text: top-1, top-10, cosine overall and per class, and how many of the source's names
  (capitalised words past a sentence's first) and numbers it writes.

    python benchmarks/decoder_diagnosis.py --model runs/dbpedia13/model --data benchmarks/data/dbpedia13 --tag dbpedia13

Prints a table and adds a row to benchmarks/decoder_diagnosis.json.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "benchmarks" / "decoder_diagnosis.json"
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]{2,})\b")
NUMBER = re.compile(r"\b\d[\d.,]*\b")


def names_and_numbers(text: str) -> tuple[set[str], set[str]]:
    return set(NAME.findall(text)), set(NUMBER.findall(text))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="folder with train.csv and holdout.csv")
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import numpy as np
    import torch
    from sklearn.linear_model import Ridge

    from vae_core.config import portable_path
    from vae_core.data import build_decoder_vocab, read_corpus, tokenize_texts
    from vae_core.evaluate import IndependentReader, reader_fidelity
    from vae_core.modeling import TextVAE

    torch.set_num_threads(a.threads)
    t0 = time.time()
    train, hold = read_corpus(Path(a.data) / "train.csv"), read_corpus(Path(a.data) / "holdout.csv")
    model = TextVAE.from_pretrained(a.model).eval()
    tok, reader = model.tokenizer, IndependentReader()
    src = reader.embed(hold.texts)
    n = min(a.rows, len(hold.texts))
    row: dict = {"tag": a.tag, "model": portable_path(a.model), "data": portable_path(a.data), "rows": n,
                 "candidates": len(hold.texts)}

    def grade(texts) -> dict:
        f = reader_fidelity(reader.embed(texts), src)
        return {"top1": round(f["reader_top1"], 3), "top10": round(f["reader_top10"], 3), "cosine": round(f["reader_cosine"], 3)}

    # a perfect decoder, limited by the vocabulary and the length
    train_ids = tokenize_texts(tok, train.texts, model.config.max_length)
    hold_ids = tokenize_texts(tok, hold.texts[:n], model.config.max_length)
    ceilings = {}
    for size, length in ((8192, model.config.decoder_max_length), (tok.vocab_size, model.config.decoder_max_length),
                         (8192, 64)):
        vocab = set(build_decoder_vocab(train_ids, size, [tok.unk_token_id]))
        texts = [tok.decode([t if t in vocab else tok.unk_token_id for t in ids[1:length]], skip_special_tokens=False)
                 .replace("[SEP]", "").strip() for ids in hold_ids]
        oov = np.mean([t not in vocab for ids in hold_ids for t in ids[1:length]])
        ceilings[f"vocab {size}, {length - 1} tokens"] = {**grade(texts), "oov_tokens": round(float(oov), 4)}
    row["perfect_decoder"] = ceilings

    # what z holds: a linear read-out of the reader's embedding from mu
    with torch.no_grad():
        mu_train = model.encode_corpus(train.texts).mu.float().numpy()
        mu_hold = model.encode_corpus(hold.texts[:n]).mu.float().numpy()
    ridge = Ridge(alpha=1.0).fit(mu_train, reader.embed(train.texts))
    pred = ridge.predict(mu_hold)
    pred /= np.linalg.norm(pred, axis=1, keepdims=True)
    f = reader_fidelity(pred.astype(np.float32), src)
    row["ridge_from_mu"] = {"top1": round(f["reader_top1"], 3), "top10": round(f["reader_top10"], 3)}

    # the model's decoded text
    with torch.no_grad():
        decoded = model.decode_text(torch.from_numpy(mu_hold))
    f = reader_fidelity(reader.embed(decoded), src)
    rank = np.array(f["reader_rank"])
    labels = np.array(hold.labels[:n])
    row["decoded"] = {"top1": round(f["reader_top1"], 3), "top10": round(f["reader_top10"], 3),
                      "cosine": round(f["reader_cosine"], 3),
                      "per_class_top1": {c: round(float((rank[labels == c] == 0).mean()), 3) for c in sorted(set(labels))}}
    got_names = got_numbers = all_names = all_numbers = 0
    for s, d in zip(hold.texts[:n], decoded):
        # the source's words the decoder could have written: as many as its 47 target tokens hold (the tokenizer
        # is lower-case, so the words are the source's own)
        target = tok(s, truncation=True, max_length=model.config.decoder_max_length)["input_ids"][1:-1]
        names, numbers = names_and_numbers(" ".join(s.split()[: len(tok.decode(target).split())]))
        dn = {w.lower() for w in re.findall(r"\w+", d)}
        got_names += sum(w.lower() in dn for w in names)
        got_numbers += sum(w in d for w in numbers)
        all_names, all_numbers = all_names + len(names), all_numbers + len(numbers)
    row["decoded"]["names_written"] = round(got_names / max(all_names, 1), 3)
    row["decoded"]["numbers_written"] = round(got_numbers / max(all_numbers, 1), 3)
    row["examples"] = [{"text": hold.texts[i][:200], "decoded": decoded[i][:200], "rank": int(rank[i])} for i in range(4)]
    row["seconds"] = round(time.time() - t0, 1)
    rows = [r for r in (json.loads(OUT.read_text()) if OUT.exists() else []) if r["tag"] != a.tag] + [row]
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps({k: v for k, v in row.items() if k != "examples"}, indent=1))


if __name__ == "__main__":
    main()
