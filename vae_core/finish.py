"""Finishing a trained model, in one place for `train`, `build-default` and `calibrate`: one pass over the dev
corpus (`TextVAE.forward_corpus`) that calibration, the evaluation and the dev index all read; then the evaluation
and the model card written, and the index when asked for."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .calibration import calibrate_model, calibration_line


@dataclass
class Finish:
    """What finishing does besides calibrating on all of the corpus."""
    evaluation_rows: Sequence[int] | None = None  # rows evaluated (None: all)
    generation_rows: int | None = None  # of those, decoded and read back (None: all, 0: none)
    card: dict = field(default_factory=dict)  # write_card's keywords (name, load_path, data note ...)
    keep: dict = field(default_factory=dict)  # figures kept from before unless measured again (e.g. decoding's)
    extra: dict = field(default_factory=dict)  # further entries of evaluation.json
    index: tuple[Path, dict] | None = None  # an index of the whole corpus to write: (file, its metadata)
    refresh_indexes: bool = False  # bring the probabilities of the model's own indexes to the new temperature
    seed: int = 0


def finish_model(folder: str | Path, texts: Sequence[str], labels: Sequence[str | None], how: Finish,
                 say: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Calibrate, evaluate, document (and index) the checkpoint in `folder` on a labelled corpus, reading it once:
    the temperature is fitted on every labelled document (`calibration.calibrate_model`: config.json and
    calibration.json), the evaluation's figures are those of `how.evaluation_rows` at that temperature, the card
    and evaluation.json are written, with `how.index` the corpus' index too, and with `how.refresh_indexes` the
    probabilities of the model's own indexes brought to the new temperature. Returns the evaluation."""
    from .card import write_card
    from .evaluate import evaluate_model
    from .indexing import Indexer, refresh_probabilities
    from .modeling import TextVAE

    folder = Path(folder)
    t0 = time.time()
    model = TextVAE.from_pretrained(folder)
    rows = list(range(len(texts))) if how.evaluation_rows is None else list(how.evaluation_rows)
    gen = len(rows) if how.generation_rows is None else min(how.generation_rows, len(rows))
    # the reconstruction is the evaluation's: of the evaluated rows only
    passed = model.forward_corpus(texts, progress=progress,
                                  reconstruction=True if how.evaluation_rows is None else rows)
    say(calibration_line(calibrate_model(model, folder, passed.logits.numpy(), labels, how.seed)))
    passed.temperature = model.config.temperature
    evaluated = passed if how.evaluation_rows is None else passed.take(rows)
    if rows:
        say(f"evaluating on {len(rows):,} documents ({gen:,} decoded and read back)")
    res = evaluate_model(model, [texts[i] for i in rows], [labels[i] for i in rows], generation_rows=gen,
                         progress=progress, seed=how.seed, corpus_pass=evaluated)
    res = {**how.keep, **res, **how.extra, "evaluation_seconds": round(time.time() - t0, 1)}
    write_card(folder, res, **how.card)
    if how.index is not None:
        path, meta = how.index
        Indexer(model, seed=how.seed, progress=progress).build_file(texts, labels, path, meta, corpus_pass=passed)
    for path in sorted((folder / "index").glob("*.parquet")) if how.refresh_indexes else []:
        refresh_probabilities(model, path)
        say(f"probabilities of {path} brought up to date")
    return res


def recalibrate(folder: str | Path, data: str | Path, text_column: str = "text", label_column: str = "label",
                seed: int = 0, say: Callable[[str], None] = print) -> dict:
    """`calibrate`: the temperature fitted again on labelled `data` (`finish_model`, no decoding), the card rewritten,
    and the probabilities of the model's own indexes brought up to date (`indexing.refresh_probabilities`). When the
    evaluation before was on the same file, what it measured and this one does not (decoding's figures: the
    temperature does not change them, since the decoder reads the unscaled probabilities) is kept; of another
    file's evaluation only the training time. Returns the evaluation."""
    import json

    from .catalog import display_name
    from .config import portable_path
    from .data import read_corpus

    folder = Path(folder)
    corpus = read_corpus(data, text_column, label_column, require_labels=True)
    before = folder / "evaluation.json"
    previous = json.loads(before.read_text()) if before.exists() else {}
    same_file = previous.get("file") == portable_path(data)
    res = finish_model(folder, corpus.texts, corpus.labels, Finish(
        generation_rows=0, seed=seed, refresh_indexes=True,
        keep={k: v for k, v in previous.items()  # the ECE without temperature stands only beside a temperature
              if (same_file and k != "ece_unscaled") or k == "train_wall_minutes"},
        extra={"file": portable_path(data)}, card={"name": display_name(folder), "load_path": portable_path(folder)}),
        say=say)
    if previous and not same_file:
        say(f"evaluation.json now holds the figures on {Path(data).name}, without decoding: run `evaluate MODEL --data "
            f"{data} --write-card` for the decoded-text figures")
    return res
