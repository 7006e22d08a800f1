"""Samples: what the decoder writes for latents no document gave it: draws from the prior N(0, I), draws
from each class's region, and the empty places of the map."""

import numpy as np
import streamlit as st

from app_ui import classes, views
from app_ui.resources import start_page

explorer, corpus = start_page(
    "Samples",
    "A VAE's latent space is meant to be filled: any z should decode to a plausible text. Decode draws from the "
    "prior, from each class's region, and from the map's empty places, and see how the classifier reads them.",
    corpus="optional",
)


@st.cache_data(max_entries=32, show_spinner="Decoding…")
def decode_path(_explorer, model: str, z: tuple):
    return _explorer.path(np.asarray(z, dtype=np.float32))


@st.cache_data(max_entries=32, show_spinner="Decoding…")
def prior_samples(_explorer, model: str, n: int, seed: int):
    return _explorer.sample_prior(n, seed)


def show(path, title: str, names: list[str], key: str) -> None:
    st.markdown(f"**{views.md(title)}**")
    views.path_table(path, explorer.labels, names=names)
    if corpus is not None:
        views.path_on_map(corpus, explorer.labels, path, title, key=key, height=380, lines=False)


if explorer is not None:
    labels = explorer.labels
    c1, c2 = st.columns(2)
    st.session_state.setdefault("samples_n", 8)
    st.session_state.setdefault("samples_seed", 0)
    n = c1.slider("Samples", 3, 16, key="samples_n")
    seed = c2.number_input("Seed", 0, 10_000, key="samples_seed", help="The same seed draws the same latents.")
    tabs = st.tabs(["Prior N(0, I)", "Class regions", "Empty places of the map"])
    with tabs[0]:
        path = prior_samples(explorer, explorer.cache_key, int(n), int(seed))
        share_by = {lab: path.labels.count(lab) / len(path) for lab in labels}
        if len(labels) > classes.FEW:  # the classes the samples fall in, most first; the rest said in a number
            hit = sorted((lab for lab in labels if share_by[lab]), key=lambda lab: -share_by[lab])
            none = len(labels) - len(hit)
            share_by = {lab: share_by[lab] for lab in hit}
        st.caption("Share of prior samples per predicted class: " + " · ".join(
            f"{views.md(k)} {v:.0%}" for k, v in share_by.items())
            + (f" · none in the other {none} classes" if len(labels) > classes.FEW and none else ""))
        show(path, "Draws from the prior", [f"z{i}" for i in range(n)], "samples_prior_map")
    with tabs[1]:
        if corpus is None:
            st.info("Class regions come from an indexed corpus; this model has none.")
        else:
            label = st.selectbox("Class", labels, key="samples_class")
            with views.user_error():
                z = corpus.class_samples(label, n, int(seed))
                path = decode_path(explorer, explorer.cache_key, views.as_key(z))
                kept = path.labels.count(label) / len(path)
                st.caption(f"z ~ q(z|x) for random documents predicted {views.md(label)}: {kept:.0%} of the decoded samples are "
                           f"classified {views.md(label)} at their latent.")
                show(path, f"Draws from the {label} region", [f"z{i}" for i in range(n)], "samples_class_map")
    with tabs[2]:
        if corpus is None:
            st.info("The map comes from an indexed corpus; this model has none.")
        else:
            places = corpus.empty_places(n)
            if not len(places):
                st.info("The map has no empty places: documents are everywhere within its extent.")
            else:
                z = corpus.map.inverse(places)
                path = decode_path(explorer, explorer.cache_key, views.as_key(z))
                st.caption("The map positions farthest from every document, mapped back to latent space (a blend of the "
                           "nearest documents' latents) and decoded. To decode any other place, draw a box there on "
                           "the Latent map.")
                show(path, "Empty places", [f"place {i}" for i in range(len(path))], "samples_empty_map")
