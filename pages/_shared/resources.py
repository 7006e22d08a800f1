"""Where models live and how the app loads them (once per process, shared by all sessions)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "assets" / "models"
DEFAULT_MODEL_NAME = "ag_news_vae"


def user_models_dir() -> Path | None:
    """`streamlit run app.py -- --models-dir DIR`, or the VAE_MODELS_DIR environment variable."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--models-dir")
    args, _ = parser.parse_known_args(sys.argv[1:])
    value = args.models_dir or os.environ.get("VAE_MODELS_DIR")
    return Path(value).expanduser() if value else None


def list_models() -> dict[str, Path]:
    """Checkpoint folders (holding config.json and model.safetensors) directly under the model roots."""
    found: dict[str, Path] = {}
    roots = [("", BUNDLED)]
    user = user_models_dir()
    if user is not None:
        roots.append(("my models / ", user))
    for prefix, root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            if folder.is_dir() and (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
                found[prefix + folder.name] = folder
    return found


@st.cache_resource(show_spinner="Loading the model…")
def load_explorer(folder: str):
    from vae_core.inference import Explorer

    return Explorer.load(folder)


def current_explorer():
    """The model picked in the sidebar (the default model when a page runs on its own), or None after
    telling the user what is missing and what to do."""
    from vae_core.modeling import CheckpointError

    models = list_models()
    if not models:
        st.error(
            "No model found. The bundled default model belongs in `assets/models/ag_news_vae`; rebuild it with "
            "`python -m vae_core build-default`, or start the app with `-- --models-dir DIR` pointing at your "
            "checkpoint folders."
        )
        return None
    name = st.session_state.get("model_name")
    if name not in models:
        name = DEFAULT_MODEL_NAME if DEFAULT_MODEL_NAME in models else next(iter(models))
        st.session_state["model_name"] = name
    try:
        return load_explorer(str(models[name]))
    except (CheckpointError, ValueError, OSError) as e:
        st.error(f"The model '{name}' could not be loaded: {e}")
        return None
