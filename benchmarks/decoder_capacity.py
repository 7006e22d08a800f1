"""What limits decoded text: the decoder, or what z holds? Scores a checkpoint's decoding on the first N
documents of a file (dev by default) as shipped, or after training a fresh decoder of another shape on its
frozen encoder, posterior and classifier, the way the decoder phase of `vae_core train` does (z sampled from
each training document's stored posterior; reconstruction + bag-of-words loss; AdamW at 1e-3, 6% warm-up
then linear decay, gradient clipping at 1, an exponential average of the weights at 0.998). With
--latent-size the posterior and classifier are trained anew too, on the frozen encoder's pooled states, with
the KL (beta annealed to 1 over the first 30% of the steps, --free-bits nats per dimension) and the
classification loss: a latent of another size or information content, with the same encoder.

Figures per run: KL, accuracy, reconstruction perplexity from mu and from a z of another document (z
shuffled within the scored documents: what the decoder gets from z), BLEU-4, label consistency, and the
independent reader (base all-MiniLM-L6-v2) finding each source among all documents of the file from its
decoded text. Prints one JSON row per run and adds it to the output file.

    python benchmarks/decoder_capacity.py --tag shipped
    python benchmarks/decoder_capacity.py --tag four-layers --decoder-layers 4 --decoder-epochs 4
    python benchmarks/decoder_capacity.py --tag free-bits-4 --model runs/ag_news_vae_fb4/model
    python benchmarks/decoder_capacity.py --tag shipped-train --data assets/data/ag_news/train.csv
    python benchmarks/decoder_capacity.py --tag latent-64 --latent-size 64 --decoder-layers 2 --decoder-epochs 5
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


def retrain_decoder(base, layers: int, ffn: int, epochs: float, train_file: str, seed: int = 0,
                    latent_size: int | None = None, free_bits: float = 1.0):
    """A copy of `base` with a fresh decoder of `layers` blocks (`ffn` wide) trained for `epochs`; with
    `latent_size`, a fresh posterior and classifier of that size trained with it."""
    import torch
    from tqdm.auto import tqdm

    from vae_core.data import LengthGroupedBatches, TokenizedDataset, collate, encode_labels, read_corpus, tokenize_texts
    from vae_core.losses import vae_loss
    from vae_core.modeling import TextVAE
    from vae_core.training.model import cache_frozen_part, posterior_of_cached, two_phase_schedule

    torch.manual_seed(seed)
    new_latent = latent_size is not None
    cfg = dataclasses.replace(base.config, decoder_layers=layers, decoder_ffn=ffn,
                              latent_size=latent_size or base.config.latent_size)
    model = TextVAE(dataclasses.replace(cfg, pretrained_encoder=False))  # the encoder's weights are copied below
    model.config = cfg
    model.set_special_ids(base.tokenizer)
    model.tokenizer, model.readable = base.tokenizer, base.readable
    model.set_decoder_vocab(base.decoder.vocab_ids)
    fresh = ("decoder.", "posterior.", "classifier.") if new_latent else ("decoder.",)
    model.load_state_dict({k: v for k, v in base.state_dict().items() if not k.startswith(fresh)}, strict=False)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(fresh))

    corpus = read_corpus(train_file, "text", "label", require_labels=True)
    ids = tokenize_texts(base.tokenizer, corpus.texts, cfg.max_length)
    labels = torch.tensor(encode_labels(corpus.labels, model.labels, corpus.source))
    data, fn = TokenizedDataset(ids, labels.tolist()), collate(model.special_ids["pad"])
    lengths = [len(x) for x in ids]
    model.eval()
    # what the frozen part gives each training document: its posterior, or its pooled state for a new posterior
    cached = cache_frozen_part(model, data, pooled=new_latent)

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
                    post = posterior_of_cached(model, cached[i], pooled=new_latent)
                    mu, logvar = post.mu, post.logvar
                    z = post.sample()
                    dec_in, tgt = model.decoder_io(b["input_ids"], b["attention_mask"])
                    parts = vae_loss(model.classify(z), b["labels"], model.decode_logits(z, dec_in), tgt, mu, logvar,
                                     beta=min(1.0, step / (0.3 * steps)) if new_latent else 1.0,
                                     free_bits=free_bits if new_latent else 0.0,
                                     class_weight=1.0 if new_latent else 0.0,
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(REPO / "assets/models/ag_news_vae"))
    p.add_argument("--train-file", default=str(REPO / "assets/data/ag_news/train.csv"))
    p.add_argument("--data", default=str(REPO / "assets/data/ag_news/dev.csv"), help="the documents scored")
    p.add_argument("--rows", type=int, default=1000, help="documents decoded (the first N)")
    p.add_argument("--decoder-layers", type=int, default=0, help="0 = score the decoder as it is")
    p.add_argument("--decoder-ffn", type=int, default=1024)
    p.add_argument("--decoder-epochs", type=float, default=4.0)
    p.add_argument("--latent-size", type=int, default=None,
                   help="train a new posterior and classifier of this size with the decoder (needs --decoder-layers)")
    p.add_argument("--free-bits", type=float, default=1.0, help="nats per dimension, with --latent-size")
    p.add_argument("--tag", required=True)
    p.add_argument("--out", default=str(REPO / "benchmarks/decoder_capacity.json"))
    args = p.parse_args()

    import torch

    from vae_core.config import portable_path
    from vae_core.data import encode_labels, read_corpus
    from vae_core.evaluate import add_reader_figures, generation_metrics, latent_health, reconstruction_perplexity
    from vae_core.modeling import TextVAE

    torch.set_num_threads(2)
    model = TextVAE.from_pretrained(args.model).float().eval()
    row = {"tag": args.tag, "model": portable_path(args.model), "data": portable_path(args.data), "rows": args.rows}
    if args.decoder_layers:
        t0 = time.perf_counter()
        model = retrain_decoder(model, args.decoder_layers, args.decoder_ffn, args.decoder_epochs, args.train_file,
                                latent_size=args.latent_size, free_bits=args.free_bits)
        row.update(decoder_layers=args.decoder_layers, decoder_ffn=args.decoder_ffn, decoder_epochs=args.decoder_epochs,
                   train_minutes=round((time.perf_counter() - t0) / 60, 1))
        if args.latent_size:
            row.update(latent_size=args.latent_size, free_bits=args.free_bits)
    else:
        row.update(decoder_layers=model.config.decoder_layers, decoder_ffn=model.config.decoder_ffn)
    data = read_corpus(args.data, "text", "label", require_labels=True)
    texts = data.texts[: args.rows]
    post = model.encode_corpus(texts)
    pred = model.classify(post.mu).argmax(-1)
    y = encode_labels(data.labels[: args.rows], model.labels, data.source)
    shuffled = post.mu[torch.randperm(len(texts), generator=torch.Generator().manual_seed(0))]
    g = generation_metrics(model, texts, post.mu, pred)
    res: dict = {"examples": g["examples"]}
    add_reader_figures(res, data.texts, g["decoded"])
    row.update(kl_per_doc=round(latent_health(post.mu, post.logvar)["kl_per_doc"], 1),
               accuracy=round(float((pred == torch.tensor(y)).float().mean()), 4),
               recon_perplexity=round(reconstruction_perplexity(model, texts, post.mu), 1),
               recon_perplexity_shuffled_z=round(reconstruction_perplexity(model, texts, shuffled), 1),
               bleu4=round(g["bleu4"], 4), label_consistency=round(g["label_consistency"], 4),
               wordpiece_artefacts=g["wordpiece_artefacts"],
               **{k: round(res[k], 4) for k in ("reader_top1", "reader_top10", "reader_cosine") if k in res},
               reader_candidates=res.get("reader_candidates"),
               examples=[{k: ex[k] for k in ("text", "reconstruction", "reader_rank") if k in ex} for ex in res["examples"][:3]])
    print(json.dumps(row))
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else []
    rows = [r for r in rows if r["tag"] != args.tag] + [row]
    out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
