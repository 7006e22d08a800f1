"""Model: the VAE's health (training curves, KL per dimension, active units, mutual information, collapse
warning), reconstructions, per-class figures on the current corpus, and what it was trained on."""
import json
from pathlib import Path

import streamlit as st

from app_ui import classes, figures, views
from app_ui.resources import start_page

explorer, corpus = start_page(
    "Model",
    "Is the latent space healthy? A VAE whose posterior collapsed classifies and decodes from a latent that "
    "says little about the text. Figures on this page come from the checkpoint and the current corpus.",
    corpus="optional",
)


def read_json(name: str):
    try:
        return json.loads((explorer.folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@st.cache_data(max_entries=16, show_spinner=False)
def health(_corpus, key: str) -> dict:
    from vae_core.evaluate import latent_health

    return latent_health(_corpus.mu, _corpus.logvar)


@st.cache_data(max_entries=16, show_spinner=False)
def calibration(_corpus, key: str, labels: tuple[str, ...], temperature: float) -> dict:
    from vae_core.evaluate import calibration_metrics

    return calibration_metrics(_corpus.probs, _corpus.label_codes(labels), temperature)


if explorer is not None:
    cfg = explorer.model.config
    labels = explorer.labels
    st.markdown(f"**{views.md(explorer.name)}** · encoder {views.md(cfg.encoder_name_or_path)} · latent size {cfg.latent_size} · "
                f"{len(labels)} classes: {views.md(classes.names_line(labels))} · decoder {cfg.decoder_layers} layers over "
                f"{cfg.decoder_vocab_size or 'all'} WordPiece tokens")

    with st.container(border=True):
        st.markdown("**A report for stakeholders**")
        views.report_panel(explorer, corpus)

    if corpus is not None:
        key = f"{corpus.content_key}:{explorer.cache_key}"
        h = health(corpus, key)
        st.subheader(f"Latent health on this corpus ({len(corpus):,} documents)")
        a, b, c, d = st.columns(4)
        a.metric("Active units", f"{h['active_units']} / {h['latent_size']}", help="Dimensions whose posterior mean "
                 "varies across documents (Cov > 0.01, Burda et al. 2016).")
        b.metric("KL per document", f"{h['kl_per_doc']:.1f} nats", help="How far each posterior is from the prior.")
        c.metric("Mutual information", f"{h['mutual_information']:.2f} nats", help="I(x; z) under the encoder, "
                 "estimated as in He et al. (2019); at most log N.")
        if corpus.has_labels:
            acc = float((corpus.df["correct"] == True).mean())  # noqa: E712
            d.metric("Accuracy", f"{acc:.1%}")
        if h["collapsed"]:
            st.error("Posterior collapse: " + "; ".join(h["collapse_reasons"]) + ". Retrain with more free bits "
                     "(--free-bits), a lower --beta-max or the bag-of-words loss (--bow-weight).")
        else:
            st.success(f"No posterior collapse: {h['active_units']} of {h['latent_size']} units carry information and "
                       f"each document's posterior sits {h['kl_per_doc']:.1f} nats from the prior.")
        st.plotly_chart(figures.kl_per_dimension(h["kl_per_dim"], h["mu_variance_per_dim"]), width="stretch",
                        key="model_kl", config={"displaylogo": False})

        if corpus.has_labels:
            cal = calibration(corpus, key, tuple(labels), float(cfg.temperature))
            st.subheader("Is \"96% sure\" true? Calibration on this corpus")
            left, right = st.columns([3, 2], gap="large")
            with left:
                st.plotly_chart(figures.reliability_diagram(cal["reliability"]), width="stretch",
                                key="model_reliability", config={"displaylogo": False})
            with right:
                st.metric("Expected calibration error", f"{cal['ece']:.2%}", help="Documents are grouped by the "
                          "confidence of their predicted class (15 bins); ECE averages |accuracy - confidence| over "
                          "the bins, weighted by their documents (Guo et al. 2017). 0 = as right as it says.")
                st.metric("Mean confidence", f"{cal['mean_confidence']:.1%}")
                if "ece_unscaled" in cal:
                    st.caption(f"The probabilities are the logits over a temperature of {cal['temperature']:.3f}, fitted "
                               f"on the dev file after training (without it, ECE here is {cal['ece_unscaled']:.2%}). "
                               "No prediction changes with it.")
                else:
                    st.caption("The probabilities are the classifier's own, with no temperature (`train` fits one on "
                               "the dev file when it lowers the error; `python -m vae_core calibrate` does it for a "
                               "model trained before).")
                worst = max((b for b, n in enumerate(cal["reliability"]["count"]) if n >= 20),
                            key=lambda b: abs(cal["reliability"]["accuracy"][b] - cal["reliability"]["confidence"][b]),
                            default=None)
                if worst is not None:
                    r = cal["reliability"]
                    st.caption(f"Largest gap among bins of 20 or more documents: predictions made with "
                               f"{r['edges'][worst]:.0%}–{r['edges'][worst + 1]:.0%} confidence "
                               f"(mean {r['confidence'][worst]:.1%}) were right {r['accuracy'][worst]:.1%} of the time "
                               f"({r['count'][worst]:,} documents).")

    metrics = read_json("metrics.json") or {}
    if metrics.get("history") or metrics.get("steps"):
        st.subheader("Training curves")
        st.plotly_chart(figures.training_curves(metrics), width="stretch", key="model_curves",
                        config={"displaylogo": False})
        secs = metrics.get("train_seconds")
        best = metrics.get("best_dev_accuracy")
        stages = metrics.get("stages") or []
        st.caption((f"Best dev accuracy {best:.4f}. " if best is not None else "Trained without a dev set. ")
                   + (f"{secs / 60:.1f} min of optimisation steps" if secs else "")
                   + (f" in {len(stages)} stages, each on the model of the one before: "
                      + ", ".join(f"{s['stage']} ({(s.get('train_seconds') or 0) / 60:.1f} min)" for s in stages)
                      if len(stages) > 1 else "") + ("." if secs else ""))

    if corpus is not None:
        st.subheader("Reconstructions")
        st.caption("The first documents of the corpus, decoded from their posterior means.")
        rows = list(range(min(6, len(corpus))))
        decoded = views.cached_decode(explorer, explorer.cache_key, views.as_key(corpus.mu[rows]))
        for i, text in zip(rows, decoded):
            st.markdown(f"**#{i}** {views.class_badge(corpus.df['pred'].iat[i], labels)}", unsafe_allow_html=True)
            views.quote(views.snippet(corpus.df["text"].iat[i], 300))
            st.code(text or "(empty)", language=None, wrap_lines=True)

    evaluation = read_json("evaluation.json")
    if evaluation:
        from vae_core.evaluate import figure_rows

        st.subheader("Measured at build time")
        docs = evaluation.get("documents")
        where = (f"{docs:,}" if isinstance(docs, int) else "?") + \
            f" documents of {views.md(Path(str(evaluation.get('file', ''))).name)}"
        if evaluation.get("reader_top1") is not None:
            st.markdown("**Does the decoded text read like its source?** An independent reader, the base "
                        f"{views.md(evaluation.get('reader', 'all-MiniLM-L6-v2'))} sentence embedding (never fine-tuned "
                        "here, and never used to choose or train anything), embeds each document's decoded text and "
                        f"every document of the corpus, and looks for the source among all {evaluation['reader_candidates']:,}.")
            a, b, c, d = st.columns(4)
            a.metric("Source found first", f"{evaluation['reader_top1']:.0%}", help="Share of decoded texts whose "
                     "nearest document, for the independent reader, is their own source (top-1).")
            b.metric("Source in the top 10", f"{evaluation['reader_top10']:.0%}")
            c.metric("Mean cosine to source", f"{evaluation['reader_cosine']:.2f}", help="Cosine similarity of the "
                     "reader's embeddings of decoded text and source, averaged over documents.")
            d.metric("BLEU-4", f"{evaluation['bleu4']:.3f}", help="Reconstruction BLEU-4 from the posterior mean, "
                     "on the lower-case token text.")
            pairs = [ex for ex in evaluation.get("examples", []) if "reader_rank" in ex][:4]
            if pairs:
                st.caption("Source and decoded text, as measured: the reader's rank of the source (1 = found first) "
                           "and the cosine between the two.")
                for ex in pairs:
                    verdict = "found first" if ex["reader_rank"] == 0 else f"source ranked {ex['reader_rank'] + 1:,}"
                    views.quote(views.snippet(ex["text"], 300))
                    st.code(ex["reconstruction"] or "(empty)", language=None, wrap_lines=True)
                    st.caption(f"{verdict} · cosine {ex['reader_cosine']:.2f}")
        rows = figure_rows(evaluation)
        # every figure at once, no scrolling inside the table (35 px a row and the header)
        st.dataframe([{"figure": label, "value": value} for label, value in rows], hide_index=True,
                     height=35 * (len(rows) + 1) + 3)
        st.caption(f"On {where}.")

    st.subheader("Configuration and data")
    conf = cfg.to_dict()
    conf.pop("encoder_config", None)
    conf.pop("shared_with_base", None)
    with st.expander("config.json (without the encoder's own config)"):
        st.json(conf)
    for name in ("training_args.json", "data_fingerprint.json"):
        content = read_json(name)
        if content is not None:
            with st.expander(name):
                st.json(content)
    card = explorer.folder / "README.md"
    if card.is_file():
        with st.expander("Model card (README.md)"):
            st.code(card.read_text(encoding="utf-8")[:20_000], language="markdown", wrap_lines=True)
