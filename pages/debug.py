"""Debug: where the model errs, why, and what it would take to flip a document to its true class; its errors in
groups (error slices) and the labels it doubts (suspect labels)."""

import numpy as np
import streamlit as st

from app_ui import diagnosis, review, share
from app_ui.resources import start_page

explorer, corpus = start_page(
    "Debug",
    "The classes the model confuses most, ranked, and what separates each pair in words; the confusion matrix and "
    "per-class figures of the corpus; the misclassified documents, most confident first, and for one of them its attributions, neighbours, place on the map and latent counterfactual; the "
    "errors in groups described in words; the labels that are probably wrong.",
    corpus="required", share_as="debug",
)


@st.cache_data(max_entries=16, show_spinner=False)
def corpus_metrics(_corpus, key: str, labels: tuple[str, ...]) -> dict:
    from vae_core.evaluate import classification_metrics

    df = _corpus.df[_corpus.df["label"].notna()]
    return classification_metrics([labels.index(y) for y in df["label"]], [labels.index(p) for p in df["pred"]],
                                  list(labels))


VIEWS = ("Confusion matrix", "Error slices", "Suspect labels")


if explorer is not None and corpus is not None:
    labels, df = explorer.labels, corpus.df
    if not corpus.has_labels:
        st.info("This corpus has no labels, so there is nothing to compare the predictions with. Pick a labelled "
                "corpus in the sidebar.")
        st.stop()
    key = f"{corpus.content_key}:{explorer.cache_key}"
    m = corpus_metrics(corpus, key, tuple(labels))
    cm = np.asarray(m["confusion_matrix"])
    review.summary(explorer, corpus)
    a, b, c = st.columns(3)
    a.metric("Accuracy", f"{m['accuracy']:.1%}")
    b.metric("Macro-F1", f"{m['macro_f1']:.3f}")
    c.metric("Misclassified", f"{int(cm.sum() - np.trace(cm)):,} of {int(cm.sum()):,}")

    if st.session_state.get("debug_view") not in VIEWS:  # a new session, or a link with another word
        st.session_state["debug_view"] = VIEWS[0]
    view = st.radio("View", VIEWS, key="debug_view", horizontal=True, label_visibility="collapsed")
    # the confusion view's cell, document and target travel in the link only while that view is shown
    state = dict.fromkeys(("debug_true", "debug_pred", "debug_doc", "debug_target"))
    if view == "Error slices":
        diagnosis.error_slices_view(explorer, corpus)
    elif view == "Suspect labels":
        diagnosis.suspects_view(explorer, corpus)
    else:
        state.update(diagnosis.confusion_view(explorer, corpus, m, cm))
    share.publish("debug", **state, debug_view=view)
