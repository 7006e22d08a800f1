"""Latent map: the corpus projected from latent space; select documents, open one, decode any place."""

import numpy as np
import streamlit as st

from app_ui import figures, share, views
from app_ui.resources import start_page
from app_ui.state import typed

explorer, corpus = start_page(
    "Latent map",
    "Every document of the corpus at its posterior mean, projected to 2-D. Click a point to open it; drag a "
    "box or lasso to select a region; hover for a snippet, or a region's name for what it holds.",
    corpus="required", share_as="map",
)


@st.cache_data(max_entries=16, show_spinner="Classifying the map's background…")
def landscape(_explorer, _corpus, model: str, corpus_key: str, resolution: int = 60) -> dict:
    return _corpus.landscape(_explorer.probs, resolution)


@st.cache_data(max_entries=16, show_spinner="Naming the map's regions (decoding their centres)…")
def regions(_explorer, _corpus, model: str, corpus_key: str) -> list:
    """The regions stored with the index (`index` names them), else named now, once per corpus and model."""
    from vae_core.interpret.groups import map_regions

    stored = _corpus.regions
    return stored if stored is not None else map_regions(_explorer, _corpus)


def selected_rows(event, df) -> tuple[list[int], tuple[float, float] | None]:
    """Row numbers picked on the chart, and the centre of a box or lasso when one was drawn."""
    sel = event.selection if event else None
    if not sel:
        return [], None
    rows = set()
    for p in sel.get("points", []):
        cd = p.get("customdata")
        if isinstance(cd, list) and len(cd) == 1:
            cd = cd[0]
        if isinstance(cd, (int, float)) and 0 <= int(cd) < len(df):
            rows.add(int(cd))
    centre = None
    for shape in list(sel.get("box", [])) + list(sel.get("lasso", [])):
        xs, ys = shape.get("x", []), shape.get("y", [])
        if xs and ys:
            centre = (float(np.mean(xs)), float(np.mean(ys)))
    return sorted(rows), centre


if explorer is not None and corpus is not None:
    labels, df = explorer.labels, corpus.df
    corpus_key = corpus.content_key
    c1, c2, c5, c3, c4 = st.columns([1.7, 1.4, 1.4, 1.1, 1.4])
    modes = dict(figures.COLOR_MODES)
    if not corpus.has_labels:
        modes.pop("label"), modes.pop("correct")
    color_by = c1.selectbox("Colour by", list(modes), format_func=modes.get, key="map_color")
    st.session_state.setdefault("map_landscape", True)
    show_land = c2.toggle("Class landscape", key="map_landscape",
                          help="The class the model gives each place of the map (the map mapped back to latent "
                               "space and classified). Left blank where no documents are nearby.")
    st.session_state.setdefault("map_regions", True)
    show_regions = c5.toggle("Region names", key="map_regions",
                             help="Each large region of the map named by the text decoded from its centre, cut to a "
                                  "headline; hover a name for the region's distinctive words and the whole text.")
    typed_text = st.session_state.get("classify_text", "")
    st.session_state.setdefault("map_star", True)
    show_star = c3.toggle("Your text", key="map_star", disabled=not typed_text.strip(),
                          help="The text typed on the Classify page, as a star.")
    with c4.popover("Select by filter", width="stretch"):
        st.caption("Selects the documents that match, as a box on the map would.")
        f_words = st.text_input("Text contains", **typed("map_filter_text"), placeholder="e.g. oil prices")
        f_label = st.multiselect("True label", labels, key="map_filter_label") if corpus.has_labels else []
        f_pred = st.multiselect("Prediction", labels, key="map_filter_pred")
        f_wrong = st.checkbox("Only misclassified", key="map_filter_wrong", disabled=not corpus.has_labels)

    land = landscape(explorer, corpus, explorer.cache_key, corpus_key) if show_land else None
    star = None
    if show_star and typed_text.strip():
        with views.user_error():
            pred = views.cached_classify(explorer, explorer.cache_key, typed_text)
            sx, sy = corpus.map.transform(np.asarray(pred.mu))[0]
            star = (float(sx), float(sy), f"your text: {pred.label} {pred.confidence:.0%}")

    filtered = corpus.filter(f_words, f_label, f_pred, f_wrong)

    shared_rows = [int(r) for r in st.session_state.get("map_rows_shared", []) if str(r).isdigit() and int(r) < len(df)]
    named = regions(explorer, corpus, explorer.cache_key, corpus_key) if show_regions else None
    fig = figures.latent_map(df, labels, color_by, landscape=land, star=star, highlight=filtered or shared_rows or None,
                             regions=named)
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key="map_chart", config={"displaylogo": False, "scrollZoom": True})
    chart_rows, centre = selected_rows(event, df)
    shared = shared_rows
    if chart_rows:
        st.session_state["map_rows_shared"] = shared = []  # a new selection replaces the one from a link
    rows = chart_rows or filtered or shared
    info = (f"{len(df):,} documents · projection: {corpus.meta.get('projection', '?').upper()} of the "
            f"{explorer.latent_size}-d posterior means · model {views.md(explorer.name)}")
    st.caption(info)

    if not rows and centre is None:
        st.info("Select documents: click a point, drag a box or a lasso on the map, or use **Select by filter**.")
    if centre is not None or rows:
        st.subheader("Decode here")
        where = "the centre of the area you drew" if centre is not None else "the centre of the selected documents"
        st.caption(f"The latent at {where} (a blend of the nearest documents' latents), decoded and classified.")
        if centre is None:
            centre = tuple(corpus.xy[rows].mean(0))
        z = corpus.map.inverse(np.asarray([centre]))
        path = explorer.path(z)
        words = explorer.top_words(z, 8)[0]
        a, b = st.columns([3, 2])
        a.markdown(views.class_badge(path.labels[0], labels, f"  {path.probs[0].max():.0%}"), unsafe_allow_html=True)
        a.code(path.texts[0] or "(empty)", language=None, wrap_lines=True)
        b.markdown("**Words this latent stands for** (bag-of-words head)")
        b.write(", ".join(f"{w} ({p:.1%})" for w, p in words))

    if rows:
        st.subheader(f"Selected documents ({len(rows):,})")
        sel = df.iloc[rows]
        table = views.document_table(df, rows, labels, max_height=320, limit=1000)
        if corpus.has_labels:
            acc = float((sel["correct"] == True).mean())  # noqa: E712
            st.caption(f"Accuracy in the selection: {acc:.1%} · " + " · ".join(
                f"{views.md(lab)}: {int((sel['pred'] == lab).sum())}" for lab in labels))
        st.download_button("Download the selection (CSV)", table.to_csv(index=False).encode("utf-8"),
                           file_name="selection.csv", mime="text/csv", key="map_download")

        options = rows[:1000]
        doc = st.selectbox("Open a document", options, key="map_doc",
                           format_func=lambda i: f"#{i} · {df['pred'].iat[i]} · {views.snippet(df['text'].iat[i], 90)}")
        if doc is not None:
            views.document_panel(explorer, corpus, int(doc), key="map")
    share.publish("map", {"map_color": color_by, "map_filter_text": f_words, "map_filter_pred": f_pred,
                          "map_filter_label": f_label, "map_filter_wrong": f_wrong,
                          "map_doc": st.session_state.get("map_doc") if rows else None,
                          "map_rows_shared": chart_rows or shared})
