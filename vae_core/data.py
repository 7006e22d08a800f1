"""Read and validate corpora (CSV, Parquet, JSONL), label vocabularies, tokenising and batching."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import pandas as pd
import torch

SUPPORTED = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
UNLABELLED = -100


class DataError(ValueError):
    """A corpus file that cannot be used, with the file, the row and what to do."""

    def __init__(self, file: str | Path, problem: str, row: int | None = None, hint: str = ""):
        self.file, self.row, self.problem = str(file), row, problem
        where = f"{file}" + (f", row {row}" if row is not None else "")
        super().__init__(f"{where}: {problem}" + (f" {hint}" if hint else ""))


@dataclass
class Corpus:
    """A validated table: `texts`, `labels` (class names, None where a row has no label)."""

    texts: list[str]
    labels: list[str | None]
    source: str
    text_column: str
    label_column: str | None
    dropped_rows: int = 0  # bad rows left out (read_corpus(drop_bad_rows=True))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def has_labels(self) -> bool:
        return any(lab is not None for lab in self.labels)

    def fingerprint(self) -> dict:
        h = hashlib.sha256()
        for t, lab in zip(self.texts, self.labels):
            h.update(t.encode("utf-8") + b"\x00" + (lab or "").encode("utf-8") + b"\x01")
        counts: dict[str, int] = {}
        for lab in self.labels:
            if lab is not None:
                counts[lab] = counts.get(lab, 0) + 1
        return {
            "file": Path(self.source).name,
            "rows": len(self),
            "labelled_rows": sum(counts.values()),
            "label_counts": dict(sorted(counts.items())),
            "sha256": h.hexdigest(),
        }


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in SUPPORTED:
        raise DataError(path, f"unsupported file type '{suffix or '(none)'}'.", hint="Use .csv, .parquet or .jsonl.")
    return SUPPORTED[suffix]


NOT_UTF8_HINT = "Save the file as UTF-8 (for example: iconv -f latin1 -t utf-8 in.csv > out.csv)."


def _lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file, decoded one at a time so that a file of any size streams (a byte-order
    mark dropped; a line break is \\n, \\r\\n or a lone \\r, kept at the end of its line, as csv expects)."""
    with open(path, "rb") as f:
        offset = 0
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(path, f"line {n} holds bytes that are not UTF-8 (0x{raw[e.start]:02x} at byte "
                                f"{offset + e.start}).", hint=NOT_UTF8_HINT) from None
            if "\x00" in line:
                raise DataError(path, f"line {n} holds a NUL byte: the file looks binary or corrupt, not UTF-8 text.",
                                hint="Export it again as plain UTF-8 text.")
            if n == 1 and line.startswith("\ufeff"):
                line = line[1:]
            offset += len(raw)
            yield from io.StringIO(line, newline="")


def _csv_rows(path: Path) -> Iterator[list[str]]:
    """The header, then every non-empty row of a CSV file, checked as they are read."""
    # every cell as text, so that labels such as "1" or "NA" keep their spelling. A cell may be long (a whole
    # book): the reader's 128 KiB default is raised to 32 MiB.
    csv.field_size_limit(max(csv.field_size_limit(), 32 * 2**20))
    try:
        reader = csv.reader(_lines(path))
        header = next(reader, None)
        if header is None:
            raise DataError(path, "is empty.", hint="Give a CSV file with a header row and one document a row.")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise DataError(path, f"has duplicate column name(s): {', '.join(dupes)}.", hint="Give every column a unique name.")
        yield header
        for i, row in enumerate(reader, start=1):
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    path, f"has {len(row)} fields but the header has {len(header)}.", row=i,
                    hint="Quote texts that contain commas (\"like, this\").",
                )
            yield row
    except csv.Error as e:
        raise DataError(path, f"is not valid CSV ({e}).") from None


def _jsonl_rows(path: Path) -> Iterator[dict]:
    for i, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(path, f"line {i} is not valid JSON ({e.msg}).", hint="Each line must hold one JSON object.") from None
        if not isinstance(obj, dict):
            raise DataError(path, f"line {i} holds a JSON {type(obj).__name__}, not an object.", hint='Write one object a line: {"text": ..., "label": ...}.')
        yield obj


def _parquet_files(path: Path) -> list[Path]:
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise DataError(path, "is a folder without .parquet files.", hint="Give a file, or a folder of Parquet files.")
    return files


