"""The Debug page's views: the confusion matrix (a cell's documents, one opened, and its latent counterfactual),
error slices (the misclassified documents grouped, each described by a text decoded from its centre) and suspect
labels (confident learning on the model's and the neighbours' view)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_ui import classes, figures, review, views
from app_ui.views import md

ALL_WRONG = "all misclassified documents"


@st.cache_data(max_entries=32, show_spinner="Grouping the misclassified documents and decoding each group's centre…")
def cached_slices(_explorer, _corpus, model: str, corpus_key: str, rows: tuple[int, ...]) -> list:
    from vae_core.interpret.groups import error_slices

    return error_slices(_explorer, _corpus, list(rows))


@st.cache_data(max_entries=16, show_spinner="Weighing every label against the model and its neighbours…")
def cached_suspects(_corpus, corpus_key: str):
    from vae_core.interpret.groups import suspect_labels

    return suspect_labels(_corpus)


def _picked_row(event) -> int | None:
    """The row index picked in a dataframe shown with selection_mode="single-row", if any."""
    rows = (event.selection.get("rows") if event and event.selection else None) or []
    return int(rows[0]) if rows else None


def error_slices_view(explorer, corpus) -> None:
    from vae_core.interpret.groups import SLICE_MIN_SIZE, slice_membership

    df, labels = corpus.df, explorer.labels
    wrong = df[df["correct"] == False]  # noqa: E712
    if wrong.empty:
        st.success("The model classifies every document of this corpus correctly: there is no error to group.")
        return
    cells = wrong.groupby(["label", "pred"]).size().sort_values(ascending=False)
    scopes = {ALL_WRONG: wrong.index.tolist()}
    scopes.update({f"true {t} → predicted {p}": wrong.index[(wrong["label"] == t) & (wrong["pred"] == p)].tolist()
                   for (t, p), n in cells.items() if n >= SLICE_MIN_SIZE})
    if st.session_state.get("debug_slice_scope") not in scopes:
        st.session_state["debug_slice_scope"] = ALL_WRONG
    scope = st.selectbox("Group", list(scopes), key="debug_slice_scope",
                         format_func=lambda s: f"{s} ({len(scopes[s]):,})",
                         help="All misclassified documents, or those of one cell of the confusion matrix (cells with "
                              f"at least {SLICE_MIN_SIZE}).")
    rows = scopes[scope]
    slices = cached_slices(explorer, corpus, explorer.cache_key, corpus.content_key, tuple(rows))
    sliced = sum(s.size for s in slices)
    a, b, c = st.columns(3)
    a.metric("Slices", f"{len(slices):,}")
    b.metric("Documents in a slice", f"{sliced:,} of {len(rows):,} ({sliced / len(rows):.0%})")
    c.metric("Largest slice", f"{slices[0].size:,}" if slices else "-")
    st.caption("Misclassified documents that lie together on the map (HDBSCAN on their map positions; as many slices "
               f"as the data holds, each of at least {SLICE_MIN_SIZE}). Each slice is described by the text decoded "
               "from its centre in latent space and by the words that set its documents apart from the rest of the "
               "corpus (class-based TF-IDF). Click a row to open a slice.")
    if not slices:
        st.info(f"These {len(rows):,} documents are too spread out to form a group of {SLICE_MIN_SIZE}: open them "
                "one by one in the confusion-matrix view.")
        return
    table = [{"slice": s.id, "documents": s.size, "mostly": f"{s.true_label} → {s.pred_label} ({s.pair_share:.0%})",
              "reads like": s.description_label, "description (decoded from its centre)": s.description,
              "distinctive words": ", ".join(s.words)} for s in slices]
    event = st.dataframe(table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key="debug_slice_table", height=min(38 + 35 * len(table), 320),
                         column_config={"description (decoded from its centre)": st.column_config.TextColumn(width="large")})
    membership = slice_membership(corpus, slices, rows)
    st.download_button("Download slice membership (CSV)", membership.to_csv(index=False).encode("utf-8"),
                       file_name="error_slices.csv", mime="text/csv", key="debug_slice_dl", on_click="ignore",
                       help="One row per misclassified document of this group: its row in the corpus, its slice "
                            "(-1: in none), the slice's description, label, prediction and text.")
    picked = _picked_row(event)
    s = slices[picked if picked is not None and picked < len(slices) else 0]
    st.markdown(f"#### Slice {s.id}: {s.size} documents, mostly true {md(s.true_label)} → predicted "
                f"{md(s.pred_label)}")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown("**Decoded from the slice's centre** " + views.class_badge(s.description_label, labels, " reads as"),
                    unsafe_allow_html=True)
        views.quote(s.description)
        st.markdown("**Distinctive words:** " + md(", ".join(s.words) or "-"))
        st.markdown("**Three documents nearest its centre**")
        for r in s.examples:
            st.markdown(f"#{r} · true {md(df['label'].iat[r])}, predicted {md(df['pred'].iat[r])}")
            views.quote(views.snippet(df["text"].iat[r], 300))
    with right:
        fig = figures.latent_map(df, labels, "pred", height=420, dim=True, highlight=s.rows, regions=[s])
        st.plotly_chart(fig, width="stretch", key="debug_slice_map", config={"displaylogo": False})
        st.caption("The slice's documents circled on the map of the whole corpus.")
    st.markdown(f"**All {s.size} documents of slice {s.id}**, nearest its centre first")
    views.document_table(corpus, s.rows, labels, max_height=280)
    review.bulk_panel(explorer, corpus, s.rows, "debug/slices", f"slice {s.id}")
    if st.session_state.get("debug_slice_doc") not in s.rows:
        st.session_state["debug_slice_doc"] = s.rows[0]
    row = st.selectbox("Open a document", s.rows, key="debug_slice_doc",
                       format_func=lambda i: f"#{i} · {df['pred'].iat[i]} · {views.snippet(df['text'].iat[i], 90)}")
    views.document_panel(explorer, corpus, int(row), key="debug_slice")


def suspects_view(explorer, corpus) -> None:
    from vae_core.interpret.groups import NEIGHBOUR_WEIGHT, SUSPECT_NEIGHBOURS

    df, labels = corpus.df, explorer.labels
    table = cached_suspects(corpus, corpus.content_key)
    reviewed = review.decisions(review.corpus_log(explorer, corpus))
    if reviewed:  # a reviewed row leaves the list
        table = table[~table["row"].isin(list(reviewed))].reset_index(drop=True)
    labelled = int(df["label"].notna().sum())
    a, b = st.columns(2)
    a.metric("Suspect labels", f"{len(table):,} of {labelled:,} ({len(table) / max(labelled, 1):.1%})",
             f"{len(reviewed):,} reviewed" if reviewed else None, delta_color="off", delta_arrow="off")
    b.metric("Most suspect score", f"{table['score'].iat[0]:.3f}" if len(table) else "-")
    st.caption(f"Documents whose given label both the model and their {SUSPECT_NEIGHBOURS} nearest neighbours in "
               f"latent space doubt. The evidence averages the model's probabilities and the neighbours' label "
               f"shares ({NEIGHBOUR_WEIGHT:.0%} each). How many labels are listed is confident learning's estimate "
               "(cleanlab, from per-class thresholds); they are ranked by score = 1 − the evidence for the given "
               "label. Click a row for the evidence. On AG News dev with 5% of the labels flipped at random, the top "
               "of this list finds about 80% of them (benchmarks/RESULTS.md).")
    if table.empty:
        st.success("No label in this corpus is doubted by both the model and its neighbours" +
                   (" that has not been reviewed." if reviewed else "."))
        return
    shown = table.copy()
    shown["text"] = [views.snippet(t, 140) for t in shown["text"]]
    event = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key="debug_suspect_table", height=min(38 + 35 * len(shown), 360),
                         column_config={
                             "row": st.column_config.NumberColumn("row", help="0-based row in the corpus"),
                             "label": "given label", "suggested": "suggested label",
                             "score": st.column_config.ProgressColumn("score", min_value=0.0, max_value=1.0, format="%.3f"),
                             "p_label": st.column_config.NumberColumn("model p(given)", format="%.3f"),
                             "p_suggested": st.column_config.NumberColumn("model p(suggested)", format="%.3f"),
                             "neighbours_label": st.column_config.NumberColumn("neighbours: given", format="percent"),
                             "neighbours_suggested": st.column_config.NumberColumn("neighbours: suggested",
                                                                                   format="percent"),
                             "text": st.column_config.TextColumn("text", width="large")})
    st.download_button(f"Download the {len(table):,} suspects (CSV)", table.to_csv(index=False).encode("utf-8"),
                       file_name="suspect_labels.csv", mime="text/csv", key="debug_suspect_dl",
                       on_click="ignore")
    picked = _picked_row(event)
    t = table.iloc[picked if picked is not None and picked < len(table) else 0]
    row = int(t["row"])
    st.markdown(f"#### Row {row}: labelled {md(t['label'])}, probably {md(t['suggested'])}")
    idx, dist = corpus.neighbours(corpus.mu[row], k=SUSPECT_NEIGHBOURS, exclude=row)
    nb = df.iloc[idx]["label"].value_counts().reindex(labels, fill_value=0)
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.plotly_chart(figures.probability_bars(labels, list(nb.to_numpy() / max(nb.sum(), 1)),
                                                 title=f"Labels of its {len(idx)} nearest neighbours"),
                        width="stretch", config={"displayModeBar": False}, key="debug_suspect_neighbours")
    with right:
        st.markdown(f"**The evidence.** The model gives the given label {md(t['label'])} {t['p_label']:.1%} and "
                    f"{md(t['suggested'])} {t['p_suggested']:.1%}; {t['neighbours_label']:.0%} of its "
                    f"{len(idx)} nearest neighbours in latent space carry the given label and "
                    f"{t['neighbours_suggested']:.0%} carry {md(t['suggested'])}. Score {t['score']:.3f} "
                    "(1 = nothing speaks for the given label).")
        st.caption("Read the text below: where it is about what the suggested label says, the given label is "
                   "probably a labelling error; where it is about both, the classes overlap here.")
    views.document_panel(explorer, corpus, row, key="debug/suspects", suggested=str(t["suggested"]))


@st.cache_data(max_entries=64, show_spinner="Searching latent space for the counterfactual…")
def counterfactual(_explorer, model: str, mu: tuple, target: int, budget: float, confidence: float):
    return _explorer.counterfactual(np.asarray(mu, dtype=np.float32), target, budget, confidence)


@st.cache_data(max_entries=64, show_spinner="Decoding the boundary between the two classes…")
def cached_boundary(_explorer, _corpus, model: str, corpus_key: str, true_lab: str, pred_lab: str):
    from vae_core.interpret.groups import pair_boundaries

    return pair_boundaries(_explorer, _corpus, [(true_lab, pred_lab)])[0]


PAIRS_SHOWN = 30  # rows of the most-confused pairs table


def _fresh(key: str, value):
    """`value` the first time it is seen under `key` (a new click), else None: a table's or a chart's selection
    stays in its widget state across reruns, and must not win over a later pick elsewhere."""
    seen = st.session_state.get(f"_seen_{key}")
    st.session_state[f"_seen_{key}"] = value
    return value if value is not None and value != seen else None


def _pick_pair(labels: list[str], pairs: list) -> None:
    """The cell the view opens: the one a click picked (the pairs table or the matrix), a link's, or the most
    confused."""
    if pairs:
        st.session_state.setdefault("debug_true", pairs[0][0])
        st.session_state.setdefault("debug_pred", pairs[0][1])
    else:
        st.session_state.setdefault("debug_true", labels[0])
        st.session_state.setdefault("debug_pred", labels[0])
    rows = ((st.session_state.get("debug_pairs") or {}).get("selection") or {}).get("rows") or []
    picked = _fresh("pairs", int(rows[0]) if rows else None)
    if picked is not None and picked < len(pairs):
        st.session_state["debug_true"], st.session_state["debug_pred"] = pairs[picked][0], pairs[picked][1]
    cell = st.session_state.get("debug_cm")
    points = (cell or {}).get("selection", {}).get("points") or []
    cd = points[0].get("customdata") if points else None
    clicked = _fresh("cm", tuple(cd[:2]) if isinstance(cd, list) and len(cd) >= 2 else None)
    if clicked is not None:
        st.session_state["debug_true"], st.session_state["debug_pred"] = labels[int(clicked[0])], labels[int(clicked[1])]


def pairs_table(labels: list[str], pairs: list) -> None:
    """The most-confused pairs, ranked: a click opens the pair."""
    st.markdown("**Most-confused pairs** (click one to see what separates the two classes and open its documents)")
    if not pairs:
        st.success("The model confuses no two classes on this corpus.")
        return
    rows = [{"true": t, "predicted as": p, "documents": n, "share of true class": share} for t, p, n, share in pairs]
    st.dataframe(rows, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                 key="debug_pairs", height=min(38 + 35 * len(rows), 290),
                 column_config={"share of true class": st.column_config.ProgressColumn(
                     "share of true class", min_value=0.0, max_value=1.0, format="percent",
                     help="Of the true class's documents in this corpus, the share the model predicts as the other.")})


def boundary_panel(explorer, corpus, true_lab: str, pred_lab: str) -> None:
    """What separates the two classes, in words: texts decoded across the boundary between their centres and the
    words that set each apart."""
    labels = explorer.labels
    b = cached_boundary(explorer, corpus, explorer.cache_key, corpus.content_key, true_lab, pred_lab)
    colors = classes.style(labels).view([true_lab, pred_lab])
    badge = lambda lab: views.class_badge(lab, labels, colors=colors)  # noqa: E731
    st.markdown(f"**What separates {badge(true_lab)} from {badge(pred_lab)}** · {b.count:,} documents of the first "
                f"predicted as the second ({b.share:.0%} of the class)", unsafe_allow_html=True)
    if not b.texts:
        st.caption(f"No document of this corpus is labelled or predicted {md(true_lab)} or {md(pred_lab)}: there is no "
                   "centre to decode between.")
        return
    cols = st.columns(3, gap="medium")
    where = [f"At the centre of {md(true_lab)}", "Where the line crosses the boundary", f"At the centre of {md(pred_lab)}"]
    for col, text, name, share, read in zip(cols, b.texts, where, b.shares, b.read_as):
        with col:
            st.markdown(f"{name} · read as {badge(read)}", unsafe_allow_html=True,
                        help=f"p({true_lab}) : p({pred_lab}) = {share:.0%} : {1 - share:.0%} here")
            views.quote(text or "(empty)")
    st.caption(f"Words of {md(true_lab)} documents, not of {md(pred_lab)}: {md(', '.join(b.words_true) or '-')} · "
               f"of {md(pred_lab)}, not of {md(true_lab)}: {md(', '.join(b.words_pred) or '-')}"
               + (f" · of the confused documents, not of the {md(true_lab)} documents the model gets right: "
                  f"{md(', '.join(b.words_confused))}" if b.words_confused else "")
               + ". The texts are decoded on the line between the two classes' centres in latent space.")


def per_class_table(m: dict) -> None:
    """Precision, recall, F1 and support of each class, the worst F1 first (a click on a header sorts)."""
    rows = sorted(({"class": lab, "precision": round(v["precision"], 3), "recall": round(v["recall"], 3),
                    "F1": round(v["f1"], 3), "support": v["support"]} for lab, v in m["per_class"].items()),
                  key=lambda r: (r["F1"], r["class"]))
    st.markdown("**Per class**, the worst F1 first (click a column to sort)")
    st.dataframe(rows, hide_index=True, width="stretch" if len(rows) > classes.FEW else "content",
                 height=min(38 + 35 * len(rows), 320))


def _pickers(labels: list[str], a, b) -> tuple[str, str]:
    true_lab = a.selectbox("True class", labels, key="debug_true", help="Type to search the classes.")
    pred_lab = b.selectbox("Predicted class", labels, key="debug_pred", help="Type to search the classes.")
    return true_lab, pred_lab


def matrix(labels: list[str], m: dict, cm: np.ndarray, true_lab: str, pred_lab: str) -> None:
    """The confusion matrix, the picked cell ringed (a click on a cell picks it); past classes.FEW classes in the
    classes' order, those of the most-confused pairs unless all are asked for."""
    shown = figures.matrix_classes(labels, cm)
    many = len(labels) > classes.FEW
    if many and len(shown) < len(labels) and st.toggle(
            f"All {len(labels)} classes in the matrix", key="debug_cm_all",
            help="By default the matrix draws the classes of the most-confused pairs, so that its cells stay wide "
                 "enough to pick."):
        shown = list(classes.style(labels).order)
    st.plotly_chart(figures.confusion_matrix(labels, m["confusion_matrix"],
                                             (labels.index(true_lab), labels.index(pred_lab)), shown),
                    width="stretch", on_select="rerun", selection_mode="points", key="debug_cm",
                    config={"displaylogo": False, "scrollZoom": many})
    if many:
        st.caption("Rows: true class; columns: predicted; shaded by the share of the row. Classes the model finds "
                   "alike sit next to each other (the order of a dendrogram of the classifier's class vectors)"
                   + (f"; {len(shown)} of the {len(labels)} classes, those of the most-confused pairs" if
                      len(shown) < len(labels) else "") + ". Hover a cell for its classes; click one to open it; "
                   "scroll to zoom.")


