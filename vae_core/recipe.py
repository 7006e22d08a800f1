"""Training recipes: the stages one `train` run goes through, and the run's closing evaluation.

A recipe is a list of stages, each one training run (`train.Trainer`) that starts from the model of the stage
before it (`init_from`). `full`, the default, is what the bundled model is built with (benchmarks/RESULTS.md):
the joint phase, a decoder phase that adds a 64-dimension content latent, and a second decoder phase with 30%
word dropout. `quick` is a shorter look; `single` is one run with the options as given (a joint phase and its
decoder phase in one Trainer, as `train` was before recipes).

Run folder of a recipe (`--output-dir RUN`):
  RUN/recipe.json          the recipe, its stages and the options given (a resumed run reads it back)
  RUN/metrics.jsonl        every stage's log records, each tagged with its stage
  RUN/stages/<i>-<name>/   each stage's own run folder (model/, resume/, done.json once finished)
  RUN/model/               the last stage's model, with every stage's curves, its evaluation and its card
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import TrainConfig, VAEConfig
from .files import atomic_replace_dir, atomic_write


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    # TrainConfig (and ModelChanges) fields this stage sets over the recipe's base; `fixed` ones no option given by the user changes
    # (the joint stage has no decoder phase of its own: the decoder stages after it are that phase)
    settings: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    joint: bool = False  # trains every part from the encoder up; the other stages start from the model before


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    base: dict[str, Any]  # TrainConfig fields of every stage, unless an option given says otherwise
    stages: tuple[Stage, ...]


# the stages the full and quick recipes share
JOINT = Stage("joint", "joint phase: encoder, posterior, classifier and decoder together", fixed={"decoder_epochs": 0.0},
              joint=True)
CONTENT = Stage("content", "decoder phase: the decoder and a 64-dimension content latent on the frozen encoder")

RECIPES = {
    "full": Recipe(
        "full", "the bundled model's recipe: joint phase, content-latent decoder phase, second decoder phase",
        {"epochs": 5.0, "decoder_epochs": 5.0, "min_decoder_steps": 1500, "content_dims": 64, "content_free_bits": 3.0},
        (JOINT, CONTENT, Stage("second", "second decoder phase, 30% of the decoder's input words masked",
                               {"word_dropout": 0.3}))),
    "quick": Recipe(
        "quick", "a quick look: 2 joint epochs, then 2 epochs of the content-latent decoder phase",
        {"epochs": 2.0, "decoder_epochs": 2.0, "min_decoder_steps": 600, "content_dims": 64, "content_free_bits": 3.0},
        (JOINT, CONTENT)),
    "single": Recipe(
        "single", "one run with the options as given: the joint phase and its decoder phase",
        {}, (Stage("single", "joint phase, then the decoder phase", joint=True),)),
}
DEFAULT_RECIPE = "full"
# the options a recipe sets when they are not given (None in the command line's namespace)
RECIPE_FIELDS = ("epochs", "decoder_epochs", "min_decoder_steps", "content_dims", "content_free_bits", "word_dropout")
CLOSING_DOCUMENTS = 1000  # dev documents of the closing evaluation (a seeded sample of a larger dev file)
CLOSING_DECODED = 300  # of those, decoded and graded by the independent reader


@dataclass
class PlannedStage:
    index: int
    stage: Stage
    config: TrainConfig

    @property
    def folder(self) -> Path:
        return Path(self.config.output_dir)

    @property
    def done_file(self) -> Path:
        return self.folder / "done.json"


def plan(recipe: str | Recipe, base: TrainConfig, given: dict[str, Any] | None = None) -> list[PlannedStage]:
    """The stages of `recipe` as training configs. `base` holds the run's data, folder and options; `given` the
    options the user gave explicitly, which win over the recipe's in every stage (except a stage's fixed
    settings). With base.init_from the joint stage is left out: the decoder stages start from that model. A
    stage with no step to run (0 decoder epochs) is left out."""
    recipe = RECIPES[recipe] if isinstance(recipe, str) else recipe
    given = given or {}
    run = Path(base.output_dir)
    if recipe.name == "single":
        return [PlannedStage(1, recipe.stages[0], base.with_options(**given))]
    stages, previous = [], base.init_from
    for stage in recipe.stages:
        if stage.joint and base.init_from:
            continue
        settings = {**recipe.base, **stage.settings, **given, **stage.fixed}
        folder = run / "stages" / f"{len(stages) + 1}-{stage.name}"
        cfg = base.with_options(**settings, output_dir=str(folder), init_from=None if stage.joint else previous)
        if not stage.joint and not cfg.decoder_epochs:
            continue
        stages.append(PlannedStage(len(stages) + 1, stage, cfg))
        previous = str(folder / "model")
    if not stages:
        raise ValueError(f"the '{recipe.name}' recipe has nothing to train with these options "
                         "(--decoder-epochs 0 with --init-from leaves no stage).")
    return stages


def run_recipe(recipe: str, base: TrainConfig, model_config: VAEConfig | None = None,
               given: dict[str, Any] | None = None, resume: bool = False, closing: bool = True,
               index: bool = False) -> Path:
    """Train every stage of `recipe` into base.output_dir and return RUN/model. With `resume`, finished stages are
    skipped, the one in progress continues from its last saved step and the options are the saved run's. Then,
    with `closing`, the closing evaluation (`closing_evaluation`) writes the model's evaluation and card (and with
    `index` the dev file's index)."""
    from .training import train

    run = Path(base.output_dir)
    saved = run / "recipe.json"
    if resume:
        if not saved.exists():
            if (run / "resume" / "state.json").exists():  # a run of `train` from before recipes
                recipe, given = "single", {}
            else:
                raise FileNotFoundError(f"--resume: {run} holds no recipe run to continue; start without --resume.")
        else:
            info = json.loads(saved.read_text())
            recipe, given = info["recipe"], info["given"]
            base = dataclasses.replace(TrainConfig.from_dict(info["base"]), output_dir=str(run))
            if info.get("model"):  # the model options the run was started with (runs from before: today's)
                model_config = VAEConfig.from_dict(info["model"], str(saved))
    stages = plan(recipe, base, given)
    # under `accelerate launch` every process trains each stage; the run's own files are the first process' to write
    main = int(os.environ.get("RANK", "0")) == 0
    if recipe == "single":
        folder = train(stages[0].config, model_config, resume=resume)
        if closing and main:
            closing_evaluation(folder, stages[0].config, index=index)
        return folder
    log = run / "metrics.jsonl"
    if not resume and main:
        run.mkdir(parents=True, exist_ok=True)
        if (run / "stages").exists():  # an earlier run in this folder: its stages are not this run's
            shutil.rmtree(run / "stages")
        if log.exists():
            log.replace(run / "metrics.previous.jsonl")
        atomic_write(saved, json.dumps({"recipe": recipe, "given": given, "base": base.to_dict(),
                                        "model": model_config.to_dict() if model_config else None,
                                        "stages": [p.stage.name for p in stages]}, indent=2) + "\n")
    t0 = time.time()
    n = len(stages)
    trained = False
    for p in stages:
        if p.done_file.exists():
            if main:
                print(f"stage {p.index}/{n} ({p.stage.name}) finished earlier")
            continue
        trained = True
        again = resume and (p.folder / "resume" / "state.json").exists()
        if main:
            print(f"stage {p.index}/{n}: {p.stage.title}" + (" (continued)" if again else ""), flush=True)
        started = time.time()
        # the model's architecture goes to the first stage (the joint one builds the model from it); what a stage
        # changes in its model travels in its config (TrainConfig.changes); later stages start from the stage before
        folder = train(p.config, model_config if p.index == 1 else None, resume=again, log_path=log, stage=p.stage.name)
        if not main:
            continue
        metrics = json.loads((folder / "metrics.json").read_text())
        atomic_write(p.done_file, json.dumps({
            "stage": p.stage.name, "train_seconds": metrics.get("train_seconds"),
            "wall_seconds": round(time.time() - started, 1), "best_dev_accuracy": metrics.get("best_dev_accuracy"),
        }, indent=2) + "\n")
    if not main:
        return run / "model"
    if not trained and (run / "model" / "evaluation.json").exists():
        print(f"the run was finished: {run / 'model'}")  # a finished run resumed: nothing to do again
        return run / "model"
    final = combine_stages(run, stages, recipe)
    print(f"all {n} stages trained ({(time.time() - t0) / 60:.1f} min this session) -> {final}")
    if closing:
        closing_evaluation(final, stages[-1].config, index=index)
    return final