@contextmanager
def _parquet_errors(file: Path):
    try:
        yield
    except DataError:
        raise
    except Exception as e:  # pyarrow raises several types for a bad file
        raise DataError(file, f"is not a readable Parquet file ({type(e).__name__}: {e}).") from None


def _parquet_frames(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """A Parquet file, or a folder of them (in name order), in tables of `chunk_rows` rows."""
    import pyarrow.parquet as pq

    for file in _parquet_files(path):
        with _parquet_errors(file):
            for batch in pq.ParquetFile(file).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()


def _parquet_chunks(path: Path, columns: list[str], chunk_rows: int, max_rows: int | None,
                    wanted: Callable[[int], bool]) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first row, table) of the chunks i of `chunk_rows` rows of a Parquet file or folder (rows counted across
    its files in name order) for which `wanted(i)`: only the row groups those chunks lie in are read, and of
    them only `columns` (a file that lacks one gives a row of its column names, for the message). The row counts
    come from the files' footers, so a chunk's place is known without reading the chunks before it."""
    import pyarrow.parquet as pq

    groups, total = [], 0  # (file, its ParquetFile, row group, first row in the corpus, rows)
    for file in _parquet_files(path):
        with _parquet_errors(file):
            pf = pq.ParquetFile(file)
            for g in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                groups.append((file, pf, g, total, n))
                total += n
    if max_rows is not None and total > max_rows:
        raise DataError(path, f"has more than {max_rows:,} rows.", hint="Split the file or sample it.")
    if total == 0:
        yield 0, pd.DataFrame()
        return
    for i in range(-(-total // chunk_rows)):
        if not wanted(i):
            continue
        start, end = i * chunk_rows, min(total, (i + 1) * chunk_rows)
        pieces = []
        for file, pf, g, first, n in groups:
            if first + n <= start or first >= end:
                continue
            with _parquet_errors(file):
                names = pf.schema_arrow.names
                if any(c not in names for c in columns):  # its message names this file and its columns
                    yield start, pd.DataFrame([[None] * len(names)], columns=names)
                    return
                lo = max(start, first)
                table = pf.read_row_group(g, columns=columns).slice(lo - first, min(end, first + n) - lo)
                pieces.append(table.to_pandas())
        yield start, pd.concat(pieces, ignore_index=True)


def iter_frames(path: str | Path, chunk_rows: int = 4096, max_rows: int | None = None) -> Iterator[pd.DataFrame]:
    """A CSV / Parquet / JSONL file (or a folder of Parquet files) as consecutive tables of at most `chunk_rows`
    rows, read as they are needed: the first table always comes (it may be empty), so that its columns are known.
    Problems raise DataError where they are met."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "does not exist or is not a file.")
    fmt = "parquet" if path.is_dir() else file_format(path)
    seen, sent = 0, False

    def counted(frame: pd.DataFrame) -> pd.DataFrame:
        nonlocal seen
        seen += len(frame)
        if max_rows is not None and seen > max_rows:
            raise DataError(path, f"has more than {max_rows:,} rows.", hint="Split the file or sample it.")
        return frame

    if fmt == "parquet":
        buffer: list[pd.DataFrame] = []
        for frame in _parquet_frames(path, chunk_rows):  # files end in short tables: re-cut to chunk_rows
            buffer.append(frame)
            while sum(len(f) for f in buffer) >= chunk_rows:
                whole = pd.concat(buffer, ignore_index=True)
                yield counted(whole.iloc[:chunk_rows].reset_index(drop=True))
                sent, buffer = True, [whole.iloc[chunk_rows:].reset_index(drop=True)]
        rest = pd.concat(buffer, ignore_index=True) if buffer else pd.DataFrame()
        if len(rest) or not sent:
            yield counted(rest)
        return
    rows = _csv_rows(path) if fmt == "csv" else _jsonl_rows(path)
    header = next(rows) if fmt == "csv" else None
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == chunk_rows:
            yield counted(pd.DataFrame(chunk, columns=header, dtype=object) if header else pd.DataFrame(chunk))
            sent, chunk = True, []
    if chunk or not sent:
        yield counted(pd.DataFrame(chunk, columns=header, dtype=object) if header else pd.DataFrame(chunk))


