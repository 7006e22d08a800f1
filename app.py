"""Transformer VAE explorer: `streamlit run app.py [-- --models-dir DIR]`.

The router and the sidebar (model and corpus pickers); every page lives in pages/ and runs through this
script (app_ui/navigation.py), its shared code in the app_ui package."""

import streamlit as st

from app_ui import share, uploads
from app_ui.navigation import app_pages, running_through_app
from app_ui.resources import current_model_name, default_model_name, list_corpora, model_entries
from app_ui.state import keep_widget_values

st.set_page_config(page_title="Transformer VAE explorer", page_icon="🧭", layout="wide")

page = st.navigation(app_pages())

entries = model_entries()
models = {name: entry.folder for name, entry in entries.items()}
with st.sidebar:
    st.markdown("### Model")
    if models:
        share.restore_model(models, default_model_name(models))  # a shared link's model, once per session
        current_model_name()  # puts a valid choice in session state before the widget reads it
        st.selectbox("Checkpoint", list(models), key="model_name",
                     help="Bundled models from assets/models, and yours from --models-dir or VAE_MODELS_DIR "
                          "(a model folder, a training run's folder, or a folder of runs; newest first).")
        picked = entries[st.session_state["model_name"]]
        st.caption(picked.summary())
        corpora = {**list_corpora(picked.folder), **uploads.for_model(uploads.model_id(picked.folder))}
        share.restore_corpus(corpora, st.session_state["model_name"])
        if corpora:
            cnames = list(corpora)
            if st.session_state.get("corpus_pick") in cnames:  # a corpus just uploaded
                st.session_state["corpus_name"] = st.session_state.pop("corpus_pick")
            if st.session_state.get("corpus_name") not in cnames:
                st.session_state["corpus_name"] = cnames[0]
            st.selectbox("Corpus", cnames, key="corpus_name",
                         help="Index tables of this model (MODEL/index/*.parquet): the documents on the map.")
            st.toggle("Labels as corrected", key="labels_corrected",
                      help="Every view reads the corpus' labels with the corrections made in this app (Debug, a "
                           "document's panel, a selection): relabelled rows get their new class, excluded rows none. "
                           "Off: the labels as given in the data file.")
        else:
            st.session_state.pop("corpus_name", None)
            st.caption("This model has no indexed corpus: the map and corpus views need one "
                       "(`python -m vae_core index MODEL --data FILE`).")
    else:
        st.caption("No model found.")
    st.caption("A transformer VAE classifier: encoder → posterior q(z|x) → classifier and decoder. "
               "Probabilities come from the posterior mean.")

keep_widget_values()
try:
    with running_through_app():
        page.run()
except Exception as e:  # a bug, not a bad input (those are answered on the page): never a traceback
    import logging

    logging.getLogger("vae_explorer").exception("page %s failed", page.title)
    st.error(f"This view hit an unexpected problem ({type(e).__name__}). What you typed and chose is kept: try "
             "another input, another page, or reload. The details are in the server's log.")