def combine_stages(run: Path, stages: list[PlannedStage], recipe: str) -> Path:
    """RUN/model: a copy of the last stage's model whose metrics.json holds every stage's curves one after the
    other (steps and epochs counted from the start of the run) and a summary of each stage."""
    last = stages[-1].folder / "model"
    tmp = run / f".model.tmp-{time.time_ns()}"
    shutil.copytree(last, tmp, ignore=shutil.ignore_patterns("index"))
    metrics = json.loads((tmp / "metrics.json").read_text())
    metrics.update(combined_metrics(run / "metrics.jsonl", stages), recipe=recipe)
    atomic_write(tmp / "metrics.json", json.dumps(metrics, indent=2, default=float) + "\n")
    atomic_replace_dir(tmp, run / "model")
    return run / "model"


def combined_metrics(log: Path, stages: list[PlannedStage]) -> dict:
    """Every stage's per-step records and evaluations, in order, with steps and epochs counted from the start
    of the run ("stage_step" keeps a stage's own count), and one summary per stage."""
    from .training.checkpoints import read_step_log

    steps, history, summary = [], [], []
    step0 = epoch0 = seconds = 0.0
    for p in stages:
        done = json.loads(p.done_file.read_text())
        own = read_step_log(log, p.stage.name)
        metrics = json.loads((p.folder / "model" / "metrics.json").read_text())
        for r in own:
            steps.append({**r, "stage": p.stage.name, "stage_step": r["step"], "step": int(step0 + r["step"])})
        for h in metrics.get("history", []):
            history.append({**h, "stage": p.stage.name, "step": int(step0 + h["step"]), "epoch": round(epoch0 + h["epoch"], 3)})
        last_step = max([r["step"] for r in own] + [h["step"] for h in metrics.get("history", [])] + [0])
        last_epoch = max([h["epoch"] for h in metrics.get("history", [])] + [0])
        summary.append({"index": p.index, "stage": p.stage.name, "title": p.stage.title, "first_step": int(step0) + 1,
                        "last_step": int(step0 + last_step), **{k: done.get(k) for k in
                                                              ("train_seconds", "wall_seconds", "best_dev_accuracy")}})
        step0, epoch0 = step0 + last_step, epoch0 + last_epoch
        seconds += done.get("train_seconds") or 0.0
    best = [s["best_dev_accuracy"] for s in summary if s["best_dev_accuracy"] is not None]
    return {"steps": steps, "history": history, "stages": summary, "train_seconds": seconds,
            "best_dev_accuracy": max(best) if best else None}