def file_columns(path: str | Path) -> list[str]:
    """The columns of a CSV / Parquet / JSONL file (or a folder of Parquet files), read from its first rows."""
    path = Path(path)
    if path.exists() and (path.is_dir() or file_format(path) == "parquet"):
        import pyarrow.parquet as pq

        files = _parquet_files(path)
        if files:
            with _parquet_errors(files[0]):
                return list(pq.ParquetFile(files[0]).schema_arrow.names)
    return [str(c) for c in next(iter_frames(path, chunk_rows=1)).columns]


def optional_label_column(path: str | Path, label_column: str | None, default: str = "label") -> tuple[str | None, str | None]:
    """The label column to read where labels are optional (drift, index, report, evaluate): ("", None) -> none; a
    name given -> it (a file without it is refused where it is read); None -> `default` when the file has one, else
    none. Returns (the column or None, a line that says the file is read without labels, or None)."""
    if label_column is not None:
        return label_column or None, None
    columns = file_columns(path)
    if default in columns or not columns:  # no columns at all: reading it says what is wrong
        return default, None
    return None, (f"{Path(path).name} has no '{default}' column: read as a corpus without labels (name one with "
                  "--label-column)")


def _read_frame(path: Path, max_rows: int | None) -> pd.DataFrame:
    frames = list(iter_frames(path, chunk_rows=1 << 30, max_rows=max_rows))
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read_frame(path: str | Path, max_rows: int | None = None) -> pd.DataFrame:
    """The raw table of a CSV / Parquet / JSONL file (every CSV cell as text), for choosing columns;
    problems raise DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "does not exist or is not a file.")
    df = _read_frame(path, max_rows)  # an unsupported file type is refused by iter_frames
    if len(df.columns) == 0 or len(df) == 0:
        raise DataError(path, "has no rows.", hint="Give at least one document.")
    return df


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u00ad\u202a\u202b\u202c\u202d\u202e"))


def _visible(text: str) -> bool:
    """True when the text has a character a reader can see (not whitespace, zero-width or control)."""
    return any(c.isprintable() and not c.isspace() for c in text.translate(_INVISIBLE))


def _missing(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def read_corpus(
    path: str | Path,
    text_column: str = "text",
    label_column: str | None = "label",
    require_labels: bool = False,
    allow_unlabelled: bool = False,
    max_rows: int | None = None,
    drop_bad_rows: bool | None = None,
) -> Corpus:
    """Read and validate a corpus. Problems raise DataError naming the file, the row and the fix.

    label_column=None reads texts only. Rows with an empty label are an error unless
    `allow_unlabelled` (they then train reconstruction + KL only). Bad rows (no usable text or label) are named
    all at once in one error, or with `drop_bad_rows` left out (`Corpus.dropped_rows` says how many; None: the
    caller has no option to drop them, and the error does not offer one)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "does not exist or is not a file.")
    df = _read_frame(path, max_rows)  # an unsupported file type is refused by iter_frames
    if len(df) == 0:
        raise DataError(path, "has no rows.", hint="Give at least one document.")
    texts, labels, dropped = _validated(df, path, text_column, label_column, allow_unlabelled,
                                        drop_bad_rows=drop_bad_rows)
    if not texts:
        raise DataError(path, f"has no usable rows (all {dropped:,} were dropped as bad).")
    if label_column is not None and require_labels and all(lab is None for lab in labels):
        raise DataError(path, f"column '{label_column}' has no labels at all.")
    return Corpus(texts, labels, str(path), text_column, label_column, dropped_rows=dropped)


