"""Page state in the URL's query string, so that a copied link opens the same view of the same model and
corpus: each page publishes its state (with the model and corpus) at the end of a run, and a new session
restores it once, before its widgets exist. What a link names and this server lacks is left out with a note."""
from __future__ import annotations

import streamlit as st

from app_ui.state import LABEL, LABELS, PAGE_STATE

# Every page's link names the model and the corpus it shows (session-state key -> query parameter).
SOURCE = {"model_name": "model", "corpus_name": "corpus"}
# page -> the keys of its declared state that its link carries
FIELDS = {page: [k for k in keys if k.param] for page, keys in PAGE_STATE.items()}
FIELDS = {page: keys for page, keys in FIELDS.items() if keys}
NOTES_KEY = "_link_notes"


def note(message: str) -> None:
    """A note about the link this session was opened with, shown once at the top of the page."""
    st.session_state.setdefault(NOTES_KEY, []).append(message)


def pop_notes() -> list[str]:
    return st.session_state.pop(NOTES_KEY, [])


def _once(flag: str) -> bool:
    """True the first time in a session."""
    if st.session_state.get(flag):
        return False
    st.session_state[flag] = True
    return True


def restore_model(models, default: str) -> None:
    """Once per session, before the model picker exists: the model a link names, or a note that this
    server does not have it (the session then shows `default`)."""
    if not _once("_restored_model") or "model" not in st.query_params:
        return
    name = st.query_params.get("model", "")
    if name in models:
        st.session_state["model_name"] = name
        return
    note(f"The link names the model “{name}”, which this app does not have; it shows “{default}” instead. "
         "Start the app with `-- --models-dir FOLDER` pointing at that model's folder to open the link as it was.")
    st.session_state["_link_model_missing"] = True


def restore_corpus(corpora, model_name: str) -> None:
    """Once per session, before the corpus picker exists: the corpus a link names, or a note."""
    if not _once("_restored_corpus") or "corpus" not in st.query_params:
        return
    name = st.query_params.get("corpus", "")
    if name in corpora and not st.session_state.get("_link_model_missing"):
        st.session_state["corpus_name"] = name
        return
    if not st.session_state.get("_link_model_missing"):
        note(f"The link names the corpus “{name}”, which the model “{model_name}” does not have here (a corpus "
             "uploaded in another session is not shared); the first corpus of the model is shown instead.")


def restore(page: str, labels: list[str] | None = None) -> None:
    """Once per session: copy this page's parameters from the URL into session state. Class names that
    `labels` (the model's classes) lacks are left out, with a note."""
    if not _once(f"_restored_{page}"):
        return
    for key in FIELDS[page]:
        param, kind = key.param, key.kind
        if param not in st.query_params:
            continue
        try:
            value = key.decode(st.query_params.get_all(param))
        except ValueError:
            continue  # a hand-edited link with a bad value: keep the default
        if labels is not None and kind in (LABEL, LABELS):
            given = value if kind is LABELS else [value]
            unknown = [v for v in given if v not in labels]
            if unknown:
                note(f"The link's class {', '.join(f'“{v}”' for v in unknown)} ({param}=) is not a class of this "
                     f"model ({', '.join(labels)}), so it was left out.")
                if kind is LABEL:
                    continue
                value = [v for v in given if v in labels]
        st.session_state[key.name] = value


def publish(page: str | None, **computed) -> None:
    """Replace the query string with the model, corpus and this page's current state: each key its page declares
    for the link (state.PAGE_STATE), read from session state, or from `computed` where the page works its value
    out (a value None there is left out of the link); empty values are left out. `page` None: only the model and
    corpus."""
    params = {}
    for key, param in SOURCE.items():
        if st.session_state.get(key):
            params[param] = str(st.session_state[key])
    declared = FIELDS.get(page, []) if page else []
    assert set(computed) <= {k.name for k in declared}, f"{page} declares no link key {set(computed)}"
    for key in declared:
        value = key.encode(computed[key.name] if key.name in computed else st.session_state.get(key.name))
        if value is not None:
            params[key.param] = value
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
