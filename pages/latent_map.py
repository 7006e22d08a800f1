"""Latent map: the corpus projected from latent space; select documents, open one, decode any place."""

import hashlib

import numpy as np
import streamlit as st

from app_ui import classes, density, figures, review, share, views
from app_ui.resources import corpora_of, start_page
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


@st.cache_resource(max_entries=32, show_spinner=False)
def map_figure(_corpus, _landscape, _highlight, _regions, model: str, corpus_key: str, color_by: str, landscape: bool,
               star, highlight: str, regions: bool, view, points_max: int, focus: tuple[str, ...]):
    """The map's figure, built once per model, corpus, colour mode, overlay, highlighted classes and view: the rerun
    that answers a selection does not rasterise a million documents again. (Shared, not copied: nothing changes a
    figure.)"""
    return figures.latent_map(_corpus.df, _corpus.labels, color_by, landscape=_landscape, star=star,
                              highlight=_highlight, regions=_regions, view=view, points_max=points_max,
                              focus=list(focus) or None)


def zoom_view(bounds: tuple[float, float, float, float], margin: float = 0.05) -> list[float]:
    x0, x1, y0, y1 = bounds
    px, py = max(x1 - x0, 1e-6) * margin, max(y1 - y0, 1e-6) * margin
    return [round(x0 - px, 5), round(x1 + px, 5), round(y0 - py, 5), round(y1 + py, 5)]


