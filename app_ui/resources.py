"""Where models and corpora live and how the app loads them: once per process with st.cache_resource,
shared by every session (the Explorer serialises model access with a lock)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import streamlit as st

from app_ui.views import md

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "assets" / "models"
DEFAULT_MODEL_NAME = "ag_news_vae"
USER_PREFIX = "my models / "


def user_models_dir() -> Path | None:
    """`streamlit run app.py -- --models-dir DIR`, or the VAE_MODELS_DIR environment variable."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--models-dir")
    args, _ = parser.parse_known_args(sys.argv[1:])
    value = args.models_dir or os.environ.get("VAE_MODELS_DIR")
    return Path(value).expanduser() if value else None


def model_entries() -> dict:
    """Display name -> `catalog.ModelEntry`: the bundled models, then the user's (newest first). A user
    folder may be one model, one training run (what `train` prints) or a folder of runs; only finished models
    are listed, by their run's name."""
    from vae_core.catalog import find_models

    found = {}
    roots = [("", BUNDLED)]
    user = user_models_dir()
    if user is not None:
        roots.append((USER_PREFIX, user))
    for prefix, root in roots:
        try:
            for entry in find_models(root):
                found.setdefault(prefix + entry.name, entry)
        except OSError:
            continue
    return found


def list_models() -> dict[str, Path]:
    """Display name -> checkpoint folder (`model_entries`)."""
    return {name: entry.folder for name, entry in model_entries().items()}


def list_corpora(model_folder: Path) -> dict[str, Path]:
    """Index tables of a model (MODEL/index/*.parquet), by display name (`vae_core.catalog.list_corpora`)."""
    from vae_core.catalog import list_corpora as of_model

    return of_model(model_folder)


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_explorer(folder: str):
    """The model of `folder`, its classes' colours and order made from its classifier (app_ui/classes.py)."""
    from app_ui import classes
    from vae_core.inference import Explorer

    explorer = Explorer.load(folder)
    classes.register_model(explorer)
    return explorer


@st.cache_resource(show_spinner="Loading the corpus…", max_entries=8)
def load_corpus(path: str, mtime: float):
    from vae_core.corpus_index import CorpusIndex

    return CorpusIndex.load(path)


def current_model_name() -> str | None:
    models = list_models()
    if not models:
        return None
    name = st.session_state.get("model_name")
    if name not in models:
        name = default_model_name(models)
        st.session_state["model_name"] = name
    return name


def default_model_name(models: dict) -> str:
    """What a new session shows: the newest of the user's own models when the app was started with
    --models-dir (that is why it was), else the bundled default model."""
    mine = [n for n in models if n.startswith(USER_PREFIX)]
    if mine:
        return mine[0]
    return DEFAULT_MODEL_NAME if DEFAULT_MODEL_NAME in models else next(iter(models))


def current_explorer():
    """The model picked in the sidebar (the default model when a page runs on its own), or None after
    telling the user what is missing and what to do."""
    from vae_core.encoders import CheckpointError

    name = current_model_name()
    if name is None:
        st.error(
            "No model found. The bundled default model belongs in `assets/models/ag_news_vae`; rebuild it with "
            "`python -m vae_core build-default`, or start the app with `-- --models-dir DIR` pointing at your "
            "checkpoint folders."
        )
        return None
    try:
        return load_explorer(str(list_models()[name]))
    except (CheckpointError, ValueError, OSError) as e:
        st.error(f"The model '{md(name)}' could not be loaded: {md(e)} Pick another model in the sidebar.")
        return None


def corpora_of(explorer) -> dict:
    """Display name -> index path (the model's own) or CorpusIndex (this session's uploads), for the current model."""
    from app_ui import uploads

    if explorer is None or explorer.folder is None:
        return {}
    return {**list_corpora(explorer.folder), **uploads.for_model(uploads.model_id(explorer.folder))}


def open_corpus(explorer, name: str, path):
    """The corpus `name` of `corpora_of` loaded (an upload as it is), or None after saying why it cannot be."""
    if not isinstance(path, Path):
        return path  # an upload of this session, already loaded
    try:
        corpus = load_corpus(str(path), path.stat().st_mtime)
    except (ValueError, OSError, KeyError) as e:
        st.error(f"The corpus '{md(name)}' could not be read: {md(e)} Rebuild it with `python -m vae_core index`.")
        return None
    if corpus.labels and corpus.labels != explorer.labels:
        st.error(f"The corpus '{md(name)}' was indexed with other classes ({md(', '.join(corpus.labels))}) than the model "
                 f"'{md(explorer.name)}' has ({md(', '.join(explorer.labels))}). Re-index it with this model.")
        return None
    return corpus


def current_corpus(explorer, required: bool = True):
    """The corpus (index table) picked in the sidebar for the current model, or None after saying why."""
    if explorer is None or explorer.folder is None:
        return None
    corpora = corpora_of(explorer)
    if not corpora:
        if required:
            st.info(f"The model '{md(explorer.name)}' has no indexed corpus yet. Build one with "
                    f"`python -m vae_core index MODEL_FOLDER --data FILE`, or upload one on the page Your corpus.")
        return None
    name = st.session_state.get("corpus_name")
    if name not in corpora:
        name = next(iter(corpora))
        st.session_state["corpus_name"] = name
    corpus = open_corpus(explorer, name, corpora[name])
    if corpus is not None and st.session_state.get("labels_corrected"):
        from app_ui import review

        corpus = review.corrected_view(explorer, corpus)
    return corpus


def start_page(title: str, caption: str, corpus: str = "optional", share_as: str | None = None):
    """The opening every page shares: routing, title and one-line help, the current model and corpus
    (`corpus`: "required" says what is missing, "optional" stays quiet, "none" loads none), and the page
    state from a shared link. Returns (explorer, corpus); either may be None."""
    from app_ui import share
    from app_ui.navigation import route_through_app

    route_through_app()
    st.title(title)
    st.caption(caption)
    explorer = current_explorer()
    loaded = None if corpus == "none" else current_corpus(explorer, required=corpus == "required")
    if share_as:
        share.restore(share_as, explorer.labels if explorer is not None else None)
    else:
        share.publish(None)  # the link of a page without state of its own names the model and corpus
    for message in share.pop_notes():  # what a shared link named and this app lacks
        st.warning(message, icon=":material/link_off:")
    return explorer, loaded
