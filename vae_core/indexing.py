"""Indexing: the one way a corpus becomes an index (the table `corpus_index.INDEX_COLUMNS` describes). `Indexer` runs the
pipeline: encode the corpus in chunks -> parts -> fit the map on a sample of them (or place them on another map)
-> name the map's regions -> write. In memory (`train`'s index, build-default, the app's uploads and Compare,
`slices` on a data file) the corpus is one part; `python -m vae_core index` (also under `accelerate launch`)
streams its input in chunks of `chunk_rows` documents, chunk i encoded by process i mod P and written as its own
Parquet part (OUTPUT.parts/), so an interrupted run resumes from the parts already written, and writes the index
part by part with a manifest (OUTPUT.manifest.json). Nothing holds more than the 2-D positions, the map's sample
and the latents of one chunk (of PLACE_CHUNK rows while placing them)."""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .files import atomic_path
from .launch import warn_if_fewer_processes

CHUNK_ROWS = 4096
PART = "part-{:06d}.parquet"
TURN_ROWS = 256  # in the app: documents encoded per turn of the shared model (other sessions get theirs between)


def _run_key(model_folder: Path, data: Path, text_column: str, label_column: str | None, chunk_rows: int,
             seed: int) -> dict:
    """What the parts of a run depend on: a resumed run must agree on every item."""
    weights = model_folder / "model.safetensors"
    source = sorted(data.glob("*.parquet")) if data.is_dir() else [data]
    h = hashlib.sha256()
    for f in source:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return {"model": str(model_folder.resolve()), "weights_mtime_ns": weights.stat().st_mtime_ns if weights.exists() else 0,
            "source": str(data.resolve()), "source_stat": h.hexdigest()[:16], "text_column": text_column,
            "label_column": label_column, "chunk_rows": chunk_rows, "seed": seed}


def too_long_note(long: int, total: int, max_length: int, share: str = "") -> str | None:
    """What to tell a user when `long` of `total` documents are longer than the model reads; None when none is."""
    if not long:
        return None
    return (f"{long:,} of {total:,} documents{share} are longer than the model reads ({max_length} tokens): only "
            "their beginning is encoded.")


def posterior_uncertainty(model, mu: torch.Tensor, logvar: torch.Tensor, samples: int = 32,
                          seed: int = 0) -> dict[str, np.ndarray]:
    """An index's uncertainty columns (`outputs.SampledPredictions`): the spread of the predicted class's probability
    and the share of draws whose prediction differs from the one at mu."""
    from .outputs import Posterior

    device = next(model.parameters()).device
    s = Posterior(mu.to(device), logvar.to(device)).sampled_predictions(model, samples, seed)
    return {"prob_std": s.prob_std.float().cpu().numpy(), "flip_rate": s.flip_rate.cpu().numpy()}


def part_schema():
    """The columns of a part: the index's (`corpus_index.INDEX_COLUMNS`) but the map's (x, y, correct)."""
    import pyarrow as pa

    floats, vectors = pa.float32(), pa.list_(pa.float32())
    return pa.schema([("text", pa.string()), ("label", pa.string()), ("pred", pa.string()), ("confidence", floats),
                      ("prob_std", floats), ("flip_rate", floats), ("kl", floats), ("probs", vectors),
                      ("mu", vectors), ("logvar", vectors)])


def _vectors(matrix: np.ndarray):
    """An (N, D) matrix as an Arrow column of N float32 lists (no Python object per row)."""
    import pyarrow as pa

    m = np.ascontiguousarray(matrix, dtype=np.float32)
    offsets = pa.array(np.arange(len(m) + 1, dtype=np.int32) * m.shape[1])
    return pa.ListArray.from_arrays(offsets, pa.array(m.reshape(-1)))


class Part:
    """One encoded chunk of a corpus (the columns of `part_schema`): a Parquet file `encode_parts` wrote, or a
    table in memory."""

    def __init__(self, rows: int, path: Path | None = None, table=None, meta: dict | None = None):
        self.rows, self.path, self.table, self.meta = rows, path, table, meta or {}

    def read(self, columns: Sequence[str] | None = None):
        import pyarrow.parquet as pq

        if self.table is not None:
            return self.table if columns is None else self.table.select(list(columns))
        return pq.read_table(self.path, columns=list(columns) if columns is not None else None)


