"""Label corrections: what a reviewer decided about a corpus' labels, kept in a plain append-only log beside the
corpus, never in the data file the corpus came from.

**The log** is a JSON Lines file, `<corpus>.corrections.jsonl`, one object a line, appended to and never rewritten:

    {"v": 1, "id": "3f2a…", "row": 17, "text_sha256": "9c1e…", "old": "Business", "new": "Sci/Tech",
     "status": "relabel", "time": "2026-12-07T22:41:03Z", "view": "debug/suspects"}

- `row`: the document's 0-based row in the corpus (the data file's row, counted without its header);
- `text_sha256`: the sha256 of its text, so that a log is refused when the corpus under it changed;
- `old`: the label as given in the data file; `new`: the label it gets (`relabel`; `keep` confirms the given one);
- `status`: `relabel`, `keep`, `ambiguous` (the label stays, the row is flagged), `exclude` (left out of the export),
  or `undo` (with `undoes`: the id of the line it takes back);
- `time` (UTC) and `view`: when and where in the app (or the CLI) it was decided.

A row's decision is its latest line that no `undo` took back. Writers take an exclusive lock on the file for each
append (fcntl), so two browser sessions correcting the same corpus lose nothing; every read reads the whole file, so
each sees the other's work and a restart keeps it.

**Where logs live** (`log_path`): beside the model's indexes, `<model>/corrections/`, for a model in the user's own
folders; for a model inside this repository (the bundled ones), an installed package or a folder the user cannot
write, in the per-user data folder (`$VAE_DATA_DIR`, else `$XDG_DATA_HOME/vae-explorer`, else
`~/.local/share/vae-explorer`), under `corrections/<model name>-<hash of its path>/`. A corpus name becomes a file
name only when it is a plain name (`safe_name`): a name from a link or a form never reaches a path outside those
folders.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

STATUSES = ("relabel", "keep", "ambiguous", "exclude")
UNDO = "undo"
VERSION = 1
SUFFIX = ".corrections.jsonl"
REPO = Path(__file__).resolve().parent.parent
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,127}")


class CorrectionError(ValueError):
    """A correction that cannot be taken, or a log that does not match its corpus; says what to do."""


def text_hash(text: str) -> str:
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()


def safe_name(name: str) -> str:
    """A corpus or model name fit to be a file name: letters, digits, '.', '_', '-' and spaces, not starting with a
    dot or a separator, without '..'. Anything else (a path, `../x`, an absolute name) raises CorrectionError."""
    name = str(name)
    if not _NAME.fullmatch(name) or ".." in name or name.strip() != name:
        raise CorrectionError(f"'{name}' is not a plain corpus name (letters, digits, '.', '_', '-' and spaces, "
                              "not a path): pick the corpus by its name in the list.")
    return name


def user_data_dir() -> Path:
    """The per-user folder for what the app writes about models it may not write into."""
    if os.environ.get("VAE_DATA_DIR"):
        return Path(os.environ["VAE_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "vae-explorer"


def _writable_own_folder(folder: Path) -> bool:
    """A model folder the user owns: writable, and not inside this repository or an installed package."""
    folder = folder.resolve()
    inside = [REPO] + [Path(p).resolve() for p in _package_roots()]
    if any(folder == root or root in folder.parents for root in inside):
        return False
    return os.access(folder, os.W_OK)


def _package_roots() -> list[str]:
    import site
    import sysconfig

    roots = {sysconfig.get_paths().get("purelib"), sysconfig.get_paths().get("platlib")}
    try:
        roots |= set(site.getsitepackages())
    except AttributeError:  # a virtualenv's old site module
        pass
    return [r for r in roots if r]


def log_folder(model_folder: str | Path) -> Path:
    """Where the logs of a model's corpora live (see the module's docstring)."""
    model_folder = Path(model_folder)
    if _writable_own_folder(model_folder):
        return model_folder / "corrections"
    key = hashlib.sha256(str(model_folder.resolve()).encode()).hexdigest()[:10]
    return user_data_dir() / "corrections" / f"{safe_name(model_folder.name)}-{key}"


def log_path(model_folder: str | Path, corpus_name: str) -> Path:
    """The log of corpus `corpus_name` of the model in `model_folder`; the name is checked by `safe_name`."""
    return log_folder(model_folder) / f"{safe_name(corpus_name)}{SUFFIX}"


@dataclass(frozen=True)
class Decision:
    """A row's standing decision: its latest line that no undo took back."""
    id: str
    row: int
    old: str | None
    new: str | None
    status: str
    time: str
    view: str

    @property
    def label(self) -> str | None:
        """The label the row has now (None: excluded)."""
        if self.status == "exclude":
            return None
        return self.new if self.status == "relabel" else self.old