def iter_corpus(path: str | Path, text_column: str = "text", label_column: str | None = "label",
                chunk_rows: int = 4096, max_rows: int | None = None,
                wanted: Callable[[int], bool] | None = None) -> Iterator[tuple[int, Corpus]]:
    """A corpus file (or a folder of Parquet files) read and checked as `read_corpus` does, `chunk_rows` rows at
    a time: (the 0-based row of the chunk's first document, the chunk; chunk i starts at row i * chunk_rows).
    Rows without a label are kept (label None). Nothing holds more than one chunk. With `wanted`, only the
    chunks i for which `wanted(i)` are checked and given: of Parquet input only their row groups are read
    (each process of a sharded `index` reads its own share); CSV and JSONL have no index to seek by, so their
    lines are still read through, but only the wanted chunks' rows are checked."""
    path = Path(path)
    wanted = wanted or (lambda i: True)
    if path.exists() and (path.is_dir() or file_format(path) == "parquet"):
        columns = [c for c in (text_column, label_column) if c is not None]
        chunks: Iterator[tuple[int, pd.DataFrame]] = _parquet_chunks(path, columns, chunk_rows, max_rows, wanted)
    else:
        chunks = ((i * chunk_rows, df) for i, df in enumerate(iter_frames(path, chunk_rows, max_rows)))
    for first, df in chunks:
        if first == 0 and len(df) == 0:
            raise DataError(path, "has no rows.", hint="Give at least one document.")
        check_columns([str(c) for c in df.columns], path, text_column, label_column)
        if len(df) == 0 or not wanted(first // chunk_rows):
            continue
        texts, labels, _ = _validated(df, path, text_column, label_column, True, first + 1)
        yield first, Corpus(texts, labels, str(path), text_column, label_column)


def check_columns(cols: list[str], path: Path, text_column: str, label_column: str | None) -> None:
    for role, col in (("text", text_column), ("label", label_column)):
        if col is not None and col not in cols:
            raise DataError(path, f"has no {role} column '{col}'. Its columns are: {', '.join(cols)}.",
                            hint=f"Choose the {role} column with --{role}-column.")


SHOWN_BAD_ROWS = 10  # bad rows a message names


def _text_problem(value, text_column: str) -> str | None:
    if not isinstance(value, str):
        if _missing(value):
            return f"the text in column '{text_column}' is empty."
        return f"the text in column '{text_column}' is a {type(value).__name__}, not a string."
    if not value.strip():
        return f"the text in column '{text_column}' is empty."
    if not _visible(value):
        return f"the text in column '{text_column}' has no visible characters (only zero-width or control characters)."
    return None


def _label(value, label_column: str, allow_unlabelled: bool) -> tuple[str | None, str | None]:
    """(the label, None) or (None, what is wrong with it)."""
    if _missing(value):
        return None, None if allow_unlabelled else f"the label in column '{label_column}' is missing."
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip(), None
    if isinstance(value, float) and value.is_integer():
        return str(int(value)), None
    return None, (f"the label in column '{label_column}' is a {type(value).__name__} ({value!r}); labels must be "
                  "names or integers.")


def bad_rows_error(path: Path, bad: list[tuple[int, str]], can_drop: bool = False) -> DataError:
    """One error naming every bad row (the count and the first SHOWN_BAD_ROWS, each with its problem); `can_drop`:
    the command has --drop-bad-rows."""
    hint = "Fill them in or remove them" + (", or pass --drop-bad-rows to leave them out." if can_drop else ".")
    if any("label" in problem and "missing" in problem for _, problem in bad):
        hint += " A missing label can also train as unlabelled text with --allow-unlabelled."
    if len(bad) == 1:
        row, problem = bad[0]
        return DataError(path, problem, row=row, hint=hint.replace("them", "it").replace("rows", "row"))
    by_problem: dict[str, list[int]] = {}
    for row, problem in bad:
        by_problem.setdefault(problem.rstrip("."), []).append(row)
    parts = []
    for problem, rows in by_problem.items():
        more = f" and {len(rows) - SHOWN_BAD_ROWS:,} more" if len(rows) > SHOWN_BAD_ROWS else ""
        parts.append(f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows[:SHOWN_BAD_ROWS]))}{more}: {problem}")
    return DataError(path, f"{len(bad):,} rows cannot be used ({'; '.join(parts)}).", hint=hint)


def _validated(df: pd.DataFrame, path: Path, text_column: str, label_column: str | None, allow_unlabelled: bool,
               first_row: int = 1, drop_bad_rows: bool | None = None) -> tuple[list[str], list[str | None], int]:
    """The texts and labels of a table, each checked, and how many bad rows were dropped. Bad rows (rows counted
    from `first_row`) raise one DataError naming them all, or with `drop_bad_rows` are left out (None: the caller
    offers no option to drop them)."""
    check_columns([str(c) for c in df.columns], path, text_column, label_column)
    raw_labels = df[label_column].tolist() if label_column is not None else [None] * len(df)
    texts: list[str] = []
    labels: list[str | None] = []
    bad: list[tuple[int, str]] = []
    for i, (text, value) in enumerate(zip(df[text_column].tolist(), raw_labels), start=first_row):
        problem = _text_problem(text, text_column)
        label, label_problem = _label(value, label_column, allow_unlabelled) if label_column is not None else (None, None)
        if problem or label_problem:
            bad.append((i, problem or label_problem))
            continue
        texts.append(text)
        labels.append(label)
    if bad and not drop_bad_rows:
        raise bad_rows_error(path, bad, can_drop=drop_bad_rows is not None)
    return texts, labels, len(bad)