class Indexer:
    """The pipeline that turns a corpus into an index, on `model` (a TextVAE, or the app's Explorer, whose lock it
    takes for each stretch of encoding): `encode` (one chunk -> a part), `assemble` (the map fitted on a sample of
    the parts and every other document placed on it, or every document placed by `place`; the map's regions
    named), then `write` (a Parquet index, one row group a part) or `corpus` (a CorpusIndex in memory).
    `build` and `build_file` do all of it for a corpus in memory."""

    def __init__(self, model, projection: str = "umap", seed: int = 0, batch_size: int = 64,
                 turn_rows: int | None = None, progress: bool = False):
        from .inference import Explorer  # indexing sits above inference: the app's Explorer is what it borrows

        self.explorer = model if isinstance(model, Explorer) else Explorer(model)
        self.model = self.explorer.model
        self.projection, self.seed, self.batch_size = projection, seed, batch_size
        self.turn_rows, self.progress = turn_rows, progress  # turn_rows None: a chunk in one turn

    def too_long(self, texts: Sequence[str], share: str = "") -> str | None:
        """The note for documents longer than the model reads (`too_long_note`), None when there are none."""
        return too_long_note(self.explorer.count_too_long(texts), len(texts), self.model.config.max_length, share)

    # ---- 1. encode ----
    def encode(self, texts: Sequence[str], labels: Sequence[str | None] | None = None, chunk: int = 0,
               on_progress: Callable[[int, int, str], None] | None = None, corpus_pass=None):
        """One chunk of a corpus encoded (chunk i's posterior uncertainty drawn with seed + i): an Arrow table of
        `part_schema`'s columns. `on_progress(done, total, "encoding")` after every turn. A `corpus_pass` of these
        texts (`TextVAE.forward_corpus`, at the model's temperature) is read instead of encoding them again."""
        import pyarrow as pa

        texts, n = list(texts), len(texts)
        out = corpus_pass if corpus_pass is not None else self._forward(texts, on_progress)
        if len(out) != n:
            raise ValueError(f"the corpus pass has {len(out):,} rows for {n:,} texts.")
        with self.explorer.turn():
            unc = posterior_uncertainty(self.model, out.mu, out.logvar, seed=self.seed + chunk)
        probs = out.probs.numpy().astype(np.float32)
        return pa.table({
            "text": texts,
            "label": list(labels) if labels is not None else [None] * n,
            "pred": np.array(self.model.labels)[probs.argmax(-1)].tolist() if n else [],
            "confidence": probs.max(-1) if n else np.zeros(0, np.float32),
            "prob_std": unc["prob_std"].astype(np.float32),
            "flip_rate": unc["flip_rate"].astype(np.float32),
            "kl": out.kl.numpy().astype(np.float32),
            "probs": _vectors(probs),
            "mu": _vectors(out.mu.numpy()),
            "logvar": _vectors(out.logvar.numpy()),
        }, schema=part_schema())

    def _forward(self, texts: list[str], on_progress=None):
        """The pass over `texts`, turn_rows at a turn of the shared model."""
        from .outputs import CorpusPass

        n = len(texts)
        step = self.turn_rows or max(n, 1)
        passes = []
        for s in range(0, max(n, 1), step):
            with self.explorer.turn():
                passes.append(self.model.forward_corpus(texts[s : s + step], self.batch_size,
                                                        progress=self.progress and step >= n, reconstruction=False))
            if on_progress is not None:
                on_progress(min(s + step, n), n, "encoding")
        return CorpusPass.concat(passes)

    # ---- 2. map and regions ----
    def assemble(self, parts: Sequence[Part], place: Callable[[np.ndarray], np.ndarray] | None = None,
                 regions: bool = True, on_progress: Callable[[int, int, str], None] | None = None):
        """The map of the parts' documents: (xy (N, 2), named regions (None when not named), seconds spent placing). The map is fitted
        on a seeded sample of at most UMAP_FIT_SAMPLE latents (UMAP and PCA alike) and the rest placed
        PLACE_CHUNK rows at a time; with `place` ((N, L) latents -> (N, 2)) every document is placed by it instead
        (on another corpus' map) and no region is named. The regions are named on the map's sample."""
        import pyarrow as pa

        from .corpus_index import CorpusIndex, vector_matrix
        from .interpret.projection import map_sample, sampled_map

        offsets = np.concatenate([[0], np.cumsum([p.rows for p in parts])]).astype(int)
        n = int(offsets[-1])
        total = max(n, 1)
        if on_progress is not None:
            on_progress(n, total, "map")
        t0 = time.time()
        if place is not None:
            mu = np.concatenate([vector_matrix(p.read(["mu"]).column("mu")) for p in parts]) if n else np.zeros((0, 0))
            return place(mu), None, time.time() - t0
        sample = map_sample(n, self.seed)
        sample_table = pa.concat_tables([
            p.read(["text", "label", "pred", "probs", "mu"]).take(sample[(sample >= a) & (sample < b)] - a)
            for p, a, b in zip(parts, offsets[:-1], offsets[1:])])
        in_sample = np.zeros(n, dtype=bool)
        in_sample[sample] = True

        def rest():
            for p, a, b in zip(parts, offsets[:-1], offsets[1:]):
                rows = np.flatnonzero(~in_sample[a:b])
                if len(rows):
                    yield a + rows, vector_matrix(p.read(["mu"]).column("mu"))[rows]

        xy, placed_s = sampled_map(vector_matrix(sample_table.column("mu")), sample, n, rest(), self.projection,
                                   self.seed)
        named = None
        if regions:
            if on_progress is not None:
                on_progress(n, total, "regions")
            sdf = sample_table.to_pandas()
            sdf["x"], sdf["y"] = xy[sample, 0], xy[sample, 1]
            named = self.regions(CorpusIndex(sdf, {"labels": self.model.labels})) if n else []
        return xy, named, placed_s

    def regions(self, corpus) -> list:
        """The named regions of a corpus' map (`interpret.groups.map_regions`)."""
        from .interpret.groups import map_regions

        return map_regions(self.explorer, corpus, seed=self.seed)

    def meta(self, given: dict | None, rows: int, regions) -> dict:
        """An index's metadata: the model's classes, the map's method and seed, what the caller gives (model,
        source, ...), the row count and the named regions (none when None: not named)."""
        from .corpus_index import INDEX_VERSION

        meta = {"version": INDEX_VERSION, "labels": self.model.labels, "projection": self.projection,
                "seed": self.seed, **(given or {}), "rows": rows}
        return meta if regions is None else {**meta, "regions": [r.to_dict() for r in regions]}

    @staticmethod
    def _indexed(table, xy: np.ndarray):
        """A part's table with the map's columns (x, y, and whether the prediction is the label), in the index's
        column order."""
        import pyarrow as pa

        from .corpus_index import INDEX_COLUMNS

        label, pred = table.column("label").to_pylist(), table.column("pred").to_pylist()
        table = table.append_column("x", pa.array(xy[:, 0], pa.float32())).append_column("y", pa.array(xy[:, 1], pa.float32()))
        table = table.append_column("correct", pa.array([None if a is None else a == b for a, b in zip(label, pred)],
                                                        type=pa.bool_()))
        return table.select(list(INDEX_COLUMNS))

    # ---- 3. out ----
    def write(self, parts: Sequence[Part], xy: np.ndarray, output: Path, meta: dict) -> Path:
        """The index file: each part with its map columns as one row group, `meta` in the schema's metadata."""
        import pyarrow.parquet as pq

        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(output) as tmp:
            writer, start = None, 0
            try:
                for p in parts:
                    t = self._indexed(p.read(), xy[start : start + p.rows])
                    start += p.rows
                    if writer is None:
                        schema = t.schema.with_metadata({b"vae_index": json.dumps(meta).encode()})
                        writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                    writer.write_table(t.cast(schema))
            finally:
                if writer is not None:
                    writer.close()
        return output

    def corpus(self, parts: Sequence[Part], xy: np.ndarray, meta: dict):
        """The index in memory (a CorpusIndex), as `write` would have written it."""
        import pyarrow as pa

        from .corpus_index import CorpusIndex

        offsets = np.concatenate([[0], np.cumsum([p.rows for p in parts])]).astype(int)
        table = pa.concat_tables([self._indexed(p.read(), xy[a:b]) for p, a, b in zip(parts, offsets[:-1], offsets[1:])])
        return CorpusIndex.from_table(table, meta)

    # ---- all of it, for a corpus in memory (one part) ----
    def build(self, texts: Sequence[str], labels: Sequence[str | None] | None = None, meta: dict | None = None,
              on_progress: Callable[[int, int, str], None] | None = None,
              place: Callable[[np.ndarray], np.ndarray] | None = None, regions: bool = True):
        """A corpus in memory indexed: a CorpusIndex. See `assemble` for `place` and `regions`."""
        part = Part(len(texts), table=self.encode(texts, labels, on_progress=on_progress))
        xy, named, _ = self.assemble([part], place, regions, on_progress)
        return self.corpus([part], xy, self.meta(meta, part.rows, named))

    def build_file(self, texts: Sequence[str], labels: Sequence[str | None] | None, output: str | Path,
                   meta: dict | None = None, corpus_pass=None) -> Path:
        """A corpus in memory indexed into the file `output` (what `index` writes for the same corpus); from
        `corpus_pass` when one is given (see `encode`)."""
        part = Part(len(texts), table=self.encode(texts, labels, corpus_pass=corpus_pass))
        t0 = time.time()
        xy, named, _ = self.assemble([part])
        print(f"mapped and named {len(named)} regions of the map in {time.time() - t0:.1f} s")
        return self.write([part], xy, Path(output), self.meta(meta, part.rows, named))