@contextmanager
def _locked(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            f.flush()
            os.fsync(f.fileno())
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class CorrectionLog:
    """The corrections of one corpus: `texts` and `labels` are the corpus' (as given), `classes` the model's."""

    def __init__(self, path: str | Path, texts: Sequence[str], labels: Sequence[str | None], classes: Sequence[str]):
        self.path = Path(path)
        self.texts = list(texts)
        self.labels = [None if lab is None or lab != lab else str(lab) for lab in labels]
        self.classes = list(classes)
        self._hashes: dict[int, str] = {}

    @classmethod
    def of(cls, model_folder: str | Path, corpus_name: str, corpus, classes: Sequence[str]) -> "CorrectionLog":
        """The log of a corpus (`index.CorpusIndex`) of a model."""
        return cls(log_path(model_folder, corpus_name), corpus.df["text"].tolist(), corpus.df["label"].tolist(), classes)

    def row_hash(self, row: int) -> str:
        if row not in self._hashes:
            self._hashes[row] = text_hash(self.texts[row])
        return self._hashes[row]

    # ---- reading ----
    def lines(self) -> list[dict]:
        """Every line of the log, in order (a line still being written is left out); checked against the corpus."""
        if not self.path.is_file():
            return []
        out = []
        with open(self.path, encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.endswith("\n"):
                    break  # another process is writing it
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise CorrectionError(f"{self.path} line {n} is not JSON ({e.msg}): the log was edited by hand. "
                                          "Fix or remove that line.") from None
                out.append(rec)
        self._check(out)
        return out

    def _check(self, lines: list[dict]) -> None:
        for rec in lines:
            if rec.get("status") == UNDO:
                continue
            row = rec.get("row")
            if not isinstance(row, int) or not 0 <= row < len(self.texts) or rec.get("text_sha256") != self.row_hash(row):
                raise CorrectionError(
                    f"The corrections log {self.path} does not match this corpus: row {row}'s text is not the one "
                    f"corrected on {rec.get('time', '?')} (the corpus was indexed again from a changed file, or the log "
                    "belongs to another corpus). Move the log aside to start again, or index the file it was made for.")

    def decisions(self) -> dict[int, Decision]:
        """Each reviewed row's standing decision."""
        lines = self.lines()
        undone = {rec.get("undoes") for rec in lines if rec.get("status") == UNDO}
        out: dict[int, Decision] = {}
        for rec in lines:
            if rec.get("status") == UNDO or rec["id"] in undone:
                continue
            out[int(rec["row"])] = Decision(rec["id"], int(rec["row"]), rec.get("old"), rec.get("new"), rec["status"],
                                            rec.get("time", ""), rec.get("view", ""))
        return out

    def corrected_labels(self, decisions: dict[int, Decision] | None = None) -> list[str | None]:
        """The corpus' labels as corrected (None: excluded, or unlabelled)."""
        decisions = self.decisions() if decisions is None else decisions
        return [decisions[i].label if i in decisions else lab for i, lab in enumerate(self.labels)]

    # ---- writing ----
    def _append(self, records: list[dict]) -> None:
        with _locked(self.path) as f:
            for rec in records:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def record(self, rows: Iterable[int], status: str, new: str | None = None, view: str = "") -> list[str]:
        """Decide `status` (`new` for a relabel) for each row; returns the new lines' ids."""
        if status not in STATUSES:
            raise CorrectionError(f"'{status}' is not a decision; choose one of {', '.join(STATUSES)}.")
        if status == "relabel":
            if new not in self.classes:
                raise CorrectionError(f"'{new}' is not one of the model's classes ({', '.join(self.classes[:12])}"
                                      f"{' …' if len(self.classes) > 12 else ''}).")
        else:
            new = None
        rows = [int(r) for r in rows]
        bad = [r for r in rows if not 0 <= r < len(self.texts)]
        if bad:
            raise CorrectionError(f"row {bad[0]} is not in this corpus of {len(self.texts):,} documents.")
        self.lines()  # a stale log is refused before anything is added to it
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        records = [{"v": VERSION, "id": uuid.uuid4().hex, "row": r, "text_sha256": self.row_hash(r), "old": self.labels[r],
                    "new": new, "status": status, "time": now, "view": str(view)[:80]} for r in rows]
        self._append(records)
        return [rec["id"] for rec in records]

    def undo(self, ids: Sequence[str], view: str = "") -> int:
        """Take back the lines `ids` (e.g. one bulk decision); returns how many were taken back."""
        standing = {rec["id"] for rec in self.lines() if rec.get("status") != UNDO}
        taken = {rec.get("undoes") for rec in self.lines() if rec.get("status") == UNDO}
        ids = [i for i in ids if i in standing and i not in taken]
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._append([{"v": VERSION, "id": uuid.uuid4().hex, "status": UNDO, "undoes": i, "time": now,
                       "view": str(view)[:80]} for i in ids])
        return len(ids)


# ---- figures both ways ----
def accuracy_both_ways(pred: Sequence[str], given: Sequence[str | None], corrected: Sequence[str | None]) -> dict:
    """Accuracy of the predictions against the labels as given and as corrected (rows without a label, or
    excluded, left out of each)."""
    def acc(labels):
        pairs = [(p, y) for p, y in zip(pred, labels) if y is not None]
        return (sum(p == y for p, y in pairs) / len(pairs)) if pairs else float("nan"), len(pairs)

    a, n = acc(given)
    b, m = acc(corrected)
    return {"given": a, "given_rows": n, "corrected": b, "corrected_rows": m}


# ---- export ----
def export_frame(data_file: str | Path, log: CorrectionLog, text_column: str = "text", label_column: str = "label"):
    """The data file with its corrections: every original column in its order, the label replaced, `label_original`
    and `review` beside it, excluded rows left out. The file must hold the corpus' texts row for row."""
    from .data import read_frame

    df = read_frame(data_file)
    if text_column not in df.columns or label_column not in df.columns:
        raise CorrectionError(f"{data_file} has no column '{text_column}' or '{label_column}' (its columns: "
                              f"{', '.join(map(str, df.columns))}): give --text-column and --label-column.")
    if len(df) != len(log.texts):
        raise CorrectionError(f"{data_file} has {len(df):,} rows and the corpus {len(log.texts):,}: it is not the file "
                              "the corpus was indexed from.")
    decisions = log.decisions()
    for row in decisions:
        if text_hash(str(df[text_column].iat[row])) != log.row_hash(row):
            raise CorrectionError(f"row {row} of {data_file} is not the text that was corrected: the file changed since "
                                  "it was indexed. Export from the file the corpus was indexed from.")
    out = df.copy()
    original = out[label_column].copy()
    labels = out[label_column].astype(object).to_numpy().copy()
    review = np.array([""] * len(out), dtype=object)
    keep = np.ones(len(out), dtype=bool)
    for row, d in decisions.items():
        review[row] = d.status
        if d.status == "relabel":
            labels[row] = d.new
        elif d.status == "exclude":
            keep[row] = False
    at = list(out.columns).index(label_column)
    out[label_column] = labels
    out.insert(at + 1, "label_original", original)
    out.insert(at + 2, "review", review)
    return out[keep].reset_index(drop=True)


def write_export(frame, path: str | Path) -> Path:
    """Write the corrected data in the format its name says (.csv, .parquet, .jsonl), atomically."""
    from .data import file_format
    from .files import atomic_path

    path = Path(path)
    fmt = file_format(path)
    with atomic_path(path) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        elif fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
    return path


def find_source(model_folder: str | Path, meta: dict, data: str | Path | None = None) -> Path:
    """The data file a corpus was indexed from: `data` when given, else the index's `source_path`, else its
    `source` in the repository's data folder (the bundled models') or beside the model."""
    if data is not None:
        if not Path(data).is_file():
            raise CorrectionError(f"{data} does not exist.")
        return Path(data)
    tried = []
    for candidate in (meta.get("source_path"), REPO / "assets" / "data" / str(meta.get("source", "")),
                      Path(model_folder).parent / str(meta.get("source", ""))):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
        if candidate:
            tried.append(str(candidate))
    raise CorrectionError("The data file this corpus was indexed from was not found (looked for "
                          f"{', '.join(tried) or 'nothing: the index names no file'}): give it with --data.")
