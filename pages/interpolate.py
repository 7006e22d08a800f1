"""Interpolate: walk through latent space from one document to another, decoding and classifying every step."""

import numpy as np
import streamlit as st

from app_ui import figures, share, views
from app_ui.resources import start_page
from app_ui.state import typed
from vae_core.inference import MAX_CHARS

explorer, corpus = start_page(
    "Interpolate",
    "Pick two documents, or type them. The path between their latent means is decoded and classified at "
    "every step: watch where the topic turns and where the class flips. Below: latent arithmetic, A − B + C.",
    corpus="optional", share_as="interpolate",
)


@st.cache_data(max_entries=128, show_spinner=False)
def walk(_explorer, model: str, za: tuple, zb: tuple, steps: int, mode: str):
    return _explorer.interpolate(np.asarray(za), np.asarray(zb), steps, mode)


@st.cache_data(max_entries=64, show_spinner="Encoding, adding and decoding…")
def arithmetic(_explorer, model: str, a: str, b: str, c: str):
    return _explorer.arithmetic(a, b, c)


def arithmetic_panel() -> None:
    """z(A) - z(B) + z(C) from three typed texts, with the offset applied in steps."""
    st.subheader("Latent arithmetic")
    st.caption("z(A) − z(B) + z(C), decoded and classified (as in Optimus): take a document, subtract what it is "
               "about, add something else, e.g. a sports story − “sports” + “business”. The rows apply the offset "
               "z(C) − z(B) to A in steps, from none of it (A itself) to all of it.")
    labels = explorer.labels
    examples = explorer.examples
    # defaults: an example of one class (the third, or the last of fewer), minus its name, plus another class's
    src = labels[min(2, len(labels) - 1)]
    other = labels[0] if src != labels[0] else labels[-1]
    defaults = {"A": (examples.get(src) or [""])[0], "B": src.lower(), "C": other.lower()}
    cols = st.columns([2, 1, 1], gap="medium")
    texts = {}
    for col, (side, what) in zip(cols, (("A", "a document"), ("B", "minus"), ("C", "plus"))):
        st.session_state.setdefault(f"interp_arith_{side}", defaults[side])
        texts[side] = col.text_area(f"{side}: {what}", **typed(f"interp_arith_{side}"), height=100,
                                    max_chars=MAX_CHARS)
    empty = [side for side, t in texts.items() if not t.strip()]
    if empty:
        st.info(f"Type a text for {' and '.join(empty)}.")
        return
    path = arithmetic(explorer, explorer.cache_key, texts["A"], texts["B"], texts["C"])
    result = len(path) - 1
    st.markdown("**A − B + C** " + views.class_badge(path.labels[result], labels, f"  {path.probs[result].max():.0%}"),
                unsafe_allow_html=True)
    views.quote(path.texts[result] or "(empty)")
    if path.labels[result] != path.labels[0]:
        flip = next(i for i in range(len(path)) if path.labels[i] != path.labels[0])
        st.caption(f"The class turns from {views.md(path.labels[0])} to {views.md(path.labels[flip])} at "
                   f"{flip}/{result} of the offset.")
    else:
        st.caption(f"The class stays {views.md(path.labels[0])}: the offset does not carry A across a boundary.")
    views.path_table(path, labels, names=["A"] + [f"A + {i}/{result} (C − B)" for i in range(1, result)] + ["A − B + C"])


def endpoint(side: str, default_row: int | None, default_text: str):
    """Widgets for one end of the path; returns (latent mean, short description) or None."""
    st.markdown(f"**{side}**")
    sources = ["From the corpus", "Type a text"] if corpus is not None else ["Type a text"]
    source = st.radio(f"Source of {side}", sources, key=f"interp_src_{side}", horizontal=True,
                      label_visibility="collapsed")
    if source == "Type a text":
        st.session_state.setdefault(f"interp_text_{side}", default_text)
        text = st.text_area(f"Text {side}", **typed(f"interp_text_{side}"), height=100, max_chars=MAX_CHARS,
                            label_visibility="collapsed")
        if not text.strip():
            st.info(f"Type a text for {side}.")
            return None
        pred = views.cached_classify(explorer, explorer.cache_key, text)
        return np.asarray(pred.mu, dtype=np.float32), views.snippet(text, 80)
    query = st.text_input(f"Search the corpus for {side}", **typed(f"interp_q_{side}"), placeholder="words to search for")
    hits = corpus.search(query, limit=200)
    if not hits:
        st.warning("No document contains all of these words. Try fewer or other words.")
        return None
    if default_row is not None and not query.strip() and default_row not in hits:
        hits = [default_row] + hits
    key = f"interp_doc_{side}"
    if st.session_state.get(key) not in hits:
        st.session_state[key] = default_row if default_row in hits else hits[0]
    row = st.selectbox(f"Document {side}", hits, key=key, label_visibility="collapsed",
                       format_func=lambda i: f"#{i} · {corpus.df['pred'].iat[i]} · {views.snippet(corpus.df['text'].iat[i], 80)}")
    doc = corpus.df.iloc[row]
    st.caption(views.snippet(doc["text"], 300))
    return corpus.mu[row], f"#{row}"


if explorer is not None:
    labels = explorer.labels
    default_a = default_b = None
    if corpus is not None:
        by = corpus.df["pred"]
        firsts = [int(np.flatnonzero((by == lab).to_numpy())[0]) for lab in labels if (by == lab).any()]
        default_a, default_b = (firsts + [0, min(1, len(corpus) - 1)])[:2]
    # typed ends start as examples of two classes from the model's own training data (empty without any)
    firsts = [texts[0] for texts in explorer.examples.values()] + ["", ""]
    left, right = st.columns(2, gap="large")
    with left:
        a = endpoint("A", default_a, firsts[0])
    with right:
        b = endpoint("B", default_b, firsts[1])
    c1, c2, _ = st.columns([2, 1.5, 2])
    st.session_state.setdefault("interp_steps", 8)
    steps = c1.slider("Steps", 2, 20, key="interp_steps", help="Points on the path, both ends included.")
    mode = c2.radio("Path", ["linear", "spherical"], key="interp_mode", horizontal=True,
                    help="Spherical (slerp) keeps the latent's norm, as samples from a Gaussian prior have.")
    if a is not None and b is not None:
        path = walk(explorer, explorer.cache_key, views.as_key(a[0])[0], views.as_key(b[0])[0], steps, mode)
        flips = [i for i in range(1, len(path)) if path.labels[i] != path.labels[i - 1]]
        st.subheader("Class probabilities along the path")
        st.plotly_chart(figures.path_probabilities(labels, path.probs), width="stretch",
                        config={"displayModeBar": False}, key="interp_probs")
        if flips:
            st.caption("The class changes at step " + ", ".join(
                f"{i} ({views.md(path.labels[i - 1])} → {views.md(path.labels[i])})" for i in flips) + ".")
        else:
            st.caption(f"The whole path stays in {views.md(path.labels[0])}.")
        st.subheader("Decoded text at every step")
        views.path_table(path, labels)
        if corpus is not None:
            st.subheader("The path on the map")
            views.path_on_map(corpus, labels, path, "A → B", key="interp_map", height=480)
            st.caption("Steps are placed by their nearest documents in latent space, so a step between clusters lands "
                       "near the documents it resembles most.")
        st.subheader("Move A along a class direction")
        st.caption("Instead of towards B, walk A's latent towards a class; decoded and classified at every step.")
        views.class_direction_panel(explorer, corpus, a[0], path.labels[0], "interp")
    arithmetic_panel()
    share.publish("interpolate", interp_steps=steps, interp_mode=mode)