def confusion_view(explorer, corpus, m: dict, cm: np.ndarray) -> dict:
    """Pick a pair (the ranked table, the matrix or the pickers), see what separates it, open a document, find its
    counterfactual; returns the state a shared link carries."""
    from vae_core.interpret.groups import confused_pairs

    labels, df = explorer.labels, corpus.df
    pairs = confused_pairs(corpus, PAIRS_SHOWN)
    _pick_pair(labels, pairs)
    many = len(labels) > classes.FEW
    if many:  # the ranked pairs first, the matrix as the overview below them
        pairs_table(labels, pairs)
        a, b = st.columns(2)
        true_lab, pred_lab = _pickers(labels, a, b)
        if true_lab != pred_lab:
            boundary_panel(explorer, corpus, true_lab, pred_lab)
        matrix(labels, m, cm, true_lab, pred_lab)
    else:
        left, right = st.columns([3, 2], gap="large")
        with right:
            st.markdown("**Pick a cell** (or click one)")
            true_lab, pred_lab = _pickers(labels, st.container(), st.container())
        with left:
            matrix(labels, m, cm, true_lab, pred_lab)
        pairs_table(labels, pairs)
        if true_lab != pred_lab:
            boundary_panel(explorer, corpus, true_lab, pred_lab)
    per_class_table(m)
    ti, pi = labels.index(true_lab), labels.index(pred_lab)

    cell = df[(df["label"] == true_lab) & (df["pred"] == pred_lab)].sort_values("confidence", ascending=False)
    kind = "correct" if ti == pi else "misclassified"
    st.subheader(f"True {md(true_lab)}, predicted {md(pred_lab)} ({len(cell):,} {kind}, most confident first)")
    if cell.empty:
        st.info("No document in this cell. Pick another one.")
        return {"debug_true": true_lab, "debug_pred": pred_lab}
    views.document_table(corpus, list(cell.index), labels, max_height=280, limit=1000)
    review.bulk_panel(explorer, corpus, list(cell.index), "debug/cell", f"true {true_lab}, predicted {pred_lab}")
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
    views.document_panel(explorer, corpus, int(row), key="debug", attributions_open=True)
    target_lab = counterfactual_panel(explorer, corpus, int(row))
    return {"debug_true": true_lab, "debug_pred": pred_lab, "debug_doc": int(row), "debug_target": target_lab}


def counterfactual_panel(explorer, corpus, row: int) -> str:
    """The latent counterfactual of document `row`: target, budget and confidence picked, then the moves that
    flip the classifier and the decoded text, and the way there. Returns the target class."""
    labels, doc, mu = explorer.labels, corpus.df.iloc[row], corpus.mu[row]
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
    cf_key = (row, target_lab, float(budget), float(confidence))
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
            views.path_on_map(corpus, labels, path, f"towards {target_lab}", key="debug_cf_map", highlight=[row])
    return target_lab
