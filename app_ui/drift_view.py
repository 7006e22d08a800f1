"""Drift in the app (page Your corpus): a new corpus against a reference corpus of the same model, on the
reference's map with the reference as grey context; the regions where the two differ, flagged ones first, each
with its description, words, class mix and documents. The comparison lives in the page's link."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_ui import figures, views
from app_ui.resources import corpora_of, open_corpus
from app_ui.views import md

RESULTS_KEY = "_drift_results"  # (model, reference, new) -> Drift, this session's last few
KEEP = 4


def measured(explorer, reference, new):
    """The Drift of `new` against `reference` (vae_core.drift), with progress the first time; kept in the session."""
    from vae_core.drift import drift

    key = (explorer.cache_key, reference.content_key, new.content_key)
    results = st.session_state.setdefault(RESULTS_KEY, {})
    if key not in results:
        with st.status("Measuring drift…", expanded=False) as status:
            d = drift(explorer, reference, new, progress=lambda step: status.update(label=f"Measuring drift: {step}…"))
            status.update(label=f"Drift measured: {d.verdict}", state="complete")
        while len(results) >= KEEP:
            results.pop(next(iter(results)))
        results[key] = d
    return results[key]


def _region_rows(d) -> list[dict]:
    rows = []
    for r in d.regions:
        main = max(r.class_mix.items(), key=lambda kv: kv[1]) if r.class_mix else ("-", 0.0)
        rows.append({
            "region": r.id, "drifted": "yes" if r.flagged else "no",
            "in the new corpus": "more" if r.direction == "over" else "fewer",
            "new docs": r.new_count, "reference docs": r.reference_count,
            "ratio": round(r.ratio, 2), "95% interval": f"{r.ratio_low:.2f} – {r.ratio_high:.2f}",
            "p": f"{r.p_value:.2g}", "reads like": views.snippet(r.description, 90),
            "words": ", ".join(r.words), "mostly predicted": f"{main[0]} {main[1]:.0%}",
            "accuracy (labelled new docs)": None if r.accuracy is None else f"{r.accuracy:.0%} of {r.labelled:,}"})
    return rows


def drift_section(explorer, default_new: str | None = None) -> None:
    """Pick a reference and a new corpus of the current model; show where they differ."""
    corpora = corpora_of(explorer)
    names = list(corpora)
    if len(names) < 2:
        st.info("Drift compares two corpora of this model: upload a corpus above (or index one with "
                "`python -m vae_core index`), then compare it with the model's own corpus here.")
        return
    if st.session_state.get("drift_reference") not in names:
        st.session_state["drift_reference"] = names[0]
    if st.session_state.get("drift_new") not in names:
        st.session_state["drift_new"] = default_new if default_new in names else names[-1]
    a, b = st.columns(2)
    ref_name = a.selectbox("Reference (the corpus the model knows)", names, key="drift_reference")
    new_name = b.selectbox("New corpus", names, key="drift_new")
    if ref_name == new_name:
        st.info("Pick two different corpora.")
        return
    reference, new = open_corpus(explorer, ref_name, corpora[ref_name]), open_corpus(explorer, new_name, corpora[new_name])
    if reference is None or new is None:
        return
    d = measured(explorer, reference, new)
    (st.warning if d.flagged else st.success)(
        f"**{md(new_name)}** against **{md(ref_name)}**: {md(d.verdict)}.")
    _summary(d)
    selected = st.session_state.get("drift_region")
    if selected not in [r.id for r in d.regions]:
        selected = None
    _map_and_mix(d, reference, new, selected)
    _regions(explorer, d, reference, new, selected)


def _summary(d) -> None:
    """The drift score, the drifted regions and the corpora's sizes."""
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Drift score", f"{d.auc:.3f}", help="How well the two corpora can be told apart in latent space (AUC of "
              "a cross-fitted nearest-neighbour classifier of their posteriors): 0.5 = not at all, 1 = completely. "
              f"p = {d.p_value:.2g} (Mann-Whitney).")
    m2.metric("Drifted regions", f"{len(d.flagged)}", help="Regions where one corpus has significantly more documents "
              "than the other (found on one half of the documents, tested on the other; Bonferroni-corrected).")
    m3.metric("New documents", f"{d.new_documents:,}")
    m4.metric("Reference documents", f"{d.reference_documents:,}")


