"""Classify: type a text; class probabilities, how sure the model is, which words drove it, and the text
decoded back from its latent."""

import streamlit as st

from app_ui import classes, figures, share, views
from app_ui.resources import start_page
from app_ui.state import typed
from app_ui.views import md
from vae_core.inference import IG_STEPS, MAX_CHARS

TEXT_KEY = "classify_text"
SHOWN = {"integrated_gradients": "Integrated Gradients", "occlusion": "Occlusion"}  # methods, as the page names them
CHART = {"displayModeBar": False}

EXAMPLE_BUTTONS_MAX = 8  # up to this many classes, a button each; more: a searchable picker


def use_example(label: str) -> None:
    """Put the next training example of `label` in the text box (a click again gives another)."""
    texts = explorer.examples[label]
    turn = st.session_state.get(f"_example_turn_{label}", 0)
    st.session_state[TEXT_KEY] = texts[turn % len(texts)]
    st.session_state[f"_example_turn_{label}"] = turn + 1


def examples_picker(examples: dict) -> None:
    """A button for each class's examples, or past EXAMPLE_BUTTONS_MAX classes a class picker (type to search)
    and one button."""
    names = list(examples)
    if len(names) <= EXAMPLE_BUTTONS_MAX:
        st.markdown("**Try an example** from the model's training data:")
        for col, label in zip(st.columns(6), names):
            if col.button(label, key=f"example_{label}", width="stretch",
                          help=f"A {label} text from the training data (click again for another)"):
                use_example(label)
        return
    pick, go, _ = st.columns([2.2, 1, 2.8], vertical_alignment="bottom")
    label = pick.selectbox(f"Try an example of one of the {len(names)} classes", names, key="example_class",
                           help="Type to search the classes; the example comes from the model's training data.")
    if go.button("Use an example", key="example_use", width="stretch", icon=":material/edit_note:",
                 help="A text of this class from the training data (click again for another)."):
        use_example(label)


explorer, corpus = start_page(
    "Classify",
    "Type or paste a document: the model encodes it to a posterior over latent space, classifies its mean, "
    "shows which words drove the decision, and decodes the latent back into text.",
    corpus="optional", share_as="classify",
)
if explorer is not None:
    labels = explorer.labels
    examples = explorer.examples  # texts of each class from the model's own training data
    if TEXT_KEY not in st.session_state:
        st.session_state[TEXT_KEY] = next(iter(examples.values()), [""])[0]
    if examples:
        examples_picker(examples)
    text = st.text_area("Text", **typed(TEXT_KEY), height=130, max_chars=MAX_CHARS,
                        placeholder="Paste a document here, then press Ctrl+Enter…",
                        help="Up to 20,000 characters; the model reads the first "
                             f"{explorer.model.config.max_length} tokens.")
    if not text.strip():
        st.info("Type a text above to see its class probabilities.")
    else:
        with views.user_error():
            pred = views.cached_classify(explorer, explorer.cache_key, text)
            unc = explorer.uncertainty(pred.mu, pred.logvar)
            k = labels.index(pred.label)
            top = classes.top_classes(pred.probs) if len(labels) > classes.FEW else None  # the classes both charts name
            left, right = st.columns([3, 2], gap="large")
            with left:
                st.plotly_chart(figures.probability_bars(labels, pred.probs, shown=top), width="stretch", config=CHART,
                                key="probs_chart")
                if top is not None:
                    st.caption(f"The {len(top)} most probable of {len(labels)} classes; the others together in grey. "
                               "Explain any class below.")
            with right:
                st.metric("Predicted class", pred.label, f"{pred.confidence:.1%} sure", delta_color="off",
                          delta_arrow="off")
                if pred.truncated:
                    st.warning(f"The text is {pred.tokens_total:,} tokens long; the model reads only the first "
                               f"{pred.tokens_read}. The rest is not used.")
                views.page_link("pages/latent_map.py", "Show this text on the map", icon=":material/scatter_plot:")

            st.subheader("How sure is the model?")
            st.caption(f"{unc.samples} samples of z from the text's posterior q(z|x): mean and spread of each class "
                       "probability, and how often a sample lands in another class.")
            a, b = st.columns([3, 2], gap="large")
            with a:
                st.plotly_chart(figures.probability_bars(labels, unc.mean, unc.std, shown=top), width="stretch",
                                config=CHART, key="uncertainty_chart")
            with b:
                st.metric("Samples predicting another class", f"{unc.flip_share:.0%}")
                st.caption(f"Spread of p({md(pred.label)}): ±{unc.std[k]:.1%} — {unc.verdict(k)}.")

            st.subheader("Which words drove it?")
            c1, c2 = st.columns([2, 3])
            # a new text is explained for its own predicted class; the user's choice holds while the text does
            if st.session_state.get("attr_target") not in labels or st.session_state.get("attr_target_for") != text:
                st.session_state["attr_target"] = labels[k]
                st.session_state["attr_target_for"] = text
            by_prob = [labels[i] for i in classes.top_classes(pred.probs, len(labels))]
            target_label = c1.selectbox("Explain the class", by_prob, key="attr_target",
                                        format_func=lambda lab: f"{lab} ({pred.probs[labels.index(lab)]:.1%})",
                                        help="Attributions explain this class's probability. The classes are listed "
                                             "most probable first; type to search them.")
            c2.caption(f"Integrated Gradients (captum, on the embedding layer, PAD baseline, from {IG_STEPS} steps "
                       "up until the path integral converges) next to occlusion (each word replaced by PAD, the drop "
                       "in probability). Hover a word for its score.")
            target = labels.index(target_label)
            # the explained class in the colour the charts above give it
            color = classes.style(labels).view([labels[i] for i in (top or [])] + [target_label])[target_label]
            attrs = {m: views.cached_attribution(explorer, explorer.cache_key, text, target, m) for m in SHOWN}
            for col, (m, attr) in zip(st.columns(len(SHOWN), gap="large"), attrs.items()):
                with col:
                    views.show_attribution(text, attr, labels, SHOWN[m], color=color)
            st.markdown("**Can these explanations be trusted?** Each method's most important words are removed "
                        "(and, for sufficiency, kept alone) and the text is classified again, beside as many random words.")
            views.faithfulness_panel(explorer, text, target, SHOWN, "classify")

            st.subheader("Decoded from the latent")
            st.caption("The decoder's reading of the posterior mean. If it keeps the topic, the latent kept it too; "
                       "if it drifts, the latent lost what the text was about.")
            rec = views.cached_decode(explorer, explorer.cache_key, views.as_key(pred.mu))[0]
            st.code(rec or "(empty)", language=None, wrap_lines=True)
            if rec.strip():
                rec_pred = explorer.classify(rec, reconstruct=False)
                if rec_pred.label == pred.label:
                    st.success(f"The decoded text is classified as {md(pred.label)} too ({rec_pred.confidence:.0%}): "
                               "the latent kept the class.")
                else:
                    st.warning(f"The decoded text is classified as {md(rec_pred.label)}, not {md(pred.label)}: the latent "
                               "sits where the decoder writes about something else. Treat this prediction with care.")

            st.subheader("Move it along a class direction")
            st.caption("Walk the text's latent towards another class, decoding and classifying at every step: where "
                       "does the prediction flip, and what does the text turn into on the way?")
            views.class_direction_panel(explorer, corpus, pred.mu, pred.label, "classify")
    share.publish("classify", classify_text=text)
