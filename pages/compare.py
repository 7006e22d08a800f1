"""Compare two models side by side: the same text through both (probabilities, attributions), their maps
of the same corpus, and how often they agree."""

import numpy as np
import streamlit as st

from app_ui import figures, views
from app_ui.resources import current_model_name, list_models, load_explorer, start_page
from app_ui.state import typed
from app_ui.views import md
from vae_core.evaluate import agreement_metrics
from vae_core.indexing import index_shared
from vae_core.inference import MAX_CHARS

explorer, corpus = start_page(
    "Compare models",
    "The model from the sidebar (A) next to another one (B): the same text through both, their maps of the same "
    "documents, and where they disagree.",
    corpus="optional",
)


def encoded_by_b(explorer_b, name_b: str, corpus) -> object | None:
    """The current corpus as model B sees it: kept in the session once encoded (progress bar)."""
    store = st.session_state.setdefault("compare_indexes", {})
    key = f"{name_b}|{corpus.content_key}"
    if key in store:
        return store[key]
    if not st.button(f"Encode the {len(corpus):,} documents with {md(name_b)}", key="compare_encode", type="primary"):
        st.info(f"To compare maps and agreement, model B has to encode this corpus once (about "
                f"{len(corpus) / 60:.0f} s here).")
        return None
    bar = st.progress(0.0, text="Encoding…")

    def progress(done, total, stage):
        text = "Building the map…" if stage == "map" else f"Encoding {done:,} of {total:,}"
        bar.progress(done / total, text=text)

    labels = [v if v == v else None for v in corpus.df["label"]]
    store[key] = index_shared(explorer_b, corpus.df["text"].tolist(), labels if any(labels) else None,
                              corpus.meta.get("projection", "umap"),
                              meta={"source": corpus.meta.get("source", ""), "model": name_b},
                              on_progress=progress, regions=False)
    bar.empty()
    return store[key]


if explorer is not None:
    models = list_models()
    name_a = current_model_name()
    others = [n for n in models if n != name_a]
    if not others:
        st.info("Only one model is available. Train another one (see the README: `python -m vae_core train ...`) into "
                "your models folder and start the app with `-- --models-dir DIR`; it then appears here.")
        st.stop()
    name_b = st.selectbox("Model B", others, key="compare_b")
    try:
        explorer_b = load_explorer(str(models[name_b]))
    except (ValueError, OSError) as e:
        st.error(f"The model '{md(name_b)}' could not be loaded: {md(e)} Pick another one.")
        st.stop()
    st.session_state.setdefault("compare_text", st.session_state.get("classify_text") or
                                "Oil prices climbed to a record as traders worried about supplies.")
    text = st.text_area("Text for both models", **typed("compare_text"), height=100, max_chars=MAX_CHARS)
    if text.strip():
        cols = st.columns(2, gap="large")
        for col, (name, ex) in zip(cols, ((name_a, explorer), (name_b, explorer_b))):
            with col:
                st.markdown(f"#### {'A' if ex is explorer else 'B'}: {md(name)}")
                pred = views.cached_classify(ex, ex.cache_key, text)
                st.plotly_chart(figures.probability_bars(ex.labels, pred.probs), width="stretch",
                                config={"displayModeBar": False}, key=f"compare_probs_{name}")
                attr = views.cached_attribution(ex, ex.cache_key, text, ex.labels.index(pred.label), "integrated_gradients")
                views.show_attribution(text, attr, ex.labels, f"Why {pred.label}? (Integrated Gradients)")
    if corpus is None:
        st.stop()
    if explorer_b.labels != explorer.labels:
        st.info(f"The two models have different classes ({md(', '.join(explorer.labels))} / {md(', '.join(explorer_b.labels))}),"
                " so their predictions on the corpus cannot be compared class by class.")
        st.stop()
    st.subheader(f"On the corpus ({len(corpus):,} documents)")
    corpus_b = encoded_by_b(explorer_b, name_b, corpus)
    if corpus_b is not None:
        has_labels = corpus.has_labels
        stats = agreement_metrics(corpus.df["pred"].tolist(), corpus_b.df["pred"].tolist(), explorer.labels,
                                  [v if v == v else None for v in corpus.df["label"]] if has_labels else None)
        m = st.columns(4)
        m[0].metric("Same prediction", f"{stats['agree']:.1%}")
        m[1].metric("Cohen's kappa", f"{stats['kappa']:.3f}")
        if "acc_a" in stats:
            m[2].metric("Accuracy A / B", f"{stats['acc_a']:.1%} / {stats['acc_b']:.1%}")
            m[3].metric("Both wrong", f"{stats['both_wrong']:.1%}")
        a, b = st.columns(2, gap="large")
        for col, (name, c) in zip((a, b), ((name_a, corpus), (name_b, corpus_b))):
            with col:
                st.markdown(f"**{md(name)}**")
                st.plotly_chart(figures.latent_map(c.df, explorer.labels, "pred", height=420), width="stretch",
                                key=f"compare_map_{name}", config={"displaylogo": False})
        differ = np.flatnonzero((corpus.df["pred"] != corpus_b.df["pred"]).to_numpy())
        st.markdown(f"**Documents they disagree on** ({len(differ):,})")
        table = corpus.df.iloc[differ][["text", "label"]].copy()
        table.insert(0, "row", differ)
        table["A"] = corpus.df["pred"].to_numpy()[differ]
        table["B"] = corpus_b.df["pred"].to_numpy()[differ]
        table["A conf."] = corpus.df["confidence"].to_numpy()[differ].round(3)
        table["B conf."] = corpus_b.df["confidence"].to_numpy()[differ].round(3)
        st.dataframe(table, hide_index=True, width="stretch", height=min(38 + 35 * len(table), 320),
                     column_config={"text": st.column_config.TextColumn("text", width="large")})
        st.download_button("Download the disagreements (CSV)", table.to_csv(index=False).encode("utf-8"),
                           file_name="disagreements.csv", mime="text/csv", key="compare_dl", on_click="ignore")
