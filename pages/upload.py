"""Your corpus: upload a CSV / Parquet / JSONL file, choose its columns, encode it with the current
model; then every view (map, debug, interpolate, samples) works on it. Below, drift: where a corpus differs from
another of the same model (app_ui/drift_view.py)."""
import tempfile
from pathlib import Path

import streamlit as st

from app_ui import drift_view, share, uploads, views
from app_ui.resources import start_page

explorer, _ = start_page(
    "Your corpus",
    "Upload a table of documents (CSV, Parquet or JSONL, UTF-8), pick the text column and, if you have one, the "
    "label column. The model encodes every document once; the corpus then appears in the sidebar for every view.",
    corpus="none", share_as="upload",
)


@st.cache_data(max_entries=4, show_spinner="Reading the file…")
def columns_of(data: bytes, name: str) -> tuple[list[str], int, list[dict]]:
    from vae_core.data import read_frame

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(data)
        df = read_frame(path, max_rows=uploads.MAX_ROWS)
    return [str(c) for c in df.columns], len(df), df.head(5).astype(str).to_dict("records")


if explorer is not None:
    for kind, message in st.session_state.pop("upload_done", []):  # what the last encoding said
        (st.success if kind == "success" else st.info)(message)
    got = st.file_uploader("Corpus file", type=["csv", "parquet", "pq", "jsonl", "ndjson"], key="upload_file",
                           help=f"At most {uploads.MAX_MB} MB and {uploads.MAX_ROWS:,} rows; larger corpora are "
                                "indexed with `python -m vae_core index MODEL --data FILE`.")
    if got is not None:  # kept beyond the widget, which forgets its file when the page is left
        st.session_state["upload_kept"] = (got.name, got.getvalue())
    kept = st.session_state.get("upload_kept")
    if kept is None:
        st.info("Upload a file to begin. Each row is one document.")
    else:
        name, data = kept
        from vae_core.data import DataError

        try:
            cols, n_rows, head = columns_of(data, name)
        except DataError as e:
            st.error(f"{views.md(uploads.describe(name, e))} Fix the file and upload it again.")
            st.stop()
        st.markdown(f"**{views.md(name)}** · {n_rows:,} rows · columns: {views.md(', '.join(cols))}")
        st.dataframe(head, hide_index=True)
        text_guess = "text" if "text" in cols else cols[0]
        c1, c2, c3 = st.columns(3)
        if st.session_state.get("upload_text_col") not in cols:
            st.session_state["upload_text_col"] = text_guess
        text_col = c1.selectbox("Text column", cols, key="upload_text_col")
        label_options = ["(no labels)"] + [c for c in cols if c != text_col]
        label_guess = "label" if "label" in cols and "label" != text_col else "(no labels)"
        if st.session_state.get("upload_label_col") not in label_options:
            st.session_state["upload_label_col"] = label_guess
        label_col = c2.selectbox("Label column", label_options, key="upload_label_col", help="Optional. Without labels the views that compare "
                                 "predictions with the truth (Debug, correct/wrong colours) say so.")
        projection = c3.radio("Map", ["umap", "pca"], key="upload_projection", horizontal=True,
                              format_func=lambda p: {"umap": "UMAP", "pca": "PCA (fast)"}[p])
        key = uploads.key_for(uploads.model_id(explorer.folder), name)
        if key in st.session_state.get("uploads", {}):
            st.success(f"'{views.md(name)}' is encoded with {views.md(explorer.name)}: pick **{views.md(uploads.display_name(name))}** in the "
                       "sidebar's corpus picker. Encoding again replaces it.")
        go, cancel = st.columns([1, 1])
        start = go.button("Encode the corpus", type="primary", key="upload_go")
        cancel.button("Cancel", key="upload_cancel", help="Stops the encoding; nothing is kept.")
        if st.session_state.get("upload_cancel"):
            st.info("Encoding cancelled: nothing was kept. Press **Encode the corpus** to start again.")
        if start:
            uploads.encode(explorer, name, data, text_col, None if label_col == "(no labels)" else label_col,
                           projection)

    st.subheader("Drift: where a corpus differs from the one the model knows")
    st.caption("Pick the reference (the model's own corpus, say) and a new corpus: both are compared in latent space, "
               "and the regions where the new corpus has more (or fewer) documents than the reference are listed in "
               "words, the most drifted first.")
    newest = uploads.display_name(kept[0]) if kept is not None else None
    drift_view.drift_section(explorer, default_new=newest)
    share.publish("upload", **drift_view.link_state())
