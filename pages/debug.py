"""Debug: where the model errs, why, and what it would take to flip a document to its true class; its errors in
groups (error slices) and the labels it doubts (suspect labels)."""

import numpy as np
import streamlit as st

from app_ui import diagnosis, figures, share, views
from app_ui.resources import start_page
from app_ui.views import md

explorer, corpus = start_page(
    "Debug",
    "The confusion matrix and per-class figures of the corpus; the misclassified documents, most confident "
    "first, and for one of them its attributions, neighbours, place on the map and latent counterfactual; the "
    "errors in groups described in words; the labels that are probably wrong.",
    corpus="required", share_as="debug",
)


@st.cache_data(max_entries=16, show_spinner=False)
def corpus_metrics(_corpus, key: str, labels: tuple[str, ...]) -> dict:
    from vae_core.evaluate import classification_metrics

    df = _corpus.df[_corpus.df["label"].notna()]
    return classification_metrics([labels.index(y) for y in df["label"]], [labels.index(p) for p in df["pred"]],
                                  list(labels))


@st.cache_data(max_entries=64, show_spinner="Searching latent space for the counterfactual…")
def counterfactual(_explorer, model: str, mu: tuple, target: int, budget: float, confidence: float):
    return _explorer.counterfactual(np.asarray(mu, dtype=np.float32), target, budget, confidence)


