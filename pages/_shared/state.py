"""Session state that outlives a page: Streamlit drops a widget's value when its page is not shown, so
the values a user typed or chose are re-asserted on every run (the documented workaround), and come
back when they return to the page."""
from __future__ import annotations

import streamlit as st

KEEP_PREFIXES = ("classify_text", "attr_target", "map_color", "map_landscape", "map_star", "map_filter_",
                 "interp_src_", "interp_text_", "interp_q_", "interp_doc_", "interp_steps", "interp_mode",
                 "map_rows_shared", "classify_dir_", "interp_dir_", "debug_true", "debug_pred", "debug_doc",
                 "debug_target", "debug_budget", "debug_confidence", "samples_", "compare_b", "compare_text",
                 "upload_text_col", "upload_label_col", "upload_projection")


# What a user typed also gets a copy of its own, taken by the widget's on_change callback (which runs before
# any script run, so even one interrupted by a page switch at once): if a page switch under load still drops
# the widget's value, it comes back from the copy.
TYPED_PREFIXES = ("classify_text", "compare_text", "interp_text_", "interp_q_", "map_filter_text")


def _copy_key(key: str) -> str:
    return f"_typed_copy_{key}"


def _remember(key: str) -> None:
    if key in st.session_state:
        st.session_state[_copy_key(key)] = st.session_state[key]


def typed(key: str) -> dict:
    """Keyword arguments for a text widget whose value must survive page switches: `st.text_area(..., **typed(k))`."""
    assert key.startswith(TYPED_PREFIXES), key
    return {"key": key, "persist_state": "session", "on_change": _remember, "args": (key,)}


def keep_widget_values() -> None:
    for key in [k for k in st.session_state.keys() if isinstance(k, str) and k.startswith("_typed_copy_")]:
        own = key.removeprefix("_typed_copy_")
        if own not in st.session_state:
            st.session_state[own] = st.session_state[key]
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(TYPED_PREFIXES):
            st.session_state[_copy_key(key)] = st.session_state[key]
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(KEEP_PREFIXES):
            try:
                st.session_state[key] = st.session_state[key]
            except Exception:  # a widget whose value cannot be set (button, chart selection)
                pass