def _map_and_mix(d, reference, new, selected) -> None:
    """The new corpus on the reference's map (zoomed to the `selected` region), and the predicted classes' change."""
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.plotly_chart(figures.drift_map(reference.xy, d.new_xy, d.region_of, d.regions,
                                          reference.df["text"].tolist(), new.df["text"].tolist(), selected),
                        width="stretch", key="drift_map", config={"displaylogo": False, "scrollZoom": True})
        st.caption("The new corpus placed on the reference's map (its documents at their nearest reference neighbours "
                   "in latent space); the reference in grey. Red: new documents in a drifted region; blue rings: "
                   "reference documents in a region the new corpus lacks."
                   + (" Zoomed to the selected region." if selected is not None else ""))
    with right:
        st.markdown("**Predicted classes**")
        st.plotly_chart(figures.class_mix_change(d.class_mix), width="stretch", key="drift_mix",
                        config={"displayModeBar": False})
        change = max(d.class_mix.items(), key=lambda kv: abs(kv[1][1] - kv[1][0]))
        st.caption(f"Largest change: {md(change[0])}, {change[1][0]:.1%} of the reference, {change[1][1]:.1%} of the "
                   "new corpus.")


def _regions(explorer, d, reference, new, selected) -> None:
    """The regions, most drifted first (a click zooms to one), and the `selected` region's documents."""
    st.markdown("**Regions, most drifted first.** Click a row to zoom to it and list its documents.")
    if not d.regions:
        st.caption("No region was dense enough on either side to be tested.")
        return
    event = st.dataframe(_region_rows(d), hide_index=True, width="stretch", on_select="rerun",
                         selection_mode="single-row", key="drift_table")
    picked = event.selection.rows if event is not None else []
    if picked:
        choice = d.regions[picked[0]].id
        if choice != st.session_state.get("drift_region"):
            st.session_state["drift_region"] = choice
            st.rerun()
    if selected is None:
        return
    r = next(r for r in d.regions if r.id == selected)
    st.markdown(f"#### Region {r.id}: {'more' if r.direction == 'over' else 'fewer'} documents in the new corpus"
                + (" (drifted)" if r.flagged else " (not significant)"))
    views.quote(f"Reads like: {r.description}")
    st.caption(f"Distinctive words: {md(', '.join(r.words) or '-')} · ratio of shares {r.ratio:.2f} "
               f"(95% {r.ratio_low:.2f}–{r.ratio_high:.2f}), p = {r.p_value:.2g}"
               + (f" · accuracy of its {r.labelled:,} labelled new documents {r.accuracy:.1%}"
                  if r.accuracy is not None else ""))
    rows = r.new_rows if r.direction == "over" else r.reference_rows
    source = new if r.direction == "over" else reference
    st.markdown(f"**Its documents in the {'new corpus' if r.direction == 'over' else 'reference'}** "
                f"({len(rows):,}, nearest its centre first)")
    views.document_table(source, rows, explorer.labels, limit=500)
    st.markdown("**The reference documents nearest its centre**")
    views.document_table(reference, r.nearest_reference, explorer.labels, max_height=220)
    st.button("Show the whole map", key="drift_unzoom", on_click=lambda: st.session_state.pop("drift_region", None))


def link_state() -> dict:
    """What the page's link carries of the comparison that session state does not hold as it is: the region picked
    (reference and new corpus are read from their pickers' keys)."""
    region = st.session_state.get("drift_region")
    return {"drift_region": int(region) if isinstance(region, (int, np.integer)) else None}