def new_corpus_index(model, texts: Sequence[str], labels: Sequence[str | None] | None, reference, seed: int = 0,
                     batch_size: int = 64, progress: bool = True):
    """A new corpus encoded and placed on the reference's map (`on_map`; no map of its own is fitted, no region
    named): a CorpusIndex whose x, y are on the reference's map."""
    from .drift import on_map

    return Indexer(model, reference.meta.get("projection", "umap"), seed, batch_size, progress=progress).build(
        texts, labels, {"placed_on": reference.meta.get("source")}, place=lambda mu: on_map(reference, mu, seed))


def index_shared(explorer, texts: Sequence[str], labels: Sequence[str | None] | None = None, projection: str = "umap",
                 seed: int = 0, meta: dict | None = None, on_progress=None, place=None, regions: bool = True):
    """A corpus indexed in memory on a model the app's sessions share (an `inference.Explorer`): a CorpusIndex,
    TURN_ROWS documents at a turn of the model so that other users of it get theirs in between; `on_progress(done,
    total, stage)` is called after every turn and at the map and regions stages (raise from it to cancel). See
    `Indexer.assemble` for `place` and `regions`."""
    from .inference import MAX_CHARS

    texts = [t[:MAX_CHARS] for t in texts]
    return Indexer(explorer, projection, seed, turn_rows=TURN_ROWS).build(
        texts, labels, {"model": explorer.name, **(meta or {})}, on_progress, place, regions)