if explorer is not None and corpus is not None:
    labels, df = explorer.labels, corpus.df
    corpus_key = corpus.content_key
    c1, c7, c4, c6 = st.columns([1.5, 3.0, 1.2, 1.2], vertical_alignment="bottom")
    c2, c5, c3, _ = st.columns([1.3, 1.3, 1.3, 3.0])
    modes = dict(figures.COLOR_MODES)
    if not corpus.has_labels:
        modes.pop("label"), modes.pop("correct")
    color_by = c1.selectbox("Colour by", list(modes), format_func=modes.get, key="map_color")
    style = classes.style(labels)
    focus = c7.multiselect(
        "Highlight classes", [labels[i] for i in style.order], key="map_focus", max_selections=classes.SOME,
        placeholder=(f"Type to find any of the {len(labels)} classes" if style.many else "Pick classes to light up"),
        disabled=color_by not in ("label", "pred"),
        help="The classes picked keep (or get) colours of their own and every other class turns grey, on the map "
             "and in its legend." + (f" Without a pick, each legend entry is a family of classes the model finds "
                                     "alike, coloured in shades of one hue; a click on it hides or shows them."
                                     if style.many else ""))
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

    with c6.popover("Compare corpora", width="stretch"):
        others = [n for n in corpora_of(explorer) if n != st.session_state.get("corpus_name")]
        if not others:
            st.caption("Drift needs a second corpus of this model: upload one on the page Your corpus.")
        else:
            other = st.selectbox("Where does this corpus differ from this map's?", others, key="map_compare_with",
                                 help="This map's corpus is the reference; the other is placed on its map and the "
                                      "regions where they differ are listed in words (page Your corpus).")
            if st.button("Show the drift", key="map_compare_go", width="stretch"):
                st.session_state["drift_reference"] = st.session_state.get("corpus_name")
                st.session_state["drift_new"] = other
                st.session_state.pop("drift_region", None)
                st.switch_page("pages/upload.py")

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
    linked = st.session_state.pop("map_zoom", None)  # a shared link's zoomed view (state.VIEW checked it), once
    if linked is not None:
        st.session_state["map_view"] = {"corpus": corpus_key, "view": linked}
    zoom = st.session_state.get("map_view")
    view = tuple(zoom["view"]) if isinstance(zoom, dict) and zoom.get("corpus") == corpus_key else None
    highlight = filtered or shared_rows or None
    fig = map_figure(corpus, land, highlight, named, explorer.cache_key, corpus_key, color_by, land is not None, star,
                     hashlib.sha256(np.asarray(highlight or [], dtype=np.int64).tobytes()).hexdigest(),
                     named is not None, view, density.points_max(),
                     tuple(focus) if color_by in ("label", "pred") else ())
    dense = bool(fig.layout.images)
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode=("points", "box", "lasso"),
                            key="map_chart", config={"displaylogo": False, "scrollZoom": True})
    chart_rows, bounds = density.selected(event.selection if event else None, corpus.xy, dense)
    shared = shared_rows
    if chart_rows:
        st.session_state["map_rows_shared"] = shared = []  # a new selection replaces the one from a link
    rows = chart_rows or filtered or shared
    info = (f"{len(df):,} documents · projection: {corpus.meta.get('projection', '?').upper()} of the "
            f"{explorer.latent_size}-d posterior means · model {views.md(explorer.name)}")
    if view is not None:
        info += f" · zoomed in: {len(density.in_view(corpus.xy, view)):,} documents in view"
    if dense:
        info += (f" · drawn as a density image of every document, {density.sample_size():,} of them as points to "
                 f"hover and click; zoom in (draw a box or lasso) to an area of at most {density.points_max():,} "
                 "documents to see each of them as a point")
    caption, zoom_in, whole = st.columns([4.4, 1.6, 1.6], vertical_alignment="center")
    caption.caption(info)
    if bounds is not None and zoom_in.button("Zoom in here", icon=":material/zoom_in:", width="stretch",
                                             help="Redraw the map on the area you drew: every document in it as a "
                                                  "point once there are few enough."):
        st.session_state["map_view"] = {"corpus": corpus_key, "view": zoom_view(bounds)}
        st.session_state["map_rows_shared"] = rows  # the redrawn chart forgets the shape: its documents stay selected
        st.rerun()
    if view is not None and whole.button("Whole map", icon=":material/zoom_out_map:", width="stretch"):
        st.session_state.pop("map_view", None)
        st.rerun()

    if not rows and bounds is None:
        st.info("Select documents: click a point, drag a box or a lasso on the map, or use **Select by filter**.")
    if rows:
        st.subheader(f"Selected documents ({len(rows):,})")
        views.document_table(corpus, rows, labels, max_height=320, limit=1000)
        if corpus.has_labels:
            acc = float(np.mean(df["correct"].to_numpy()[rows] == True))  # noqa: E712
            counts = df["pred"].iloc[rows].value_counts()  # the most predicted first; past classes.FEW the top ones
            shown = [lab for lab in labels if lab in counts.index] if len(labels) <= classes.FEW else list(counts.index[:8])
            more = len(counts) - len(shown)
            st.caption(f"Accuracy in the selection: {acc:.1%} · predicted " + " · ".join(
                f"{views.md(lab)}: {int(counts.get(lab, 0)):,}" for lab in shown)
                + (f" · {more} more classes: {int(counts.iloc[len(shown):].sum()):,}" if more > 0 else ""))
        views.csv_download(f"Download the selection (CSV, {len(rows):,} rows)", corpus, rows, labels, "selection.csv",
                           "map_download")
        review.bulk_panel(explorer, corpus, [int(r) for r in rows], "map", "the map's selection")
    if bounds is not None or rows:
        st.subheader("Decode here")
        where = "the centre of the area you drew" if bounds is not None else "the centre of the selected documents"
        st.caption(f"The latent at {where} (a blend of the nearest documents' latents), decoded and classified.")
        if bounds is not None:
            centre = ((bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2)
        else:
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
        options = rows[:1000]
        doc = st.selectbox("Open a document", options, key="map_doc",
                           format_func=lambda i: f"#{i} · {df['pred'].iat[i]} · {views.snippet(df['text'].iat[i], 90)}")
        if doc is not None:
            views.document_panel(explorer, corpus, int(doc), key="map")
    share.publish("map", map_color=color_by, map_filter_text=f_words, map_filter_pred=f_pred, map_filter_label=f_label,
                  map_filter_wrong=f_wrong, map_doc=st.session_state.get("map_doc") if rows else None,
                  map_rows_shared=chart_rows or shared, map_zoom=view, map_focus=focus)
