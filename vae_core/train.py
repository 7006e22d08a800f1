"""Training on accelerate: `python -m vae_core train ...` here on the CPU, or the same script under
`accelerate launch` on several processes, GPUs or nodes.

Run folder layout (`--output-dir RUN`):
  RUN/model/          best checkpoint by dev accuracy (a complete checkpoint folder)
  RUN/resume/         the latest training state (weights, optimiser, step) for --resume
  RUN/metrics.jsonl   one line per logging step and per evaluation
Both folders are replaced atomically, so a half-written one is never visible.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from .catalog import EXAMPLES_FILE, pick_examples
from .config import TrainConfig, VAEConfig, portable_path
from .data import (
    UNLABELLED,
    LengthGroupedBatches,
    TokenizedDataset,
    build_decoder_vocab,
    collate,
    encode_labels,
    keep_labels_per_class,
    repeat_labelled,
    label_vocabulary,
    read_corpus,
    tokenize_texts,
)
from .files import atomic_replace_dir, atomic_write
from .launch import warn_if_fewer_processes
from .losses import cyclical_beta, vae_loss
from .modeling import (Posterior, TextVAE, load_encoder_tokenizer, packaged_encoder,
                       squared_distances, tensor_sha256)
from .readable import CasingTable, Readable

DEFAULT_DECODER_VOCAB = 8192


def _flatten_optimizer(opt_state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"state.{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": opt_state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("state."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for key, v in meta.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = v
    return {"state": state, "param_groups": meta["param_groups"]}


class Trainer:
    def __init__(self, cfg: TrainConfig, model_config: VAEConfig | None = None, resume: bool = False,
                 log_path: str | Path | None = None, stage: str | None = None):
        """One training run in cfg.output_dir. A stage of a recipe (`vae_core.recipe`) passes the run's shared
        `log_path` (never set aside here: the recipe starts it) and its `stage` name, which tags every record."""
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        if resume:
            # A resumed run continues the run as it was started: its saved arguments win over today's
            # defaults; only where it lives comes from the caller.
            saved = Path(cfg.output_dir) / "resume" / "training_args.json"
            if saved.exists():
                cfg = dataclasses.replace(TrainConfig.from_dict(json.loads(saved.read_text())), output_dir=cfg.output_dir)
        self.cfg, self.resume = cfg, resume
        self.accelerator = Accelerator(cpu=not torch.cuda.is_available(), mixed_precision=_mixed_precision(cfg.mixed_precision))
        if self.accelerator.is_main_process:
            warn_if_fewer_processes(self.accelerator.num_processes, "train")
        acc = self.accelerator
        if cfg.num_threads or not torch.cuda.is_available():
            torch.set_num_threads(cfg.num_threads or max(1, (os.cpu_count() or 1) // acc.num_processes))
        set_seed(cfg.seed)
        self.run_dir = Path(cfg.output_dir)
        self.model_dir, self.resume_dir = self.run_dir / "model", self.run_dir / "resume"
        self.stage = stage
        self.log_path = Path(log_path) if log_path else self.run_dir / "metrics.jsonl"
        self._prepare_run_dir(resume, set_aside_log=log_path is None)
        mc = model_config or VAEConfig()
        # a resumed run, or a decoder phase on a trained model, starts from a checkpoint folder
        start = self.resume_dir if resume else (Path(cfg.init_from) if cfg.init_from else None)
        if start is not None:
            mc = VAEConfig.load(start)
        names, labels = self._read_data(mc.labels if start is not None else None)
        ids = self._build_model(mc, names, start, resume)
        if cfg.init_from and not resume and model_config is not None:
            # the decoder is trained again here, so it trains and decodes as this run says (the checkpoint's
            # architecture and labels stay; a checkpoint from before guidance would keep 0)
            self.model.config.decoder_bow_guidance = model_config.decoder_bow_guidance
            self.model.config.decoder_guided_training = model_config.decoder_guided_training
        self._build_loader(ids, labels)
        self._build_optimisation()
        # what the frozen part gives every training row in the decoder phase (`cache_frozen_part`)
        self._frozen_rows: torch.Tensor | None = None
        # with prototypes: dataset row -> bank row, bank row -> dataset row, and each bank row's prototype in
        # training (its nearest other document when the decoder phase began; kept in the resume state)
        self._bank_rows = self._bank_source = self._proto_neighbours = None
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best, self.history, self.elapsed = -1.0, [], 0.0
        # the averaged weights: a float32 copy of every trainable tensor
        self.ema = ({n: p.detach().clone().float() for n, p in self.model.named_parameters() if p.requires_grad}
                    if cfg.ema_decay > 0 else None)
        if resume:
            self._load_state()
        self.model, self.optimizer, self.loader, self.scheduler = acc.prepare(
            self.model, self.optimizer, self.loader, self.scheduler
        )
        self.steps_per_epoch_local = len(self.loader)

    def _prepare_run_dir(self, resume: bool, set_aside_log: bool) -> None:
        """The run folder: created, cleared of a killed save's half-written folders; a new run's log started
        afresh (`set_aside_log`); a resumed run's state checked."""
        if self.accelerator.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            # half-written folders of a run that was killed while saving: never visible, now removed
            for stale in self.run_dir.glob(".*"):
                if stale.is_dir() and (".tmp-" in stale.name or ".old-" in stale.name):
                    shutil.rmtree(stale, ignore_errors=True)
            if not resume and set_aside_log and self.log_path.exists():
                # a new run in the folder of an earlier one: its log starts empty (the earlier one's is kept
                # beside it), or the new model's training curves would mix in the old run's steps
                self.log_path.replace(self.run_dir / "metrics.previous.jsonl")
        if resume and not (self.resume_dir / "state.json").exists():
            raise FileNotFoundError(f"--resume: {self.resume_dir} holds no training state; start without --resume.")

    def _read_data(self, names: list[str] | None) -> tuple[list[str], list[int]]:
        """The training and dev files: (class names, each training row's class index). `names` are the classes of
        the checkpoint the run starts from (None: the training file's, in order)."""
        cfg = self.cfg
        train = read_corpus(cfg.train_file, cfg.text_column, cfg.label_column, require_labels=True,
                            allow_unlabelled=cfg.allow_unlabelled)
        if cfg.max_train_rows is not None:
            train.texts, train.labels = train.texts[: cfg.max_train_rows], train.labels[: cfg.max_train_rows]
        self.train_corpus = train
        # a few texts of each class from the training file, for the app's examples (saved with every checkpoint)
        self.examples = pick_examples(train.texts, train.labels, seed=cfg.seed)
        names = names if names is not None else label_vocabulary(train)
        labels = encode_labels(train.labels, names, train.source)
        if cfg.labels_per_class is not None:
            labels = keep_labels_per_class(labels, cfg.labels_per_class, cfg.seed)
        self.dev = None
        if cfg.dev_file:
            self.dev = read_corpus(cfg.dev_file, cfg.text_column, cfg.label_column, require_labels=True)
            if cfg.eval_rows is not None:
                self.dev.texts, self.dev.labels = self.dev.texts[: cfg.eval_rows], self.dev.labels[: cfg.eval_rows]
            encode_labels(self.dev.labels, names, self.dev.source)  # every dev label must be a known class
        self.fingerprint = {"train": train.fingerprint(), "dev": self.dev.fingerprint() if self.dev else None,
                            "labels_per_class": cfg.labels_per_class,
                            "labelled_rows_used": sum(1 for y in labels if y != UNLABELLED)}
        return names, labels

    def _build_model(self, mc: VAEConfig, names: list[str], start: Path | None, resume: bool) -> list[list[int]]:
        """The model: loaded from `start`, or a new one of `mc` (its decoder vocabulary from the training texts);
        returns the training texts' token ids."""
        cfg, train = self.cfg, self.train_corpus
        mc.labels = list(names)
        if start is not None:
            self.model = TextVAE.from_pretrained(start)
            tokenizer = self.model.tokenizer
            if not resume:
                self.model.readable = Readable(CasingTable.learn(train.texts))
        else:
            tokenizer = load_encoder_tokenizer(mc.encoder_name_or_path)
        ids = tokenize_texts(tokenizer, train.texts, mc.max_length)
        if start is None:
            mc.max_length = min(mc.max_length, tokenizer.model_max_length)
            self.model = TextVAE(mc)
            self.model.set_special_ids(tokenizer)
            self.model.tokenizer = tokenizer
            self.model.readable = Readable(CasingTable.learn(train.texts))
            vocab_size = mc.decoder_vocab_size or DEFAULT_DECODER_VOCAB
            special = self.model._special
            if vocab_size < self.model.word_embeddings.num_embeddings:
                self.model.set_decoder_vocab(torch.tensor(build_decoder_vocab(ids, vocab_size, [special["eos"], special["unk"]])))
            else:
                mc.decoder_vocab_size = 0
        # explicit decoder settings win over the checkpoint's (a fresh model already has them from mc)
        self.model.set_decoder_settings(cfg.decoder_max_length, cfg.word_dropout,
                                        torch.Generator().manual_seed(cfg.seed), dropout=cfg.decoder_dropout)
        self._freeze_and_share(record=start is None)
        self.tokenizer = tokenizer
        return ids

    def _build_loader(self, ids: list[list[int]], labels: list[int]) -> None:
        cfg = self.cfg
        ids, labels = repeat_labelled(ids, labels, cfg.labelled_share)
        self.dataset = TokenizedDataset(ids, labels)
        self.sampler = LengthGroupedBatches([len(x) for x in ids], cfg.batch_size, cfg.seed)
        # The loader gets its own generator: making an iterator must not draw from the global RNG,
        # or a resumed run would sample different z than an uninterrupted one.
        self.loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=self.sampler,
                                                  collate_fn=collate(self.model._special["pad"]),
                                                  generator=torch.Generator().manual_seed(cfg.seed))

    def _build_optimisation(self) -> None:
        """Optimizer, step counts of the two phases and the learning-rate schedule."""
        cfg, acc = self.cfg, self.accelerator
        groups = parameter_groups(self.model, cfg)
        self._top_encoder_group = max(0, len(groups) - 2)  # the learning rate logged
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
        self.steps_per_epoch = len(self.sampler)
        per_process = -(-self.steps_per_epoch // acc.num_processes)
        self.joint_steps = 0 if cfg.init_from else max(1, int(round(cfg.epochs * per_process)))
        self.decoder_steps = max(0, int(round(cfg.decoder_epochs * per_process)))
        if self.decoder_steps and cfg.min_decoder_steps:
            # a small corpus' epochs are short: its decoder still gets the steps a corpus of AG News' size gets
            self.decoder_steps = max(self.decoder_steps, -(-cfg.min_decoder_steps // acc.num_processes))
        self.total_steps = self.joint_steps + self.decoder_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, two_phase_schedule(self.joint_steps, self.decoder_steps, cfg.warmup_ratio))

    # ------------------------------------------------------------------------------------------
    def _freeze_and_share(self, record: bool) -> None:
        """Freeze the word embeddings (and the unused pooler). With a pretrained base they are not
        saved: checkpoints record their sha256 and read them from the base model on load."""
        model, cfg = self.model, self.cfg
        share = {}
        for name, p in model.named_parameters():
            frozen = name.startswith("encoder.pooler.") or (
                cfg.freeze_embeddings and name == "encoder.embeddings.word_embeddings.weight"
            )
            if frozen:
                p.requires_grad_(False)
                if record and model.config.pretrained_encoder:
                    share[name] = tensor_sha256(p)
        if not record:
            return
        model.config.shared_with_base = share
        packaged = packaged_encoder(model.config.encoder_name_or_path)
        model.config.base_package = packaged[1] if packaged else None

    def _unwrapped(self) -> TextVAE:
        return self.accelerator.unwrap_model(self.model)

    def _log(self, record: dict) -> None:
        if self.accelerator.is_main_process:
            if self.stage:
                record = {"stage": self.stage, **record}
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _extra_files(self) -> dict:
        metrics = {"history": self.history, "best_dev_accuracy": self.best if self.dev is not None else None,
                   "train_seconds": self.elapsed}
        if self.cfg.init_from:
            # what the joint phase of the model this run started from measured (its curves, its time)
            init = Path(self.cfg.init_from) / "metrics.json"
            metrics["init_from"] = {"model": portable_path(self.cfg.init_from),
                                    **(json.loads(init.read_text()) if init.exists() else {})}
        return {
            "metrics.json": metrics,
            "training_args.json": self.cfg.portable_dict(),
            "data_fingerprint.json": self.fingerprint,
            EXAMPLES_FILE: self.examples,
        }

    def _save_state(self) -> None:
        """Write RUN/resume atomically: weights, optimiser, scheduler, step and RNG."""
        if not self.accelerator.is_main_process:
            return
        from safetensors.torch import save_file

        model = self._unwrapped()
        tmp = Path(tempfile.mkdtemp(prefix=".resume.tmp-", dir=self.run_dir))
        try:
            # the resume state keeps the paths as given (a resumed run reads its data again); the finished
            # model records them portably
            extra = {**self._extra_files(), "training_args.json": self.cfg.to_dict()}
            model.save_pretrained(tmp / "w", dtype="float32", extra_files=extra)
            for p in (tmp / "w").iterdir():
                os.replace(p, tmp / p.name)
            (tmp / "w").rmdir()
            opt_tensors, opt_meta = _flatten_optimizer(self.optimizer.state_dict())
            opt_tensors["rng.torch"] = torch.get_rng_state()
            if self._proto_neighbours is not None:
                opt_tensors["prototype_neighbours"] = self._proto_neighbours.contiguous()
            for name, t in (self.ema or {}).items():
                opt_tensors[f"ema.{name}"] = t.contiguous()
            save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
            state = {
                "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                "best": self.best, "history": self.history, "elapsed": self.elapsed,
                "optimizer": opt_meta, "scheduler": self.scheduler.state_dict(),
            }
            (tmp / "state.json").write_text(json.dumps(state, default=float))
            atomic_replace_dir(tmp, self.resume_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _load_state(self) -> None:
        from safetensors.torch import load_file

        state = json.loads((self.resume_dir / "state.json").read_text())
        tensors = load_file(str(self.resume_dir / "optimizer.safetensors"))
        torch.set_rng_state(tensors.pop("rng.torch"))
        self._proto_neighbours = tensors.pop("prototype_neighbours", None)
        for key in [k for k in tensors if k.startswith("ema.")]:
            value = tensors.pop(key)
            if self.ema is not None:
                self.ema[key[4:]] = value
        self.optimizer.load_state_dict(_unflatten_optimizer(tensors, state["optimizer"]))
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        self.best, self.history, self.elapsed = state["best"], state["history"], state["elapsed"]

    def _ema_update(self) -> None:
        """One step of the weights' moving average, by torch's own EMA update (`get_ema_multi_avg_fn`) with a
        short memory early on. The average is kept for the trained tensors only, not in an `AveragedModel`:
        that would copy the whole model (the frozen encoder and embeddings too), could not follow the model
        when it gains parameters (the content latent, the prototype decoder) and would still need the frozen
        parts written into it by hand when the decoder phase freezes them."""
        if self.ema is None:
            return
        from torch.optim.swa_utils import get_ema_multi_avg_fn

        avg, cur = [], []
        for name, p in self._unwrapped().named_parameters():
            if p.requires_grad and name in self.ema:
                avg.append(self.ema[name])
                cur.append(p.detach().float())
        if avg:
            get_ema_multi_avg_fn(min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step)))(avg, cur, None)

    @contextmanager
    def _averaged_weights(self):
        """The model holds the averaged weights inside the block, its own after it."""
        if self.ema is None:
            yield
            return
        params = dict(self._unwrapped().named_parameters())
        own = {n: params[n].detach().clone() for n in self.ema}
        with torch.no_grad():
            for n, t in self.ema.items():
                params[n].copy_(t)
        try:
            yield
        finally:
            with torch.no_grad():
                for n, t in own.items():
                    params[n].copy_(t)

    def evaluate(self) -> dict:
        from .evaluate import classification_metrics

        model = self._unwrapped()
        # reconstruction on the first 1,000 documents only: enough for a curve, at a third of the cost
        out = model.forward_corpus(self.dev.texts, batch_size=64, progress=False, reconstruction=1000)
        y = encode_labels(self.dev.labels, model.labels, self.dev.source)
        m = classification_metrics(y, out.probs.argmax(-1).tolist(), model.labels)
        return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "kl_per_doc": float(out.kl.mean()),
                "recon_per_token": float(out.recon_nll.sum() / out.recon_tokens.sum().clamp(min=1))}

    def _eval_and_save(self) -> None:
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process and not (self.history and self.history[-1]["step"] == self.step):
            record = {"step": self.step, "epoch": round(self.step / max(1, self.steps_per_epoch_local), 3),
                      "phase": "decoder" if self.step > self.joint_steps else "joint",
                      "seconds": round(self.elapsed, 1)}
            if self.dev is not None:
                t0 = time.time()
                with self._averaged_weights():
                    record["dev"] = self.evaluate()
                record["eval_seconds"] = round(time.time() - t0, 1)
                score = record["dev"]["accuracy"]
            else:
                score = float(self.step)  # without a dev set the latest model is kept
            self.history.append(record)
            self._log({"eval": record})
            # After the joint phase the encoder (and so the accuracy) is the best one's; every decoder
            # improvement is kept. (The evaluation that ends the joint phase is judged on its accuracy.)
            if score > self.best or self.step > self.joint_steps:
                self.best = max(score, self.best)
                with self._averaged_weights():
                    if self._bank_rows is not None:  # the prototypes' keys from the weights being saved
                        self._set_prototype_bank(self._unwrapped())
                    self._unwrapped().save_pretrained(self.model_dir, dtype=self.cfg.save_dtype,
                                                      extra_files=self._extra_files())
            self.model.train()
        acc.wait_for_everyone()

    @property
    def in_decoder_phase(self) -> bool:
        return self.step >= self.joint_steps

    def _enter_decoder_phase(self) -> None:
        """Restore the best encoder, posterior and classifier (by dev accuracy), freeze them, add the
        content latent (`content_dims`, trained from here on with the decoder), and compute once what the
        frozen part gives every training row: its posterior, or with a content latent its pooled encoder
        state. Idempotent, so a resumed run does the same."""
        model = self._unwrapped()
        if self.model_dir.exists():
            from safetensors.torch import load_file

            best = load_file(str(self.model_dir / "model.safetensors"))
            own = model.state_dict()
            keep = {k: v.to(own[k].dtype) for k, v in best.items()
                    if not k.startswith(("decoder.", "content_posterior.", "prototypes."))
                    and k in own and own[k].shape == v.shape}
            model.load_state_dict(keep, strict=False)
        if self.cfg.content_dims and model.content_posterior is None:
            model.add_content_latent(self.cfg.content_dims, torch.Generator().manual_seed(self.cfg.seed))
            self._rebuild_optimizer(model)
        if self.cfg.prototype_tokens and not model.config.prototype_tokens:
            model.add_prototype_decoder(self.cfg.prototype_tokens, torch.Generator().manual_seed(self.cfg.seed + 1))
            self._rebuild_optimizer(model)
        trained = ("decoder.", "content_posterior.")
        for name, p in model.named_parameters():
            if not name.startswith(trained):
                p.requires_grad_(False)
                if self.ema is not None and name in self.ema:
                    self.ema[name] = p.detach().clone().float()  # frozen: its average is itself
        model.eval()
        with self.accelerator.autocast():
            self._frozen_rows = cache_frozen_part(model, self.dataset, model.content_posterior is not None,
                                                  self.accelerator.device)
        if model.config.prototype_tokens:
            self._set_prototype_bank(model)
            if self._proto_neighbours is None:  # a resumed run kept the ones it trained with
                self._proto_neighbours = leave_one_out_neighbours(model.prototypes.keys)
        self.model.train()

    def _set_prototype_bank(self, model: TextVAE) -> None:
        """The training documents as the decoder's prototypes: each distinct text once, its latent mean from
        the current posterior (refreshed before every save) and its first tokens."""
        if self._bank_rows is None:
            first: dict[tuple, int] = {}  # token ids -> bank row
            rows, source = [], []  # dataset row -> bank row; bank row -> its first dataset row
            for row, ids in enumerate(self.dataset.input_ids):
                if tuple(ids) not in first:
                    first[tuple(ids)] = len(source)
                    source.append(row)
                rows.append(first[tuple(ids)])
            self._bank_rows, self._bank_source = torch.tensor(rows), torch.tensor(source)
        P, pad = model.config.prototype_tokens, model._special["pad"]
        ids = torch.full((len(self._bank_source), P), pad, dtype=torch.int32)
        for b, row in enumerate(self._bank_source.tolist()):
            toks = self.dataset.input_ids[row][1:-1][:P]  # without [CLS] and [SEP]
            ids[b, : len(toks)] = torch.tensor(toks, dtype=torch.int32)
        with torch.no_grad():
            keys = posterior_of_cached(model, self._frozen_rows[self._bank_source].to(self.accelerator.device),
                                       pooled=model.content_posterior is not None).mu
        model.set_prototypes(keys.float(), ids)

    def _rebuild_optimizer(self, model: TextVAE) -> None:
        """After the model gained parameters: the optimiser and schedule over all of them, grouped as a
        resumed run builds them, at the current step."""
        groups = parameter_groups(model, self.cfg)
        optimizer = torch.optim.AdamW(groups, weight_decay=self.cfg.weight_decay)
        for g in optimizer.param_groups:
            g["initial_lr"] = g["lr"]
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, two_phase_schedule(self.joint_steps, self.decoder_steps, self.cfg.warmup_ratio),
            last_epoch=self.step - 1)
        self.optimizer, self.scheduler = self.accelerator.prepare(optimizer, scheduler)
        if self.ema is not None:
            for name, p in model.named_parameters():
                if p.requires_grad and (name not in self.ema or self.ema[name].shape != p.shape):
                    self.ema[name] = p.detach().clone().float()

    def _losses(self, batch: dict, beta: float) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if not self.in_decoder_phase:
            enc_ids = None
            if cfg.token_dropout > 0:
                special = self._unwrapped()._special
                ids = batch["input_ids"]
                hit = (torch.rand(ids.shape, device=ids.device) < cfg.token_dropout) & batch["attention_mask"].bool()
                hit &= (ids != special["bos"]) & (ids != special["eos"])
                enc_ids = torch.where(hit, torch.full_like(ids, special["mask"]), ids)
            out = self.model(batch["input_ids"], batch["attention_mask"], encoder_input_ids=enc_ids)
        else:
            # The decoder alone, on z sampled from the stored posteriors of the frozen encoder.
            if self._frozen_rows is None:
                self._enter_decoder_phase()
            model = self._unwrapped()
            rows = self._frozen_rows[batch["index"].cpu()].to(batch["input_ids"].device)
            with self.accelerator.autocast():
                # with a content latent, its posterior learns with the decoder
                post = posterior_of_cached(model, rows, pooled=model.content_posterior is not None)
                # each document edits its nearest other training document, never itself
                protos = (self._proto_neighbours[self._bank_rows[batch["index"].cpu()]].to(rows.device)
                          if self._proto_neighbours is not None else None)
                out = model.heads(post, post.sample(), batch["input_ids"], batch["attention_mask"], protos)
        # the information term waits for the labelled rows to shape the classifier: ramped over an epoch
        ramp = min(1.0, self.step / max(1, self.steps_per_epoch_local))
        info_weight = cfg.unlabelled_info_weight * ramp if not self.in_decoder_phase else 0.0
        # in the decoder phase only a content latent's KL has a gradient: its free bits apply
        free_bits = cfg.content_free_bits if self.in_decoder_phase and cfg.content_dims else cfg.free_bits
        return vae_loss(out.class_logits, batch["labels"], out.recon_logits, out.recon_targets, out.mu, out.logvar,
                        beta=beta, free_bits=free_bits, class_weight=cfg.class_weight, recon_weight=cfg.recon_weight,
                        bow_logits=out.bow_logits, bow_weight=cfg.bow_weight, info_weight=info_weight)

    def _step(self, batch: dict) -> dict[str, float]:
        cfg, acc = self.cfg, self.accelerator
        beta = cyclical_beta(min(self.step, self.joint_steps), self.joint_steps, cfg.anneal_cycles, cfg.anneal_ratio, cfg.beta_max)
        parts = self._losses(batch, beta)
        acc.backward(parts["loss"])
        if self.in_decoder_phase and acc.num_processes > 1:
            # The decoder runs outside the DDP wrapper here, so its gradients are averaged by hand.
            for p in self._unwrapped().parameters():
                if p.requires_grad and p.grad is not None:
                    p.grad = acc.reduce(p.grad, reduction="mean")
        if cfg.grad_clip:
            acc.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad()
        self.step += 1
        self._ema_update()
        self.batch_in_epoch += 1
        return {k: float(v.detach()) for k, v in parts.items()}

    def _checkpoint(self, evaluate: bool) -> None:
        if evaluate:
            self._eval_and_save()
        self.accelerator.wait_for_everyone()
        self._save_state()

    def fit(self, stop_after_steps: int | None = None) -> Path:
        """Train to the end (or for `stop_after_steps` more steps, as if killed then); returns the
        model folder. Evaluates at every epoch end (or every `eval_every` steps) and at the end; saves
        the resume state every `save_every` steps and at those points."""
        from accelerate import skip_first_batches
        from tqdm.auto import tqdm

        acc, cfg = self.accelerator, self.cfg
        self.model.train()
        bar = tqdm(total=self.total_steps, initial=self.step, desc=self.stage or "training", unit="step",
                   disable=not acc.is_local_main_process)
        start, ran, window, docs = time.time(), 0, [], 0
        stopped = False
        while self.step < self.total_steps and not stopped:
            self.sampler.for_epoch(self.epoch)
            loader = skip_first_batches(self.loader, self.batch_in_epoch) if self.batch_in_epoch else self.loader
            exhausted, seen = True, 0
            for batch in loader:
                window.append(self._step(batch))
                ran, seen = ran + 1, seen + 1
                docs += batch["input_ids"].shape[0] * acc.num_processes
                now = time.time()
                self.elapsed, start = self.elapsed + now - start, now
                bar.update(1)
                if self.step % 20 == 0 or self.step == self.total_steps:
                    avg = {k: round(sum(w[k] for w in window) / len(window), 4) for k in window[0]}
                    bar.set_postfix(phase="decoder" if self.in_decoder_phase else "joint", ce=avg["ce"],
                                    rec=avg["recon_per_token"], bow=avg["bow_per_token"], kl=round(avg["kl"], 1),
                                    beta=round(avg["beta"], 2))
                    self._log({"step": self.step, "seconds": round(self.elapsed, 1), **avg,
                               "lr": self.scheduler.get_last_lr()[self._top_encoder_group], "docs_per_s": round(docs / max(self.elapsed, 1e-9), 2)})
                    window = []
                last = self.step >= self.total_steps or self.step == self.joint_steps  # the end of a phase
                stopped = stop_after_steps is not None and ran >= stop_after_steps
                if last or (cfg.eval_every and self.step % cfg.eval_every == 0) or self.step % max(1, cfg.save_every) == 0:
                    self._checkpoint(evaluate=last or bool(cfg.eval_every and self.step % cfg.eval_every == 0))
                    start = time.time()
                if self.step >= self.total_steps or stopped:
                    exhausted = False
                    break
            if exhausted:
                if seen == 0 and self.batch_in_epoch == 0:
                    raise RuntimeError("the training data loader yielded no batches")
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
                # the decoder phase is evaluated once, at its end (its accuracy cannot change)
                self._checkpoint(evaluate=not cfg.eval_every and not self.in_decoder_phase)
                start = time.time()
        bar.close()
        if acc.is_main_process and self.model_dir.exists():
            # The best checkpoint's metrics file gets the whole history, not only the part before it, and
            # the training curves (the logged steps).
            atomic_write(self.model_dir / "metrics.json", json.dumps(
                {**self._extra_files()["metrics.json"], "steps": read_step_log(self.log_path, self.stage)}, indent=2,
                default=float) + "\n")
        acc.wait_for_everyone()
        return self.model_dir


