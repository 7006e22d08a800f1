"""Indexing a corpus of any size, on one process or many: `python -m vae_core index ...` or `accelerate launch
-m vae_core index ...`. The input streams in chunks of `chunk_rows` documents; chunk i is encoded by process
i mod P and written as its own Parquet part (OUTPUT.parts/), so an interrupted run resumes from the parts
already written. Then one process fits the map on a sample of the latents, places every other document in
chunks, names the map's regions and writes the index (the table `index.INDEX_COLUMNS` describes) part by
part, with a manifest (OUTPUT.manifest.json). Nothing holds more than the 2-D positions, the map's sample and
the latents of one chunk (of PLACE_CHUNK rows while placing them)."""
from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .files import atomic_path

CHUNK_ROWS = 4096
PART = "part-{:06d}.parquet"


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


def _part_table(model, texts: list[str], labels: list[str | None] | None, seed: int, batch_size: int = 64):
    """One chunk encoded: the index's columns but the map's (x, y, correct)."""
    import pyarrow as pa

    from .index import encoded_columns, posterior_uncertainty

    out = model.forward_corpus(texts, batch_size, progress=False, reconstruction=False)
    cols = encoded_columns(model, texts, labels, out, posterior_uncertainty(model, out["mu"], out["logvar"], seed=seed))
    return pa.table(cols, schema=part_schema())


def part_schema():
    """The columns of a part: the index's but the map's (x, y, correct)."""
    import pyarrow as pa

    floats, vectors = pa.float32(), pa.list_(pa.float32())
    return pa.schema([("text", pa.string()), ("label", pa.string()), ("pred", pa.string()), ("confidence", floats),
                      ("prob_std", floats), ("flip_rate", floats), ("kl", floats), ("probs", vectors),
                      ("mu", vectors), ("logvar", vectors)])


def encode_parts(model, data: Path, parts: Path, text_column: str, label_column: str | None, chunk_rows: int,
                 seed: int, rank: int, processes: int, max_rows: int | None = None, progress: bool = True,
                 batch_size: int = 64) -> int:
    """Encode this process's chunks (i mod `processes` == `rank`; of Parquet input it reads only those) into
    `parts`, skipping those already there; returns how many it encoded. Says how many of its documents are longer than the model reads."""
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
        seen, long = seen + len(chunk), long + model.count_too_long(chunk.texts)
        if not path.exists():
            table = _part_table(model, chunk.texts, chunk.labels if label_column else None, seed + i, batch_size)
            table = table.replace_schema_metadata({b"vae_part": json.dumps(
                {"chunk": i, "first_row": first, "rows": len(chunk), "process": rank}).encode()})
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp, compression="zstd")
            done += 1
        bar.update(len(chunk))
    if bar is not None:
        bar.close()
    if long:
        share = "" if processes == 1 else f" (of this process's share, {rank + 1} of {processes})"
        print(f"note: {long:,} of {seen:,} documents{share} are longer than the model reads "
              f"({model.config.max_length} tokens); only their beginning is encoded.", file=sys.stderr)
    return done


def _parts_in_order(parts: Path) -> list[tuple[Path, dict]]:
    import pyarrow.parquet as pq

    found = []
    for path in sorted(parts.glob("part-*.parquet")):
        meta = json.loads(pq.read_schema(path).metadata[b"vae_part"])
        found.append((path, meta))
    chunks = [m["chunk"] for _, m in found]
    if chunks != list(range(len(chunks))):
        missing = sorted(set(range(max(chunks, default=-1) + 1)) - set(chunks))
        raise ValueError(f"{parts} lacks part(s) {missing[:10]}: run the same command again to encode them.")
    return found


