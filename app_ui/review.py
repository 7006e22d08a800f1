"""Fixing labels where Debug, the map or a document shows them wrong (issue 41): one document's label accepted,
changed, marked ambiguous or excluded; a whole slice or selection at once after a confirmation; undo; the corrected
data to download. Everything goes through `vae_core.corrections` into the corpus' append-only log (re-read on every
run: another session's corrections show at once, and a restart keeps them)."""
from __future__ import annotations

import hashlib

import streamlit as st

from app_ui.markup import md
from vae_core.corrections import STATUSES, CorrectionError, CorrectionLog, log_path, safe_name

ACTIONS = {"keep": "Keep the label", "ambiguous": "Mark ambiguous", "exclude": "Exclude"}
WORDS = {"relabel": "relabelled", "keep": "label kept", "ambiguous": "marked ambiguous", "exclude": "excluded"}
UNDO_KEY = "_review_undo"  # this session's decisions, newest last: (log path, ids, what it was)


def corpus_log(explorer, corpus) -> CorrectionLog | None:
    """The log of the sidebar's corpus (an upload's, under its content key), or None for a model without a folder."""
    if explorer.folder is None or corpus is None:
        return None
    name = st.session_state.get("corpus_name") or "corpus"
    if name not in _disk_corpora(explorer):  # an upload: its content (as given) fixes its name
        name = f"upload-{corpus.meta.get('given_content_key', corpus.content_key)[:16]}"
    try:
        safe_name(name)
    except CorrectionError:  # a file name of the model's own folder that is no plain name: its hash stands for it
        name = "corpus-" + hashlib.sha256(name.encode()).hexdigest()[:16]
    return _log_of(corpus, str(log_path(explorer.folder, name)), corpus.content_key, tuple(explorer.labels))


@st.cache_resource(max_entries=16, show_spinner=False)
def _log_of(_corpus, path: str, corpus_key: str, labels: tuple[str, ...]) -> CorrectionLog:
    """One log object per corpus (it holds the corpus' texts: a large corpus is not copied on every run); it reads
    the file anew on every call."""
    given = _corpus.df["label_given"] if "label_given" in _corpus.df else _corpus.df["label"]  # corrected_view's copy
    return CorrectionLog(path, _corpus.df["text"].tolist(), given.tolist(), list(labels))


def corrected_view(explorer, corpus):
    """The corpus with its labels as corrected (excluded rows unlabelled), every view's figures follow; the labels
    as given kept beside them (`label_given`). The corpus itself where nothing is corrected."""
    log = corpus_log(explorer, corpus)
    found = decisions(log)
    if not found:
        return corpus
    stamp = log.path.stat()
    return _corrected(corpus, corpus.content_key, f"{stamp.st_size}:{stamp.st_mtime_ns}", log)


@st.cache_resource(max_entries=8, show_spinner=False)
def _corrected(_corpus, corpus_key: str, log_stamp: str, _log: CorrectionLog):
    from vae_core.corpus_index import CorpusIndex

    df = _corpus.df.copy()
    labels = _log.corrected_labels()
    df["label_given"] = df["label"]
    df["label"] = labels
    df["correct"] = [None if lab is None else bool(p == lab) for p, lab in zip(df["pred"], labels)]
    return CorpusIndex(df, {**_corpus.meta, "given_content_key": corpus_key}, _corpus.arrays)


def _disk_corpora(explorer) -> dict:
    from vae_core.catalog import list_corpora

    return list_corpora(explorer.folder)


def decisions(log: CorrectionLog | None) -> dict:
    """The log's decisions; a log that does not match its corpus is said where it is read, and counts as none."""
    if log is None:
        return {}
    try:
        return log.decisions()
    except CorrectionError as e:
        st.error(str(e))
        return {}


def _remember(log: CorrectionLog, ids: list[str], what: str) -> None:
    st.session_state.setdefault(UNDO_KEY, []).append((str(log.path), ids, what))


def _apply(log: CorrectionLog, rows: list[int], status: str, new: str | None, view: str, what: str) -> None:
    try:
        ids = log.record(rows, status, new, view=view)
    except CorrectionError as e:
        st.warning(str(e))
        return
    _remember(log, ids, what)
    st.toast(f"{what} · saved to the corrections log", icon=":material/check:")


def undo_button(log: CorrectionLog, key: str) -> None:
    """Take back this session's latest decision on this corpus (one document or one bulk change)."""
    stack = [entry for entry in st.session_state.get(UNDO_KEY, []) if entry[0] == str(log.path)]
    if not stack:
        return
    path, ids, what = stack[-1]
    if st.button(f"Undo: {what}", key=f"{key}_undo", icon=":material/undo:"):
        log.undo(ids, view="undo")
        st.session_state[UNDO_KEY].remove(stack[-1])
        st.toast(f"Undone: {what}", icon=":material/undo:")
        st.rerun()


