"""The bundled model: `build-default` trains `train`'s default recipe on the AG News files and finishes it on the
whole dev file (`finish.finish_model`), assembled beside the shipped folder and swapped in."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from .finish import Finish, finish_model


def default_base_config(data_dir: Path, run_dir: str, seed: int = 0, init_from: str | None = None):
    """The run `build-default` trains: `train`'s default recipe on the AG News files, with the command's run folder
    and seed (and `init_from`: the decoder stages alone on that checkpoint)."""
    from .config import TrainConfig

    return TrainConfig(train_file=str(data_dir / "train.csv"), dev_file=str(data_dir / "dev.csv"), output_dir=run_dir,
                       seed=seed, init_from=init_from)


def build_default(data_dir: Path, output: Path, run_dir: str, seed: int = 0, given: dict | None = None,
                  resume: bool = False, init_from: str | None = None, evaluate_only: bool = False,
                  rebuild_command: str = "", shown_as: str | None = None, say: Callable[[str], None] = print) -> dict:
    """`build-default`: `train`'s default recipe on the AG News files in `data_dir` (unless `evaluate_only`: the
    model in `output` as it is), then finished on the whole dev file (`finish_model`: calibration, every figure with
    every document decoded, the card, the dev index), assembled beside `output` and swapped in. Returns the
    evaluation."""
    import json
    import shutil

    from .card import AG_NEWS_METADATA, AG_NEWS_NOTE
    from .catalog import EXAMPLES_FILE, pick_examples
    from .config import VAEConfig, portable_path
    from .data import read_corpus
    from .files import atomic_replace_dir
    from .recipe import DEFAULT_RECIPE, run_recipe

    t0 = time.time()
    if evaluate_only:
        # the shipped model as it is, evaluated, documented and indexed again (after a change to decoding)
        folder = output
        previous = json.loads((output / "evaluation.json").read_text()) if (output / "evaluation.json").exists() else {}
        train_minutes = previous.get("train_wall_minutes")
    else:
        base = default_base_config(data_dir, run_dir, seed, init_from)
        # a resumed build continues the stage it was in; finished stages are kept. The evaluation below is the
        # whole dev file's, so the recipe's closing one is not run.
        folder = run_recipe(DEFAULT_RECIPE, base, VAEConfig(), given or {},
                            resume=resume and (Path(run_dir) / "recipe.json").exists(), closing=False)
        train_minutes = round((time.time() - t0) / 60, 1)
    # Everything below reads and writes the shipped folder itself, assembled beside it and swapped in.
    staging = output.with_name(f".{output.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(folder, staging)
    if not (staging / EXAMPLES_FILE).exists():  # a model trained before checkpoints carried examples
        train = read_corpus(data_dir / "train.csv")
        (staging / EXAMPLES_FILE).write_text(json.dumps(pick_examples(train.texts, train.labels, seed=seed), indent=2)
                                             + "\n")
    dev = read_corpus(data_dir / "dev.csv")
    extra = {"file": portable_path(data_dir / "dev.csv")}
    if train_minutes is not None:
        extra["train_wall_minutes"] = train_minutes
    res = finish_model(staging, dev.texts, dev.labels, Finish(
        seed=seed, extra=extra, index=(staging / "index" / "ag_news_dev.parquet",
                                       {"model": output.name, "source": "ag_news/dev.csv"}),
        card={"data_note": AG_NEWS_NOTE, "rebuild_command": rebuild_command, "name": output.name,
              "load_path": shown_as or str(output), "metadata": AG_NEWS_METADATA}), say=say)
    atomic_replace_dir(staging, output)
    say(f"default model rebuilt in {(time.time() - t0) / 60:.1f} min -> {output}")
    return res
