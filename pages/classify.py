"""Classify: type a text, get class probabilities and the text decoded back from its latent."""
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pages._shared import figures  # noqa: E402
from pages._shared.resources import current_explorer  # noqa: E402

EXAMPLES = {
    "World": "Iran said on Monday it would resume talks with European envoys over its nuclear programme, as the UN watchdog met in Vienna.",
    "Sports": "Roger Federer beat Andy Roddick in straight sets to reach the final at Wimbledon for the second year running.",
    "Business": "Oil prices climbed to a record above $50 a barrel as traders worried about supplies from the Gulf of Mexico.",
    "Sci/Tech": "Microsoft released a security update for Windows XP that fixes a flaw in Internet Explorer exploited by a worm.",
}

st.title("Classify")
st.caption("Type or paste a document: the model encodes it to a latent posterior, classifies the mean, and decodes it back to text.")

explorer = current_explorer()
if explorer is not None:
    if "classify_text" not in st.session_state:
        st.session_state["classify_text"] = EXAMPLES.get(explorer.labels[0], "")
    cols = st.columns(len(EXAMPLES) + 1)
    cols[0].markdown("**Examples:**")
    for col, (label, text) in zip(cols[1:], EXAMPLES.items()):
        if col.button(label, key=f"example_{label}", use_container_width=True):
            st.session_state["classify_text"] = text
    text = st.text_area("Text", key="classify_text", height=140, max_chars=20_000,
                        placeholder="Paste a news snippet here…")
    if not text.strip():
        st.info("Type a text above to see its class probabilities.")
    else:
        pred = explorer.classify(text)
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(figures.probability_bars(pred.labels, pred.probs), use_container_width=True,
                            config={"displayModeBar": False})
        with right:
            st.metric("Predicted class", pred.label, f"{pred.confidence:.1%} sure", delta_color="off")
            if pred.truncated:
                st.warning(f"The text is longer than the model reads: only its first {pred.tokens_read} tokens were used.")
            st.markdown("**Decoded from the mean latent**")
            st.text(pred.reconstruction or "(empty)")
            st.caption("A reconstruction that keeps the topic means the latent kept it too.")