@torch.no_grad()
def cache_frozen_part(model: TextVAE, dataset: TokenizedDataset, pooled: bool, device="cpu") -> torch.Tensor:
    """What a frozen encoder gives each row of `dataset`, computed once for a decoder-only phase: its
    pooled state (N, H) when a posterior on it is still trained (`pooled`), else its posterior [mu, logvar]
    (N, 2L). Rows in dataset order; `posterior_of_cached` turns rows back into posteriors."""
    width = model.encoder.config.hidden_size if pooled else 2 * model.config.latent_size
    out = torch.zeros(len(dataset), width)
    for idx, ids, mask in model.batches(ids=dataset.input_ids, batch_size=64, device=device):
        if pooled:
            out[idx] = model.pooled(ids, mask).float().cpu()
        else:
            post = model.encode(ids, mask)
            out[idx] = torch.cat([post.mu, post.logvar], -1).float().cpu()
    return out


def posterior_of_cached(model: TextVAE, rows: torch.Tensor, pooled: bool) -> Posterior:
    """The posteriors of rows of `cache_frozen_part` (the same `pooled`)."""
    if pooled:
        return model.posterior_from_pooled(rows)
    return Posterior(*rows.chunk(2, -1))


def leave_one_out_neighbours(keys: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """For each row of keys (N, L), the index of the nearest other row (Euclidean) (N,)."""
    out = torch.empty(len(keys), dtype=torch.long)
    for s in range(0, len(keys), chunk):
        d = squared_distances(keys[s : s + chunk], keys)  # (c, N)
        d[torch.arange(d.shape[0]), torch.arange(s, s + d.shape[0])] = float("inf")
        out[s : s + chunk] = d.argmin(-1).cpu()
    return out


def encoder_depth(name: str, num_layers: int) -> int:
    """Where an encoder parameter sits, counted from the input: 0 for the embeddings, i + 1 for the
    i-th transformer layer (`...layer.<i>.` in BERT-like encoders), `num_layers` for anything else."""
    if ".embeddings." in name:
        return 0
    m = re.search(r"\.layers?\.(\d+)\.", name)
    return int(m.group(1)) + 1 if m else num_layers


def parameter_groups(model: TextVAE, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: the heads (posterior, classifier, decoder) at `head_lr`; the encoder at `lr`, or
    with `layer_decay` < 1 at lr * layer_decay ** (layers above), one group per depth."""
    enc: dict[int, list] = {}
    heads = []
    n_layers = int(getattr(model.encoder.config, "num_hidden_layers", 0) or 0)
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if not name.startswith("encoder."):
            heads.append(p)
            continue
        depth = encoder_depth(name, n_layers) if cfg.layer_decay != 1.0 else n_layers
        enc.setdefault(depth, []).append(p)
    groups = [{"params": ps, "lr": cfg.lr * cfg.layer_decay ** max(0, n_layers - d)} for d, ps in sorted(enc.items())]
    return groups + [{"params": heads, "lr": cfg.head_lr}]


def _mixed_precision(name: str) -> str:
    """bf16 where the hardware has it (CUDA, or a CPU with AVX-512 BF16 / AMX), else full precision."""
    if name != "bf16":
        return name
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    return "bf16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "no"


def two_phase_schedule(joint_steps: int, decoder_steps: int, warmup_ratio: float):
    """Learning-rate factor per step: linear warm-up and decay over the joint phase, then the same
    again over the decoder phase."""

    def phase(s: int, n: int) -> float:
        warm = int(warmup_ratio * n)
        if s < warm:
            return (s + 1) / (warm + 1)
        return max(0.0, (n - s) / max(1, n - warm))

    def factor(step: int) -> float:
        return phase(step, joint_steps) if step < joint_steps else phase(step - joint_steps, decoder_steps)

    return factor


def read_step_log(path: Path, stage: str | None = None) -> list[dict]:
    """The per-step records of a run's metrics.jsonl (loss parts, beta, KL, learning rate), in order; of a
    recipe's shared log, those of one `stage` (None: the records without a stage, as a single run logs them)."""
    if not path.exists():
        return []
    steps = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by an interruption
            continue
        if "step" in rec and "eval" not in rec and rec.get("stage") == stage:
            steps[rec["step"]] = rec  # a resumed run logs some steps again: the last one stands
    return [steps[k] for k in sorted(steps)]


def train(cfg: TrainConfig, model_config: VAEConfig | None = None, resume: bool = False, **stage) -> Path:
    """One training run (see `Trainer`); `stage` passes a recipe stage's log_path and name."""
    return Trainer(cfg, model_config, resume, **stage).fit()


def train_config_from_args(args) -> tuple[TrainConfig, VAEConfig]:
    """The run's and the model's configs from the command line; options left out (None) keep the defaults."""
    tc = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
                        if getattr(args, f.name, None) is not None})
    # options left out (None) keep the model config's defaults
    mc = VAEConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(VAEConfig)
                      if getattr(args, f.name, None) is not None})
    return tc, mc