def closing_evaluation(folder: Path, cfg: TrainConfig, documents: int = CLOSING_DOCUMENTS,
                       decoded: int = CLOSING_DECODED, index: bool = False) -> dict | None:
    """Finish the trained model on its dev file (`finish.finish_model`, one pass over it): the temperature fitted on
    every dev document, every figure of `evaluate` on a seeded sample of `documents` rows (all when it has fewer),
    the first `decoded` of them decoded and graded by the independent reader against the whole sample; with
    `index`, the dev file's index for the app. Writes evaluation.json and the model card, prints the stage summary;
    None without a dev file."""
    import random

    from .card import write_card
    from .catalog import display_name
    from .config import portable_path
    from .data import read_corpus
    from .finish import Finish, finish_model

    # the card names the model by its run and says how to load it from where `train` was run, never by where
    # this machine keeps it
    card = {"name": display_name(folder), "load_path": portable_path(folder)}
    if not cfg.dev_file:
        print("no dev file: the closing evaluation is skipped (run `python -m vae_core evaluate MODEL --data FILE`)")
        write_card(folder, **card)
        return None
    dev = read_corpus(cfg.dev_file, cfg.text_column, cfg.label_column, require_labels=True,
                      drop_bad_rows=cfg.drop_bad_rows)
    rows = list(range(len(dev.texts)))
    random.Random(cfg.seed).shuffle(rows)
    source = Path(cfg.dev_file)
    how = Finish(evaluation_rows=rows[:documents], generation_rows=decoded, card=card, seed=cfg.seed,
                 extra={"file": portable_path(cfg.dev_file), "dev_rows": len(dev.texts)},
                 index=(folder / "index" / f"{source.stem}.parquet",
                        {"model": display_name(folder), "source": source.name, "source_path": str(source.resolve()),
                         "text_column": cfg.text_column, "label_column": cfg.label_column}) if index else None)
    res = finish_model(folder, dev.texts, dev.labels, how)
    print(stage_summary(json.loads((folder / "metrics.json").read_text()), res))
    return res


def stage_summary(metrics: dict, res: dict) -> str:
    """The table `train` prints at its end: each stage's time and dev accuracy, then the closing evaluation."""
    from .evaluate import reader_line

    lines = [""]
    if metrics.get("stages"):
        lines.append("stage                 steps   minutes   dev accuracy")
    for s in metrics.get("stages") or []:
        mins = (s.get("wall_seconds") or s.get("train_seconds") or 0) / 60
        acc = s.get("best_dev_accuracy")
        lines.append(f"{s['index']}. {s['stage']:<18} {s['last_step'] - s['first_step'] + 1:>5}   {mins:>7.1f}   "
                     + (f"{acc:.4f}" if acc is not None else "-"))
    lines.append("")
    if "accuracy" in res:
        lines.append(f"dev accuracy {res['accuracy']:.4f}, macro-F1 {res['macro_f1']:.4f} ({res['documents']:,} documents)")
    lines.append(f"decoded text ({res.get('generation_rows', 0)} documents): {reader_line(res)}")
    if "bleu4" in res:
        lines.append(f"BLEU-4 {res['bleu4']:.4f}; reconstruction perplexity {res['recon_perplexity']:.1f}")
    lines.append(f"(closing evaluation {res.get('evaluation_seconds', 0):.0f} s; every figure: "
                 "python -m vae_core evaluate MODEL --data DEV)")
    return "\n".join(lines)
