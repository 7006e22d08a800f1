"""Finding finished models on disk, and what a checkpoint says about itself before it is loaded.

A *finished model* is a checkpoint folder (config.json and model.safetensors) that is not a training run's
resumable state (`RUN/resume`, which also holds state.json and the optimiser) and not a folder being written
(hidden names such as `.model.tmp-…`). `find_models` accepts a model folder, a run folder (`RUN/model`), or a
folder of either, and never follows a link out of the folder it was given.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

RUN_STATE_FILES = ("state.json", "optimizer.safetensors")  # what a run's resume/ holds and a model does not
EXAMPLES_FILE = "examples.json"
EXAMPLES_PER_CLASS = 3


@dataclass(frozen=True)
class ModelEntry:
    """A finished model as a picker shows it."""

    name: str  # the run folder's name for RUN/model, else the folder's own name
    folder: Path
    labels: tuple[str, ...]
    dev_accuracy: float | None
    modified: float  # model.safetensors' mtime (seconds since the epoch)

    def summary(self) -> str:
        """One line: classes and dev accuracy, for a picker's caption."""
        shown = ", ".join(self.labels[:6]) + (f" and {len(self.labels) - 6} more" if len(self.labels) > 6 else "")
        acc = f" · dev accuracy {self.dev_accuracy:.3f}" if self.dev_accuracy is not None else ""
        return f"{len(self.labels)} classes ({shown}){acc}"


def is_finished_model(folder: Path) -> bool:
    return (
        folder.is_dir()
        and not folder.name.startswith(".")
        and (folder / "config.json").is_file()
        and (folder / "model.safetensors").is_file()
        and not any((folder / f).exists() for f in RUN_STATE_FILES)
    )


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def display_name(folder: str | Path) -> str:
    """How a user knows a model: its run's name for RUN/model (what `train` writes), else its folder's name."""
    folder = Path(folder)
    return folder.parent.name if folder.name == "model" and folder.parent.name else folder.name


def describe(folder: Path, name: str | None = None) -> ModelEntry:
    """What a checkpoint folder says about itself (labels.json, metrics.json), without loading weights."""
    labels = _read_json(folder / "labels.json")
    if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)):
        config = _read_json(folder / "config.json")
        labels = config.get("labels", []) if isinstance(config, dict) else []
    metrics = _read_json(folder / "metrics.json")
    acc = metrics.get("best_dev_accuracy") if isinstance(metrics, dict) else None
    evaluation = _read_json(folder / "evaluation.json")
    if isinstance(evaluation, dict) and isinstance(evaluation.get("accuracy"), (int, float)):
        acc = evaluation["accuracy"]  # a full evaluation, where one was written, over the training-time one
    if not isinstance(acc, (int, float)) or acc < 0:
        acc = None
    return ModelEntry(name or display_name(folder), folder, tuple(str(x) for x in labels), acc,
                      (folder / "model.safetensors").stat().st_mtime)


def find_models(root: str | Path) -> list[ModelEntry]:
    """Finished models in `root` (itself a model, a run folder, or a folder of models and runs), newest first.
    Folders reached through a link that leaves `root`, hidden folders and runs' resume states are skipped;
    two models that would show the same name are told apart by their parent folder."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        return []
    found: list[Path] = []

    def visit(folder: Path, depth: int) -> None:
        try:
            real = folder.resolve()
        except OSError:
            return
        if real != root and root not in real.parents:
            return  # a link out of the folder the user named
        if is_finished_model(real):
            found.append(real)
            return
        if depth == 0 or folder.name.startswith(".") or not real.is_dir():
            return
        try:
            children = sorted(p for p in real.iterdir() if p.is_dir() and p.name not in ("resume", "index"))
        except OSError:
            return
        for child in children:
            visit(child, depth - 1)

    visit(root, 2)  # root, its children (models or runs), their children (RUN/model)
    entries = [describe(p) for p in dict.fromkeys(found)]
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.name] = counts.get(e.name, 0) + 1
    entries = [describe(e.folder, f"{e.folder.parent.name}/{e.folder.name}") if counts[e.name] > 1 else e
               for e in entries]
    return sorted(entries, key=lambda e: (-e.modified, e.name))


def pick_examples(texts: Sequence[str], labels: Sequence[str | None], per_class: int = EXAMPLES_PER_CLASS,
                  seed: int = 0, min_chars: int = 60, max_chars: int = 300) -> dict[str, list[str]]:
    """A few example texts of each class from a training corpus, for the app to offer: texts of a readable
    length (`min_chars`..`max_chars`, or the shortest of the class when none is), drawn with `seed`."""
    by_class: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        if label is not None and str(label) != "" and text and text.strip():
            by_class.setdefault(str(label), []).append(" ".join(text.split()))
    rng = random.Random(seed)
    out = {}
    for label in sorted(by_class):
        pool = by_class[label]
        fitting = sorted({t for t in pool if min_chars <= len(t) <= max_chars})
        if len(fitting) < per_class:
            fitting += [t for t in sorted(set(pool), key=len) if t not in fitting][: per_class - len(fitting)]
            fitting = [t if len(t) <= max_chars else t[:max_chars].rsplit(" ", 1)[0] + " …" for t in fitting]
        out[label] = rng.sample(fitting, min(per_class, len(fitting)))
    return out


def read_examples(folder: str | Path, labels: Sequence[str]) -> dict[str, list[str]]:
    """The checkpoint's example texts (examples.json), for the classes the model has, in its class order; {}
    when it has none or the file is not what it should be."""
    data = _read_json(Path(folder) / EXAMPLES_FILE)
    if not isinstance(data, dict):
        return {}
    out = {}
    for label in labels:
        texts = data.get(label)
        if isinstance(texts, list):
            texts = [t for t in texts if isinstance(t, str) and t.strip()]
            if texts:
                out[label] = texts
    return out


def list_corpora(model_folder: Path) -> dict[str, Path]:
    """Index tables of a model (MODEL/index/*.parquet), by name (the app's sidebar lists them so)."""
    index_dir = Path(model_folder) / "index"
    if not index_dir.is_dir():
        return {}
    return {p.stem: p for p in sorted(index_dir.glob("*.parquet")) if p.is_file()}