def label_vocabulary(corpus: Corpus) -> list[str]:
    names = sorted({lab for lab in corpus.labels if lab is not None})
    if len(names) < 2:
        raise DataError(corpus.source, f"needs at least two classes to train a classifier; found {len(names)} ({', '.join(names) or 'none'}).")
    return names


def encode_labels(labels: Sequence[str | None], names: Sequence[str], source: str = "labels") -> list[int]:
    index = {n: i for i, n in enumerate(names)}
    out = []
    for i, lab in enumerate(labels, start=1):
        if lab is None:
            out.append(UNLABELLED)
        elif lab not in index:
            raise DataError(source, f"label '{lab}' is not one of the model's classes ({', '.join(names)}).", row=i)
        else:
            out.append(index[lab])
    return out


def keep_labels_per_class(labels: list[int], n: int, seed: int) -> list[int]:
    """Keep `n` labels per class (chosen with `seed`); the rest become unlabelled."""
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        if y != UNLABELLED:
            by_class.setdefault(y, []).append(i)
    keep = {i for idx in by_class.values() for i in rng.sample(idx, min(n, len(idx)))}
    return [y if i in keep else UNLABELLED for i, y in enumerate(labels)]


def repeat_labelled(rows: list, labels: list[int], share: float) -> tuple[list, list[int]]:
    """Semi-supervised batches: repeat the labelled rows (whole copies) until they make up about `share`
    of the rows. Nothing changes when every row, or no row, has a label, or when they already do."""
    lab = [i for i, y in enumerate(labels) if y != UNLABELLED]
    n_unlab = len(labels) - len(lab)
    if not lab or not n_unlab or share <= 0 or len(lab) >= share * len(labels):
        return rows, labels
    copies = max(0, round(share * n_unlab / ((1 - share) * len(lab))) - 1)
    return rows + [rows[i] for i in lab] * copies, labels + [labels[i] for i in lab] * copies


# ----------------------------------------------------------------------------------------------
# Tokenised data and batching


class TokenizedDataset(torch.utils.data.Dataset):
    def __init__(self, input_ids: list[list[int]], labels: list[int]):
        self.input_ids, self.labels = input_ids, labels

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.input_ids[i], "label": self.labels[i], "index": i}


def tokenize_texts(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def collate(pad_id: int):
    def fn(rows: list[dict]) -> dict[str, torch.Tensor]:
        T = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), T), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n] = torch.tensor(r["input_ids"])
            mask[i, :n] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([r["label"] for r in rows]),
                "index": torch.tensor([r.get("index", -1) for r in rows])}

    return fn


def batches_by_length(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Row numbers in batches of similar length, the longest first (ties in row order): for one pass over a
    corpus with as little padding as possible."""
    idx = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [idx[i : i + batch_size] for i in range(0, len(idx), batch_size)]


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Shuffled batches of similar length (less padding): shuffle, sort within mega-batches of 50
    batches, cut into batches, shuffle the batches. Seeded by (seed, epoch)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed = list(lengths), batch_size, seed
        self.epoch = 0

    def for_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        idx = list(range(len(self.lengths)))
        rng = random.Random(self.seed * 100_003 + self.epoch)
        rng.shuffle(idx)
        mega = self.batch_size * 50
        out = []
        for m in range(0, len(idx), mega):
            chunk = sorted(idx[m : m + mega], key=lambda i: -self.lengths[i])
            out += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        rng.shuffle(out)
        return out

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)


def build_decoder_vocab(token_ids: Sequence[Sequence[int]], size: int, always: Sequence[int]) -> list[int]:
    """The `size` most frequent token ids of a corpus (ties by id), plus `always` (eos, unk)."""
    counts: dict[int, int] = {}
    for row in token_ids:
        for t in row[1:]:  # the first token ([CLS]) is never a target
            counts[t] = counts.get(t, 0) + 1
    ranked = sorted(counts, key=lambda t: (-counts[t], t))
    chosen = [t for t in always]
    for t in ranked:
        if len(chosen) >= size:
            break
        if t not in chosen:
            chosen.append(t)
    return sorted(chosen)