def refresh_probabilities(model, path: str | Path, seed: int | None = None) -> Path:
    """Rewrite an index's probability columns (probs, confidence, prob_std, flip_rate) from its stored posteriors
    with the model as it is now: after calibration gave the model a temperature, its indexes show the new
    probabilities without encoding the corpus again. Predictions, map and regions are kept."""
    from .corpus_index import read_index, write_index

    df, meta = read_index(path)
    mu = torch.as_tensor(np.stack(df["mu"].to_numpy()).astype(np.float32))
    logvar = torch.as_tensor(np.stack(df["logvar"].to_numpy()).astype(np.float32))
    with torch.no_grad():
        probs = model.class_probs(mu).float().numpy()
    unc = posterior_uncertainty(model, mu, logvar, seed=meta.get("seed", 0) if seed is None else seed)
    df["probs"] = list(probs.astype(np.float32))
    df["confidence"] = probs.max(-1).astype(np.float32)
    df["prob_std"], df["flip_rate"] = unc["prob_std"].astype(np.float32), unc["flip_rate"].astype(np.float32)
    return write_index(df, path, {k: v for k, v in meta.items() if k != "version"} | {"temperature": model.config.temperature})


def encode_parts(indexer: Indexer, data: Path, parts: Path, text_column: str, label_column: str | None,
                 chunk_rows: int, rank: int, processes: int, max_rows: int | None = None,
                 progress: bool = True) -> int:
    """Encode this process's chunks (i mod `processes` == `rank`; of Parquet input it reads only those) into
    `parts`, skipping those already there; returns how many it encoded. Says how many of its documents are longer
    than the model reads."""
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    from .data import iter_corpus

    done, seen, long, bar = 0, 0, 0, None
    mine = lambda i: i % processes == rank  # noqa: E731
    for first, chunk in iter_corpus(data, text_column, label_column, chunk_rows, max_rows, wanted=mine):
        if bar is None:  # once the file has given a valid chunk: a bad file's message comes alone
            bar = tqdm(desc=f"encoding (process {rank + 1} of {processes})", unit=" docs", disable=not progress,
                       position=rank, leave=True)
        i = first // chunk_rows
        path = parts / PART.format(i)
        seen, long = seen + len(chunk), long + indexer.model.count_too_long(chunk.texts)
        if not path.exists():
            table = indexer.encode(chunk.texts, chunk.labels if label_column else None, chunk=i)
            table = table.replace_schema_metadata({b"vae_part": json.dumps(
                {"chunk": i, "first_row": first, "rows": len(chunk), "process": rank}).encode()})
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp, compression="zstd")
            done += 1
        bar.update(len(chunk))
    if bar is not None:
        bar.close()
    note = too_long_note(long, seen, indexer.model.config.max_length,
                         "" if processes == 1 else f" (of this process's share, {rank + 1} of {processes})")
    if note:
        print(f"note: {note}", file=sys.stderr)
    return done