def assemble(model, parts: Path, output: Path, meta: dict, projection: str = "umap", seed: int = 0) -> dict:
    """Fit the map on a sample of the parts' latents, place the rest PLACE_CHUNK rows at a time, name the map's
    regions and write the index (one row group a part) with `meta`, then its manifest. Returns the manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from .index import INDEX_COLUMNS, INDEX_VERSION, CorpusIndex, vector_matrix
    from .inference import Explorer
    from .interpret.groups import map_regions
    from .interpret.projection import PLACE_CHUNK, FittedMap, map_sample

    found = _parts_in_order(parts)
    sizes = [m["rows"] for _, m in found]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    n = int(offsets[-1])
    sample = map_sample(n, seed)  # UMAP and PCA alike: fitted on at most UMAP_FIT_SAMPLE latents
    sampled = []  # the map's sample, read part by part
    for (path, _), start, end in zip(found, offsets[:-1], offsets[1:]):
        rows = sample[(sample >= start) & (sample < end)]
        table = pq.read_table(path, columns=["text", "label", "pred", "probs", "mu"]).take(rows - start)
        sampled.append(table)
    sample_table = pa.concat_tables(sampled)
    mu_sample = vector_matrix(sample_table.column("mu"))
    fitted = FittedMap(mu_sample, projection, seed)
    xy = np.empty((n, 2), dtype=np.float32)
    xy[sample] = fitted.xy
    in_sample = np.zeros(n, dtype=bool)
    in_sample[sample] = True
    t0 = time.time()
    pending_rows, pending_mu = [], []  # placed PLACE_CHUNK rows at a time: UMAP's transform costs less per row in bulk

    def place_pending() -> None:
        if pending_rows:
            xy[np.concatenate(pending_rows)] = fitted.place(np.concatenate(pending_mu))
            pending_rows.clear(), pending_mu.clear()

    for (path, _), start, end in zip(found, offsets[:-1], offsets[1:]):
        rest = np.flatnonzero(~in_sample[start:end])
        if len(rest):
            mu = vector_matrix(pq.read_table(path, columns=["mu"]).column("mu"))
            pending_rows.append(start + rest)
            pending_mu.append(mu[rest])
            if sum(len(r) for r in pending_rows) >= PLACE_CHUNK:
                place_pending()
    place_pending()
    placed_s = time.time() - t0
    # the regions, from the map's sample
    sdf = sample_table.to_pandas()
    sdf["x"], sdf["y"] = xy[sample, 0], xy[sample, 1]
    regions = map_regions(Explorer(model), CorpusIndex(sdf, {"labels": model.labels}), seed=seed)
    meta = {"version": INDEX_VERSION, **meta, "rows": n, "regions": [r.to_dict() for r in regions]}
    schema = None
    with atomic_path(output) as tmp:
        writer = None
        try:
            for (path, _), start, end in zip(found, offsets[:-1], offsets[1:]):
                t = pq.read_table(path)
                label, pred = t.column("label").to_pylist(), t.column("pred").to_pylist()
                t = t.append_column("x", pa.array(xy[start:end, 0])).append_column("y", pa.array(xy[start:end, 1]))
                t = t.append_column("correct", pa.array([None if a is None else a == b for a, b in zip(label, pred)],
                                                        type=pa.bool_()))
                t = t.select(list(INDEX_COLUMNS))
                if writer is None:
                    schema = t.schema.with_metadata({b"vae_index": json.dumps(meta).encode()})
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                writer.write_table(t.cast(schema))
        finally:
            if writer is not None:
                writer.close()
    manifest = {"index": output.name, "rows": n, "processes": meta.get("processes", 1),
                "chunk_rows": meta.get("chunk_rows"), "map_fit_rows": int(len(sample)),
                "map_place_seconds": round(placed_s, 1),
                "parts": [{"part": p.name, "chunk": m["chunk"], "first_row": m["first_row"], "rows": m["rows"],
                           "process": m["process"]} for p, m in found]}
    manifest_path = output.with_name(output.name + ".manifest.json")
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def index_streamed(model_folder: str | Path, data: str | Path, output: str | Path | None = None,
                   text_column: str = "text", label_column: str | None = "label", projection: str = "umap",
                   seed: int = 0, chunk_rows: int = CHUNK_ROWS, max_rows: int | None = None,
                   keep_parts: bool = False, batch_size: int = 64) -> Path:
    """Index `data` with the model in `model_folder` on every process accelerate started (one, without
    `accelerate launch`). Returns the index's path."""
    from accelerate import PartialState

    from .catalog import display_name
    from .modeling import TextVAE

    model_folder, data = Path(model_folder), Path(data)
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
    t0 = time.time()
    encoded = encode_parts(model, data, parts, text_column, label_column, chunk_rows, seed, rank, processes,
                           max_rows, progress=acc.is_local_main_process, batch_size=batch_size)
    print(f"process {rank + 1} of {processes}: encoded {encoded} chunk(s) in {time.time() - t0:.1f} s",
          file=sys.stderr)
    acc.wait_for_everyone()
    if acc.is_main_process:
        meta = {"model": display_name(model_folder), "labels": model.labels, "projection": projection, "seed": seed,
                "source": data.name, "processes": processes, "chunk_rows": chunk_rows}
        t1 = time.time()
        manifest = assemble(model.to("cpu"), parts, output, meta, projection, seed)
        print(f"indexed {manifest['rows']:,} documents ({len(manifest['parts'])} parts, {processes} process(es)); "
              f"map and index written in {time.time() - t1:.1f} s -> {output}")
        if not keep_parts:
            shutil.rmtree(parts, ignore_errors=True)
    acc.wait_for_everyone()
    return output