def confusion_view(explorer, corpus, m: dict, cm: np.ndarray) -> dict:
    """Pick a cell, open a document, find its counterfactual; returns the state a shared link carries."""
    labels, df = explorer.labels, corpus.df
    off = cm.copy()
    np.fill_diagonal(off, -1)
    worst = np.unravel_index(int(off.argmax()), off.shape)
    left, right = st.columns([3, 2], gap="large")
    with right:
        st.markdown("**Pick a cell** (or click one)")
        st.session_state.setdefault("debug_true", labels[worst[0]])
        st.session_state.setdefault("debug_pred", labels[worst[1]])
        event_cell = st.session_state.get("debug_cm")
        if event_cell and event_cell.get("selection", {}).get("points"):
            cd = event_cell["selection"]["points"][0].get("customdata")
            if isinstance(cd, list) and len(cd) == 2:
                st.session_state["debug_true"], st.session_state["debug_pred"] = labels[int(cd[0])], labels[int(cd[1])]
        true_lab = st.selectbox("True class", labels, key="debug_true")
        pred_lab = st.selectbox("Predicted class", labels, key="debug_pred")
    ti, pi = labels.index(true_lab), labels.index(pred_lab)
    with left:
        st.plotly_chart(figures.confusion_matrix(labels, m["confusion_matrix"], (ti, pi)), width="stretch",
                        on_select="rerun", selection_mode="points", key="debug_cm", config={"displaylogo": False})
    st.dataframe([{"class": lab, "precision": round(v["precision"], 3), "recall": round(v["recall"], 3),
                   "F1": round(v["f1"], 3), "support": v["support"]} for lab, v in m["per_class"].items()],
                 hide_index=True)

    cell = df[(df["label"] == true_lab) & (df["pred"] == pred_lab)].sort_values("confidence", ascending=False)
    kind = "correct" if ti == pi else "misclassified"
    st.subheader(f"True {md(true_lab)}, predicted {md(pred_lab)} ({len(cell):,} {kind}, most confident first)")
    if cell.empty:
        st.info("No document in this cell. Pick another one.")
        return {"debug_true": true_lab, "debug_pred": pred_lab}
    views.document_table(corpus, list(cell.index), labels, max_height=280, limit=1000)
    wrong = df[df["correct"] == False].sort_values("confidence", ascending=False)  # noqa: E712
    d1, d2 = st.columns(2)
    with d1:
        views.csv_download("Download this cell (CSV)", corpus, cell.index, labels,
                           f"true_{true_lab}_pred_{pred_lab}.csv".replace("/", "-"), "debug_dl_cell")
    with d2:
        views.csv_download(f"Download all {len(wrong):,} misclassified documents (CSV)", corpus, wrong.index, labels,
                           "misclassified.csv", "debug_dl_wrong")

    rows = cell.index.tolist()
    if st.session_state.get("debug_doc") not in rows:
        st.session_state["debug_doc"] = rows[0]
    row = st.selectbox("Open a document", rows, key="debug_doc",
                       format_func=lambda i: f"#{i} · {df['confidence'].iat[i]:.0%} {df['pred'].iat[i]} · "
                                             f"{views.snippet(df['text'].iat[i], 90)}")
    doc = df.iloc[row]
    mu = corpus.mu[row]
    views.document_panel(explorer, corpus, int(row), key="debug", attributions_open=True)

    st.subheader("Latent counterfactual")
    st.caption("The smallest move of z (an exact minimum-norm solution for the linear classifier) after which the "
               "model gives the target class the confidence asked for; then the shortest such move whose decoded text, "
               "encoded again, is classified as the target too. Compared with moving z all the way to the target "
               "class's centroid.")
    c1, c2, c4, c3 = st.columns([1.3, 1.6, 1.3, 1.6])
    st.session_state.setdefault("debug_target", doc["label"] if doc["label"] != doc["pred"] else
                                next(lab for lab in labels if lab != doc["pred"]))
    target_lab = c1.selectbox("Target class", labels, key="debug_target")
    st.session_state.setdefault("debug_budget", 8.0)
    budget = c2.slider("Distance budget (latent units)", 1.0, 20.0, step=0.5, key="debug_budget",
                       help="The longest move searched. For scale: the prior N(0, I) puts a typical z at about "
                            f"{np.sqrt(explorer.latent_size):.1f} from the origin.")
    st.session_state.setdefault("debug_confidence", 0.9)
    confidence = c4.slider("Confidence asked", 0.5, 0.99, step=0.01, key="debug_confidence",
                           help="p(target | z) at the flip point. On the boundary itself (0.5 between two classes) "
                                "a decoded text reads as either class about as often; at 0.9 it mostly reads as "
                                "the target.")
    run = c3.button("Find the counterfactual", key="debug_cf_run", type="primary", width="stretch")
    cf_key = (int(row), target_lab, float(budget), float(confidence))
    if run:
        st.session_state["debug_cf_for"] = cf_key
    if target_lab == doc["pred"]:
        st.info(f"The model already predicts {md(target_lab)} for this document: pick another target class.")
    elif st.session_state.get("debug_cf_for") == cf_key:
        target = labels.index(target_lab)
        cf = counterfactual(explorer, explorer.cache_key, views.as_key(mu)[0], target, float(budget), float(confidence))
        centroid = corpus.centroids("pred")[target_lab]
        to_centroid = float(np.linalg.norm(centroid - mu))
        k1, k2, k3 = st.columns(3)
        k1.metric("Move to flip the classifier", f"{cf.flip_distance:.2f}" if cf.flipped else "beyond budget",
                  help=f"To p({target_lab}) >= {confidence:.0%}. The decision boundary itself is "
                       f"{cf.boundary_distance:.2f} away.")
        k2.metric("Move to readable flip", f"{cf.distance:.2f}" if cf.found else "beyond budget",
                  help="The shortest move whose decoded text is classified as the target after encoding it again.")
        k3.metric(f"Move to the {md(target_lab)} centroid", f"{to_centroid:.2f}")
        if cf.found:
            shorter = cf.distance < to_centroid
            st.success(f"At distance {cf.distance:.2f} the decoded text reads as {md(target_lab)}"
                       + (f" — {cf.distance / to_centroid:.0%} of the way to the class centroid." if shorter else "."))
            end = cf.point
        elif cf.flipped:
            st.warning(f"The classifier gives {md(target_lab)} {confidence:.0%} at distance {cf.flip_distance:.2f}, "
                       f"but no decoded text within the budget reads as {md(target_lab)}. Raise the budget to search "
                       "further.")
            end = cf.flip
        else:
            st.warning(f"No move within {budget:.1f} gives {md(target_lab)} {confidence:.0%}. Raise the budget or "
                       "lower the confidence asked.")
            end = None
        if end is not None:
            path = explorer.interpolate(mu, end, steps=6)
            st.markdown("**On the way** (decoded and classified at every step)")
            st.plotly_chart(figures.path_probabilities(labels, path.probs, "step towards the counterfactual"),
                            width="stretch", key="debug_cf_probs", config={"displayModeBar": False})
            views.path_table(path, labels, first="document", last="counterfactual")
            views.path_on_map(corpus, labels, path, f"towards {target_lab}", key="debug_cf_map", highlight=[int(row)])
    return {"debug_true": true_lab, "debug_pred": pred_lab, "debug_doc": int(row), "debug_target": target_lab}


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
    a, b, c = st.columns(3)
    a.metric("Accuracy", f"{m['accuracy']:.1%}")
    b.metric("Macro-F1", f"{m['macro_f1']:.3f}")
    c.metric("Misclassified", f"{int(cm.sum() - np.trace(cm)):,} of {int(cm.sum()):,}")

    if st.session_state.get("debug_view") not in VIEWS:  # a new session, or a link with another word
        st.session_state["debug_view"] = VIEWS[0]
    view = st.radio("View", VIEWS, key="debug_view", horizontal=True, label_visibility="collapsed")
    if view == "Error slices":
        state = {}
        diagnosis.error_slices_view(explorer, corpus)
    elif view == "Suspect labels":
        state = {}
        diagnosis.suspects_view(explorer, corpus)
    else:
        state = confusion_view(explorer, corpus, m, cm)
    share.publish("debug", {**state, "debug_view": view})
