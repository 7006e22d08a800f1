"""Corpora uploaded in the app: validated, encoded with the current model (progress bar; the Cancel
button stops it), kept in the session and offered in the sidebar next to the model's own indexes."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import streamlit as st

from app_ui.views import md

MAX_MB = 50  # also server.maxUploadSize in .streamlit/config.toml
MAX_ROWS = 20_000
PREFIX = "uploaded / "


def model_id(folder: Path) -> str:
    """Uploads belong to the model that encoded them, named by its folder."""
    return str(Path(folder).resolve())


def key_for(model: str, name: str) -> str:
    return f"{model}|{name}"


def display_name(name: str) -> str:
    return PREFIX + Path(name).stem


def for_model(model: str) -> dict[str, object]:
    """Display name -> CorpusIndex of this session's uploads encoded with `model`."""
    found = {}
    for key, corpus in st.session_state.get("uploads", {}).items():
        m, name = key.rsplit("|", 1)
        if m == model:
            found[display_name(name)] = corpus
    return found


def encode(explorer, name: str, data: bytes, text_col: str, label_col: str | None, projection: str) -> None:
    """Validate, encode and keep an uploaded corpus; every problem is shown as a message."""
    from vae_core.data import DataError, read_corpus
    from vae_core.indexing import Indexer, index_shared

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        try:
            corpus = read_corpus(path, text_col, label_col, allow_unlabelled=True, max_rows=MAX_ROWS)
        except DataError as e:
            st.error(f"{md(describe(name, e))} Fix the file, or pick other columns, and try again.")
            return
    unknown = sorted({lab for lab in corpus.labels if lab is not None} - set(explorer.labels))
    if unknown:
        st.warning(f"Labels the model does not know are treated as missing: {md(', '.join(unknown[:8]))}"
                   f"{' …' if len(unknown) > 8 else ''}. The model's classes are {md(', '.join(explorer.labels))}.")
    labels = [lab if lab in explorer.labels else None for lab in corpus.labels]
    notes = []
    note = Indexer(explorer).too_long(corpus.texts)
    if note:
        notes.append(note)
        st.info(note)
    bar = st.progress(0.0, text=f"Encoding {len(corpus):,} documents…")
    t0 = time.time()

    def progress(done: int, total: int, stage: str) -> None:
        if stage == "map":
            bar.progress(1.0, text=f"Encoded {total:,} documents in {time.time() - t0:.0f} s; building the "
                                   f"{projection.upper()} map…")
        elif stage == "regions":
            bar.progress(1.0, text="Naming the regions of the map (decoded from their centres)…")
        else:
            rate = done / max(time.time() - t0, 1e-6)
            bar.progress(done / total, text=f"Encoding: {done:,} of {total:,} documents ({rate:.0f}/s, about "
                                            f"{(total - done) / max(rate, 1e-6):.0f} s left)")

    corpus_index = index_shared(explorer, corpus.texts, labels if any(labels) else None, projection,
                               meta={"source": name}, on_progress=progress)
    st.session_state.setdefault("uploads", {})[key_for(model_id(explorer.folder), name)] = corpus_index
    # the sidebar's picker already stands in this run: it takes the new corpus on the next one
    st.session_state["corpus_pick"] = display_name(name)
    st.session_state["upload_done"] = [("info", md(n)) for n in notes] + [
        ("success", f"'{md(name)}': {len(corpus_index):,} documents encoded in {time.time() - t0:.0f} s. It is ready and "
                    "selected in the sidebar: open the Latent map, Debug or Interpolate.")]
    st.rerun()


def describe(name: str, e) -> str:
    """A DataError as the CLI words it, with the uploaded file's name instead of a temporary path."""
    return f"{name}" + (f", row {e.row}" if e.row is not None else "") + f": {e.problem}"
