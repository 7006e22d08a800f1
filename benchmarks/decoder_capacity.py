"""Is reconstruction BLEU-4 limited by the decoder or by what z holds? Scores a checkpoint's decoding
on the first N documents of a file (dev by default) as shipped, or after training a fresh decoder of
another shape on its frozen encoder, posterior and classifier, the way the decoder phase of `vae_core
train` does (z sampled from each training document's stored posterior; reconstruction + bag-of-words
loss; AdamW at 1e-3, 6% warm-up then linear decay, gradient clipping at 1, an exponential average of the
weights at 0.998). Prints one JSON row per run and adds it to the output file.

    python benchmarks/decoder_capacity.py --tag shipped
    python benchmarks/decoder_capacity.py --tag four-layers --decoder-layers 4 --decoder-epochs 4
    python benchmarks/decoder_capacity.py --tag free-bits-4 --model runs/ag_news_vae_fb4/model
    python benchmarks/decoder_capacity.py --tag shipped-train --data assets/data/ag_news/train.csv
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def retrain_decoder(base, layers: int, ffn: int, epochs: float, train_file: str, seed: int = 0):
    """A copy of `base` with a fresh decoder of `layers` blocks (`ffn` wide) trained for `epochs`."""
    import torch
    from tqdm.auto import tqdm

    from vae_core.data import LengthGroupedBatches, TokenizedDataset, collate, read_corpus, tokenize_texts
    from vae_core.losses import vae_loss
    from vae_core.modeling import Posterior, TextVAE
    from vae_core.train import two_phase_schedule

    torch.manual_seed(seed)
    cfg = dataclasses.replace(base.config, decoder_layers=layers, decoder_ffn=ffn)
    model = TextVAE(cfg)
    model.set_special_ids(base.tokenizer)
    model.tokenizer = base.tokenizer
    model.set_decoder_vocab(base.decoder.vocab_ids)
    model.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith("decoder.")}, strict=False)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("decoder."))

    texts = read_corpus(train_file, "text", "label", require_labels=True).texts
    ids = tokenize_texts(base.tokenizer, texts, cfg.max_length)
    data, fn = TokenizedDataset(ids, [0] * len(ids)), collate(model._special["pad"])
    lengths = [len(x) for x in ids]
    model.eval()
    mu = torch.zeros(len(ids), cfg.latent_size)
    logvar = torch.zeros_like(mu)
    with torch.no_grad():
        for idx in LengthGroupedBatches(lengths, 64, seed, shuffle=False):
            b = fn([data[i] for i in idx])
            post = model.encode(b["input_ids"], b["attention_mask"])
            mu[idx], logvar[idx] = post.mu, post.logvar

    sampler = LengthGroupedBatches(lengths, 32, seed)
    steps = int(round(epochs * len(sampler)))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, two_phase_schedule(steps, 0, 0.06))
    ema = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    model.train()
    step, epoch = 0, 0
    with tqdm(total=steps, desc=f"decoder ({layers} layers)", unit="step") as bar:
        while step < steps:
            sampler.for_epoch(epoch)
            epoch += 1
            for idx in sampler:
                if step >= steps:
                    break
                b = fn([data[i] for i in idx])
                i = b["index"]
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    z = Posterior(mu[i], logvar[i]).sample()
                    dec_in, tgt = model.decoder_io(b["input_ids"], b["attention_mask"])
                    parts = vae_loss(model.classify(z), torch.zeros(len(i), dtype=torch.long),
                                     model.decode_logits(z, dec_in), tgt, mu[i], logvar[i], beta=1.0,
                                     free_bits=0.0, class_weight=0.0,
                                     bow_logits=model.decoder.bow_logits(z, model.word_embeddings), bow_weight=1.0)
                parts["loss"].backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                sched.step()
                opt.zero_grad()
                step += 1
                d = min(0.998, (1 + step) / (10 + step))
                with torch.no_grad():
                    for n, p in model.named_parameters():
                        if n in ema:
                            ema[n].mul_(d).add_(p.detach(), alpha=1 - d)
                bar.update(1)
                bar.set_postfix(recon_per_token=f"{float(parts['recon_per_token']):.3f}")
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n in ema:
                p.copy_(ema[n])
    return model.eval()


def in_repo(path: str) -> str:
    """A path inside the repository relative to it (the JSON reads the same on every machine)."""
    full = Path(path).resolve()
    return str(full.relative_to(REPO)) if full.is_relative_to(REPO) else path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "assets/models/ag_news_vae"))
    p.add_argument("--train-file", default=str(REPO / "assets/data/ag_news/train.csv"))
    p.add_argument("--data", default=str(REPO / "assets/data/ag_news/dev.csv"), help="the documents scored")
    p.add_argument("--rows", type=int, default=1000, help="documents decoded (the first N)")
    p.add_argument("--decoder-layers", type=int, default=0, help="0 = score the decoder as it is")
    p.add_argument("--decoder-ffn", type=int, default=1024)
    p.add_argument("--decoder-epochs", type=float, default=4.0)
    p.add_argument("--tag", required=True)
    p.add_argument("--out", default=str(REPO / "benchmarks/decoder_capacity.json"))
    args = p.parse_args()

    import torch

    from vae_core.data import encode_labels, read_corpus
    from vae_core.evaluate import generation_metrics, latent_health
    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    model = TextVAE.from_pretrained(args.model).float().eval()
    row = {"tag": args.tag, "model": in_repo(args.model), "data": in_repo(args.data), "rows": args.rows}
    if args.decoder_layers:
        t0 = time.perf_counter()
        model = retrain_decoder(model, args.decoder_layers, args.decoder_ffn, args.decoder_epochs, args.train_file)
        row.update(decoder_layers=args.decoder_layers, decoder_ffn=args.decoder_ffn, decoder_epochs=args.decoder_epochs,
                   train_minutes=round((time.perf_counter() - t0) / 60, 1))
    else:
        row.update(decoder_layers=model.config.decoder_layers, decoder_ffn=model.config.decoder_ffn)
    data = read_corpus(args.data, "text", "label", require_labels=True)
    texts = data.texts[: args.rows]
    post = model.encode_texts(texts)
    pred = model.classify(post.mu).argmax(-1)
    y = encode_labels(data.labels[: args.rows], model.labels, data.source)
    g = generation_metrics(model, texts, post.mu, pred)
    row.update(kl_per_doc=round(latent_health(post.mu, post.logvar)["kl_per_doc"], 1),
               accuracy=round(float((pred == torch.tensor(y)).float().mean()), 4),
               bleu4=round(g["bleu4"], 4), label_consistency=round(g["label_consistency"], 4))
    print(json.dumps(row))
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    rows = [r for r in rows if r["tag"] != args.tag] + [row]
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