def parts_in_order(parts: Path) -> list[Part]:
    """The parts `encode_parts` wrote into the folder `parts`, in the corpus' order; a missing one is an error."""
    import pyarrow.parquet as pq

    found = [Part(0, path, meta=json.loads(pq.read_schema(path).metadata[b"vae_part"]))
             for path in sorted(parts.glob("part-*.parquet"))]
    for p in found:
        p.rows = p.meta["rows"]
    chunks = [p.meta["chunk"] for p in found]
    if chunks != list(range(len(chunks))):
        missing = sorted(set(range(max(chunks, default=-1) + 1)) - set(chunks))
        raise ValueError(f"{parts} lacks part(s) {missing[:10]}: run the same command again to encode them.")
    return found


def assemble_parts(indexer: Indexer, parts_folder: Path, output: Path, meta: dict) -> dict:
    """The parts in `parts_folder` mapped, their regions named and written as the index `output` with `meta`,
    then its manifest. Returns the manifest."""
    parts = parts_in_order(parts_folder)
    xy, named, placed_s = indexer.assemble(parts)
    full = indexer.meta(meta, int(sum(p.rows for p in parts)), named)
    indexer.write(parts, xy, output, full)
    from .interpret.projection import map_sample

    manifest = {"index": output.name, "rows": full["rows"], "processes": meta.get("processes", 1),
                "chunk_rows": meta.get("chunk_rows"), "map_fit_rows": int(len(map_sample(full["rows"], indexer.seed))),
                "map_place_seconds": round(placed_s, 1),
                "parts": [{"part": p.path.name, "chunk": p.meta["chunk"], "first_row": p.meta["first_row"],
                           "rows": p.rows, "process": p.meta["process"]} for p in parts]}
    manifest_path = output.with_name(output.name + ".manifest.json")
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def index_streamed(model_folder: str | Path, data: str | Path, output: str | Path | None = None,
                   text_column: str = "text", label_column: str | None = None, projection: str = "umap",
                   seed: int = 0, chunk_rows: int = CHUNK_ROWS, max_rows: int | None = None,
                   keep_parts: bool = False, batch_size: int = 64) -> Path:
    """Index `data` with the model in `model_folder` on every process accelerate started (one, without
    `accelerate launch`). The labels are optional (`data.optional_label_column`). Returns the index's path."""
    from accelerate import PartialState

    from .catalog import display_name
    from .data import iter_corpus, optional_label_column
    from .modeling import TextVAE

    model_folder, data = Path(model_folder), Path(data)
    label_column, note = optional_label_column(data, label_column)
    next(iter_corpus(data, text_column, label_column, chunk_rows=1), None)  # its problems before any part is written
    output = Path(output or model_folder / "index" / (data.stem + ".parquet"))
    # the processes `accelerate launch` started (one without it): no training state, so no mixed precision to agree on
    acc = PartialState(cpu=not torch.cuda.is_available())
    rank, processes = acc.process_index, acc.num_processes
    model = TextVAE.from_pretrained(model_folder).to(acc.device)
    parts = output.with_name(output.name + ".parts")
    key = _run_key(model_folder, data, text_column, label_column, chunk_rows, seed)
    if acc.is_main_process:
        parts.mkdir(parents=True, exist_ok=True)
        run = parts / "run.json"
        if run.exists() and json.loads(run.read_text()) != key:
            raise ValueError(f"{parts} holds the parts of another run (another model, file, chunk size or seed): "
                             f"remove that folder, or give another --output.")
        run.write_text(json.dumps(key, indent=2) + "\n")
    acc.wait_for_everyone()
    if note and acc.is_main_process:
        print(note, file=sys.stderr)
    warn_if_fewer_processes(processes, "index")
    indexer = Indexer(model, projection, seed, batch_size)
    t0 = time.time()
    encoded = encode_parts(indexer, data, parts, text_column, label_column, chunk_rows, rank, processes, max_rows,
                           progress=acc.is_local_main_process)
    print(f"process {rank + 1} of {processes}: encoded {encoded} chunk(s) in {time.time() - t0:.1f} s",
          file=sys.stderr)
    acc.wait_for_everyone()
    if acc.is_main_process:
        meta = {"model": display_name(model_folder), "source": data.name, "source_path": str(data.resolve()),
                "text_column": text_column, "label_column": label_column or None, "processes": processes,
                "chunk_rows": chunk_rows}
        t1 = time.time()
        model.to("cpu")
        manifest = assemble_parts(indexer, parts, output, meta)
        print(f"indexed {manifest['rows']:,} documents ({len(manifest['parts'])} parts, {processes} process(es)); "
              f"map and index written in {time.time() - t1:.1f} s -> {output}")
        if not keep_parts:
            shutil.rmtree(parts, ignore_errors=True)
    acc.wait_for_everyone()
    return output


