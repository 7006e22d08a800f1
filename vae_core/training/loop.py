"""The training loop: `Trainer` runs one training run on accelerate (`python -m vae_core train ...` here on the
CPU, or the same script under `accelerate launch` on several processes, GPUs or nodes): the joint phase, then the
decoder phase on the best encoder, evaluating, keeping the best model and saving the resume state as it goes.
The phases it calls on: `data` (files and loader), `model` (model, optimiser, average, decoder-phase caches) and
`checkpoints` (run folder, resume state, log)."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from ..catalog import EXAMPLES_FILE
from ..changes import apply_changes
from ..config import TrainConfig, VAEConfig, portable_path
from ..data import encode_labels
from ..files import atomic_write
from ..launch import warn_if_fewer_processes
from ..losses import cyclical_beta, vae_loss
from ..modeling import TextVAE
from .checkpoints import load_state, log_record, prepare_run_dir, read_step_log, save_state
from .data import make_loader, read_training_data
from .model import (PrototypeBank, WeightAverage, build_model, cache_frozen_part, mixed_precision, optimisation,
                    posterior_of_cached)


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
        self.cfg, self.resume, self.stage = cfg, resume, stage
        self.accelerator = acc = Accelerator(cpu=not torch.cuda.is_available(),
                                             mixed_precision=mixed_precision(cfg.mixed_precision))
        if acc.is_main_process:
            warn_if_fewer_processes(acc.num_processes, "train")
        if cfg.num_threads or not torch.cuda.is_available():
            torch.set_num_threads(cfg.num_threads or max(1, (os.cpu_count() or 1) // acc.num_processes))
        set_seed(cfg.seed)
        self.run_dir = Path(cfg.output_dir)
        self.model_dir, self.resume_dir = self.run_dir / "model", self.run_dir / "resume"
        self.log_path = Path(log_path) if log_path else self.run_dir / "metrics.jsonl"
        prepare_run_dir(self.run_dir, self.log_path, resume, log_path is None, acc.is_main_process)
        # a resumed run, or a decoder phase on a trained model, starts from a checkpoint folder
        start = self.resume_dir if resume else (Path(cfg.init_from) if cfg.init_from else None)
        mc = VAEConfig.load(start) if start is not None else (model_config or VAEConfig())
        self.data = read_training_data(cfg, mc.labels if start is not None else None)
        if self.data.train.dropped_rows and acc.is_main_process:
            print(f"left out {self.data.train.dropped_rows:,} bad rows of {cfg.train_file} (--drop-bad-rows)")
        self.dev = self.data.dev
        self.model, ids = build_model(cfg, mc, self.data.names, self.data.train.texts, start, resume)
        self.dataset, self.sampler, self.loader = make_loader(ids, self.data.labels, cfg, self.model.special_ids["pad"])
        self.steps_per_epoch = len(self.sampler)
        per_process = -(-self.steps_per_epoch // acc.num_processes)
        self.joint_steps = 0 if cfg.init_from else max(1, int(round(cfg.epochs * per_process)))
        self.decoder_steps = max(0, int(round(cfg.decoder_epochs * per_process)))
        if self.decoder_steps and cfg.min_decoder_steps:
            # a small corpus' epochs are short: its decoder still gets the steps a corpus of AG News' size gets
            self.decoder_steps = max(self.decoder_steps, -(-cfg.min_decoder_steps // acc.num_processes))
        self.total_steps = self.joint_steps + self.decoder_steps
        self.optimizer, self.scheduler = optimisation(self.model, cfg, self.joint_steps, self.decoder_steps)
        self._top_encoder_group = max(0, len(self.optimizer.param_groups) - 2)  # the learning rate logged
        self._frozen_rows: torch.Tensor | None = None  # what the frozen part gives every row (decoder phase)
        self.bank: PrototypeBank | None = None
        self._neighbours: torch.Tensor | None = None  # a resumed run's prototype neighbours
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best, self.history, self.elapsed = -1.0, [], 0.0
        self.ema = WeightAverage(self.model, cfg.ema_decay) if cfg.ema_decay > 0 else None
        if resume:
            self._load_state()
        self.model, self.optimizer, self.loader, self.scheduler = acc.prepare(
            self.model, self.optimizer, self.loader, self.scheduler)
        self.steps_per_epoch_local = len(self.loader)

    # ---- records and state ----
    def _unwrapped(self) -> TextVAE:
        return self.accelerator.unwrap_model(self.model)

    def _log(self, record: dict) -> None:
        if self.accelerator.is_main_process:
            log_record(self.log_path, record, self.stage)

    def _extra_files(self) -> dict:
        metrics = {"history": self.history, "best_dev_accuracy": self.best if self.dev is not None else None,
                   "train_seconds": self.elapsed}
        if self.cfg.init_from:
            # what the joint phase of the model this run started from measured (its curves, its time)
            init = Path(self.cfg.init_from) / "metrics.json"
            metrics["init_from"] = {"model": portable_path(self.cfg.init_from),
                                    **(json.loads(init.read_text()) if init.exists() else {})}
        return {"metrics.json": metrics, "training_args.json": self.cfg.portable_dict(),
                "data_fingerprint.json": self.data.fingerprint, EXAMPLES_FILE: self.data.examples}

    def _save_state(self) -> None:
        if not self.accelerator.is_main_process:
            return
        tensors = {f"ema.{n}": t for n, t in (self.ema.tensors if self.ema else {}).items()}
        if self.bank is not None and self.bank.neighbours is not None:
            tensors["prototype_neighbours"] = self.bank.neighbours
        counters = {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                    "best": self.best, "history": self.history, "elapsed": self.elapsed}
        # the resume state keeps the paths as given (a resumed run reads its data again); the model records them portably
        save_state(self.run_dir, self._unwrapped(), self.optimizer, self.scheduler, counters,
                   {**self._extra_files(), "training_args.json": self.cfg.to_dict()}, tensors)

    def _load_state(self) -> None:
        counters, tensors = load_state(self.resume_dir, self.optimizer, self.scheduler)
        self._neighbours = tensors.pop("prototype_neighbours", None)
        if self.ema is not None:
            self.ema.tensors.update({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        self.step, self.epoch, self.batch_in_epoch = counters["step"], counters["epoch"], counters["batch_in_epoch"]
        self.best, self.history, self.elapsed = counters["best"], counters["history"], counters["elapsed"]

    def _averaged(self):
        return self.ema.applied(self._unwrapped()) if self.ema is not None else nullcontext()

    # ---- evaluation ----
    def evaluate(self) -> dict:
        return dev_figures(self._unwrapped(), self.dev)

    def _eval_and_save(self) -> None:
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process and not (self.history and self.history[-1]["step"] == self.step):
            record = {"step": self.step, "epoch": round(self.step / max(1, self.steps_per_epoch_local), 3),
                      "phase": "decoder" if self.step > self.joint_steps else "joint",
                      "seconds": round(self.elapsed, 1)}
            score = float(self.step)  # without a dev set the latest model is kept
            if self.dev is not None:
                t0 = time.time()
                with self._averaged():
                    record["dev"] = self.evaluate()
                record["eval_seconds"] = round(time.time() - t0, 1)
                score = record["dev"]["accuracy"]
            self.history.append(record)
            self._log({"eval": record})
            # After the joint phase the encoder (and so the accuracy) is the best one's; every decoder
            # improvement is kept. (The evaluation that ends the joint phase is judged on its accuracy.)
            if score > self.best or self.step > self.joint_steps:
                self.best = max(score, self.best)
                with self._averaged():
                    if self.bank is not None:  # the prototypes' keys from the weights being saved
                        self.bank.set_on(self._unwrapped(), self._frozen_rows, acc.device)
                    self._unwrapped().save_pretrained(self.model_dir, dtype=self.cfg.save_dtype,
                                                      extra_files=self._extra_files())
            self.model.train()
        acc.wait_for_everyone()

    def _checkpoint(self, evaluate: bool) -> None:
        if evaluate:
            self._eval_and_save()
        self.accelerator.wait_for_everyone()
        self._save_state()

    # ---- the decoder phase ----
    @property
    def in_decoder_phase(self) -> bool:
        return self.step >= self.joint_steps

    def _enter_decoder_phase(self) -> None:
        """Restore the best encoder, posterior and classifier (by dev accuracy), freeze them, add what the run's
        changes add for this phase (a content latent, trained from here on with the decoder; the prototype decoder),
        and compute once what the frozen part gives every training row: its posterior, or with a content latent its
        pooled encoder state. Idempotent, so a resumed run does the same."""
        model = self._unwrapped()
        if self.model_dir.exists():
            from safetensors.torch import load_file

            best = load_file(str(self.model_dir / "model.safetensors"))
            own = model.state_dict()
            model.load_state_dict({k: v.to(own[k].dtype) for k, v in best.items()
                                   if not k.startswith(("decoder.", "content_posterior.", "prototypes."))
                                   and k in own and own[k].shape == v.shape}, strict=False)
        if apply_changes(model, self.cfg.changes.additions(), self.cfg.seed):
            self.optimizer, self.scheduler = self.accelerator.prepare(
                *optimisation(model, self.cfg, self.joint_steps, self.decoder_steps, self.step))
            if self.ema is not None:
                self.ema.follow(model)
        for name, p in model.named_parameters():
            if not name.startswith(("decoder.", "content_posterior.")):
                p.requires_grad_(False)
        if self.ema is not None:
            self.ema.freeze(model)
        model.eval()
        with self.accelerator.autocast():
            self._frozen_rows = cache_frozen_part(model, self.dataset, model.content_posterior is not None,
                                                  self.accelerator.device)
        if model.config.prototype_tokens:
            self.bank = PrototypeBank(self.dataset)
            self.bank.neighbours = self._neighbours  # a resumed run keeps the ones it trained with
            self.bank.set_on(model, self._frozen_rows, self.accelerator.device)
        self.model.train()

    # ---- steps ----
    def _losses(self, batch: dict, beta: float) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if not self.in_decoder_phase:
            enc_ids = None
            if cfg.token_dropout > 0:
                special = self._unwrapped().special_ids
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
                protos = self.bank.rows_for(batch["index"]).to(rows.device) if self.bank is not None else None
                out = model.heads(post, post.sample(), batch["input_ids"], batch["attention_mask"], protos)
        # the information term waits for the labelled rows to shape the classifier: ramped over an epoch
        ramp = min(1.0, self.step / max(1, self.steps_per_epoch_local))
        info_weight = cfg.unlabelled_info_weight * ramp if not self.in_decoder_phase else 0.0
        # in the decoder phase only a content latent's KL has a gradient: its free bits apply
        free_bits = cfg.content_free_bits if self.in_decoder_phase and cfg.changes.content_dims else cfg.free_bits
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
        if self.ema is not None:
            self.ema.update(self._unwrapped(), self.step)
        self.batch_in_epoch += 1
        return {k: float(v.detach()) for k, v in parts.items()}

    def _log_window(self, window: list[dict], docs: int, bar) -> None:
        avg = {k: round(sum(w[k] for w in window) / len(window), 4) for k in window[0]}
        bar.set_postfix(phase="decoder" if self.in_decoder_phase else "joint", ce=avg["ce"],
                        rec=avg["recon_per_token"], bow=avg["bow_per_token"], kl=round(avg["kl"], 1),
                        beta=round(avg["beta"], 2))
        self._log({"step": self.step, "seconds": round(self.elapsed, 1), **avg,
                   "lr": self.scheduler.get_last_lr()[self._top_encoder_group],
                   "docs_per_s": round(docs / max(self.elapsed, 1e-9), 2)})

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
                    self._log_window(window, docs, bar)
                    window = []
                last = self.step >= self.total_steps or self.step == self.joint_steps  # the end of a phase
                stopped = stop_after_steps is not None and ran >= stop_after_steps
                evaluate = last or bool(cfg.eval_every and self.step % cfg.eval_every == 0)
                if evaluate or self.step % max(1, cfg.save_every) == 0:
                    self._checkpoint(evaluate=evaluate)
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


def dev_figures(model: TextVAE, dev) -> dict:
    """The figures of a training run's dev curve: accuracy and macro-F1, KL per document and the reconstruction per
    token (on the first 1,000 documents only: enough for a curve, at a third of the cost)."""
    from ..evaluate import classification_metrics

    out = model.forward_corpus(dev.texts, batch_size=64, progress=False, reconstruction=1000)
    y = encode_labels(dev.labels, model.labels, dev.source)
    m = classification_metrics(y, out.probs.argmax(-1).tolist(), model.labels)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "kl_per_doc": float(out.kl.mean()),
            "recon_per_token": float(out.recon_nll.sum() / out.recon_tokens.sum().clamp(min=1))}
