"""Transformer VAE explorer: `streamlit run app.py [-- --models-dir DIR]`."""
import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages._shared.resources import list_models  # noqa: E402

st.set_page_config(page_title="Transformer VAE explorer", page_icon="🧭", layout="wide")

models = list_models()
with st.sidebar:
    st.markdown("### Model")
    if models:
        names = list(models)
        current = st.session_state.get("model_name")
        st.selectbox("Checkpoint", names, index=names.index(current) if current in names else 0, key="model_name",
                     help="Bundled models from assets/models, and yours from --models-dir or VAE_MODELS_DIR.")

page = st.navigation([st.Page("pages/classify.py", title="Classify", icon="🏷️", default=True)])
page.run()