def index_file(model_folder: str | Path, data: str | Path, text_column: str = "text", label_column: str | None = None,
               projection: str = "umap", seed: int = 0, sample: int | None = None, output: str | Path | None = None,
               say: Callable[[str], None] = print) -> Path:
    """Encode a data file with the model in `model_folder` into an index in memory (MODEL/index/<data name>.parquet
    unless `output`), with progress; `sample` rows drawn at random (seeded) when the file has more. The labels are
    optional (`data.optional_label_column`)."""
    import random

    from .catalog import display_name
    from .data import optional_label_column, read_corpus
    from .modeling import TextVAE

    label_column, note = optional_label_column(data, label_column)
    if note:
        say(note)
    indexer = Indexer(TextVAE.from_pretrained(model_folder), projection, seed, progress=True)
    corpus = read_corpus(data, text_column, label_column, allow_unlabelled=True)
    texts, labels = corpus.texts, corpus.labels if label_column else None
    if sample is not None and len(texts) > sample:
        keep = sorted(random.Random(seed).sample(range(len(texts)), sample))
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep] if labels is not None else None
    note = indexer.too_long(texts)
    if note:
        say(f"note: {note}")
    t0 = time.time()
    out = indexer.build_file(texts, labels, output or Path(model_folder) / "index" / (Path(data).stem + ".parquet"),
                             {"model": display_name(model_folder), "source": Path(data).name,
                              "source_path": str(Path(data).resolve()), "text_column": text_column,
                              "label_column": label_column})
    say(f"indexed {len(texts)} documents in {time.time() - t0:.1f} s -> {out}")
    return out


def read_or_index(model, data: str | Path, text_column: str = "text", label_column: str | None = None, seed: int = 0,
                  reference=None, regions: bool = False, say: Callable[[str], None] = print):
    """`data` as a CorpusIndex, read once: an index written by `index` as it is; else, for the app's `Explorer`
    of a model folder, the model's own index holding the same texts in the same order; else the file encoded now,
    mapped on its own (its regions named with `regions`) or, with a `reference` index, placed on the reference's
    map (drift: no map of its own, no region). The labels are optional (`data.optional_label_column`)."""
    from .corpus_index import CorpusIndex, load_index_of
    from .data import optional_label_column, read_corpus

    indexed = load_index_of(data, model.labels)
    if indexed is not None:
        return indexed
    label_column, note = optional_label_column(data, label_column)
    if note:
        say(note)
    corpus = read_corpus(data, text_column, label_column, allow_unlabelled=True)
    labels = corpus.labels if label_column else None
    folder = getattr(model, "folder", None)
    for path in sorted((Path(folder) / "index").glob("*.parquet")) if folder is not None and reference is None else []:
        try:
            own = CorpusIndex.load(path)
        except ValueError:
            continue
        if len(own) == len(corpus) and own.df["text"].tolist() == list(corpus.texts):
            say(f"using the model's index of {Path(data).name} ({path})")
            return own
    name = Path(data).name
    if reference is not None:
        say(f"encoding {len(corpus):,} documents of {name}")
        return new_corpus_index(model, corpus.texts, labels, reference, seed=seed)
    say(f"encoding {len(corpus):,} documents of {name} and mapping them")
    return Indexer(model, seed=seed, progress=True).build(corpus.texts, labels, {"source": name}, regions=regions)