def correct_panel(explorer, corpus, row: int, view: str, suggested: str | None = None) -> None:
    """One document's label: as given and as decided, and the buttons that decide it."""
    log = corpus_log(explorer, corpus)
    if log is None or log.labels[row] is None:
        return
    labels, given = explorer.labels, log.labels[row]
    done = decisions(log).get(row)
    with st.container(border=True):
        state = (f"**Label:** {md(given)}" + (f" → **{md(done.label)}**" if done and done.status == "relabel" else "")
                 + (f" · {WORDS[done.status]} ({md(done.view or 'app')}, {done.time[:16].replace('T', ' ')} UTC)"
                    if done else " · not reviewed"))
        st.markdown(state)
        cols = st.columns([1.6, 1.5, 0.9, 1.0, 1.0, 0.8], vertical_alignment="bottom")
        if suggested and suggested != given:
            if cols[0].button(f"Accept suggestion: {suggested}", key=f"{view}_{row}_accept", type="primary",
                              icon=":material/check:", width="stretch"):
                _apply(log, [row], "relabel", suggested, view, f"row {row}: {given} → {suggested}")
                st.rerun()
        others = [lab for lab in labels if lab != given]
        pick = cols[1].selectbox("Another class", others, key=f"{view}_{row}_pick", label_visibility="collapsed",
                                 index=others.index(suggested) if suggested in others else 0,
                                 help="Type to search the classes.")
        if cols[2].button("Relabel", key=f"{view}_{row}_relabel", width="stretch"):
            _apply(log, [row], "relabel", pick, view, f"row {row}: {given} → {pick}")
            st.rerun()
        for col, status in zip(cols[3:], ("ambiguous", "exclude", "keep")):
            if col.button(ACTIONS[status].replace("Mark ", "").capitalize() if status != "keep" else "Keep",
                          key=f"{view}_{row}_{status}", width="stretch", help=f"{ACTIONS[status]}."):
                _apply(log, [row], status, None, view, f"row {row}: {WORDS[status]}")
                st.rerun()
        undo_button(log, f"{view}_{row}")


def bulk_panel(explorer, corpus, rows: list[int], view: str, what: str) -> None:
    """Change the labels of many documents (a slice, a selection) at once, after a confirmation that says how
    many rows change."""
    log = corpus_log(explorer, corpus)
    if log is None or not rows:
        return
    labelled = [int(r) for r in rows if log.labels[int(r)] is not None]
    if not labelled:
        return
    with st.expander(f"Correct the labels of these {len(labelled):,} documents at once", icon=":material/edit:"):
        a, b = st.columns([1.2, 2])
        status = a.radio("Decision", ["relabel", "ambiguous", "exclude", "keep"], key=f"{view}_bulk_status",
                         format_func=lambda s: {"relabel": "Relabel as…", **ACTIONS}[s])
        new = b.selectbox("Class", explorer.labels, key=f"{view}_bulk_class", disabled=status != "relabel",
                          help="Type to search the classes.")
        changing = [r for r in labelled if not (status == "relabel" and log.labels[r] == new)]
        n = f"{len(changing):,} document{'s' if len(changing) != 1 else ''}"
        words = {"relabel": f"relabel {n} as {new}", "ambiguous": f"mark {n} ambiguous", "exclude": f"exclude {n}",
                 "keep": f"keep the labels of {n}"}[status]
        applied = st.session_state.get(f"_{view}_bulk_applied", 0)  # a new confirmation box after each change
        sure = st.checkbox(f"Yes, {words} ({what}).", key=f"{view}_bulk_sure_{applied}", value=False)
        if st.button("Apply", key=f"{view}_bulk_go", disabled=not (sure and changing), type="primary"):
            _apply(log, changing, status, new if status == "relabel" else None, view, f"{what}: {words}")
            st.session_state[f"_{view}_bulk_applied"] = applied + 1
            st.rerun()
        undo_button(log, f"{view}_bulk")


def summary(explorer, corpus) -> None:
    """How many labels were reviewed, accuracy as given and as corrected, and the corrected data to download."""
    from vae_core.corrections import accuracy_both_ways

    log = corpus_log(explorer, corpus)
    found = decisions(log)
    if log is None or not found:
        return
    corrected = log.corrected_labels(found)
    acc = accuracy_both_ways(corpus.df["pred"].tolist(), log.labels, corrected)
    counts = {s: sum(d.status == s for d in found.values()) for s in STATUSES}
    st.info(f"**{len(found):,} labels reviewed** ({counts['relabel']:,} relabelled, {counts['keep']:,} kept, "
            f"{counts['ambiguous']:,} ambiguous, {counts['exclude']:,} excluded). Accuracy against the labels as given "
            f"{acc['given']:.1%}; as corrected {acc['corrected']:.1%} (on {acc['corrected_rows']:,} documents). The log: "
            f"`{md(log.path)}`.", icon=":material/fact_check:")
    export_button(explorer, corpus, log)


def export_button(explorer, corpus, log: CorrectionLog) -> None:
    """The corpus' data file with the corrections (its own columns; label_original and review beside the label;
    excluded rows left out), made when clicked."""
    from vae_core.corrections import export_frame, find_source

    def data() -> bytes:
        try:
            source = find_source(explorer.folder, corpus.meta)
            frame = export_frame(source, log, corpus.meta.get("text_column") or "text",
                                 corpus.meta.get("label_column") or "label")
        except CorrectionError:  # an upload, or a file no longer where it was: the corpus' own columns
            import pandas as pd

            frame = _frame_of(corpus, log, pd)
        return frame.to_csv(index=False).encode("utf-8")

    name = str(corpus.meta.get("source") or "corpus").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    st.download_button("Download the corrected data (CSV)", data, file_name=f"{name}_corrected.csv", mime="text/csv",
                       key="review_export", on_click="ignore", icon=":material/download:",
                       help="The data file with the corrected labels: label_original and review beside the label, "
                            "excluded rows left out. Train on it with `python -m vae_core train --train-file ...`.")


def _frame_of(corpus, log: CorrectionLog, pd):
    found = log.decisions()
    rows = [i for i in range(len(log.texts)) if not (i in found and found[i].status == "exclude")]
    labels = log.corrected_labels(found)
    return pd.DataFrame({"text": [log.texts[i] for i in rows], "label": [labels[i] for i in rows],
                         "label_original": [log.labels[i] for i in rows],
                         "review": [found[i].status if i in found else "" for i in rows]})
