"""Page state in the URL's query string, so that a copied link opens the same view: each page
publishes its state at the end of a run, and a new session restores it once, before its widgets exist."""
from __future__ import annotations

import streamlit as st

# session-state key -> (query parameter, type)
FIELDS = {
    "classify": {"classify_text": ("text", str), "attr_target": ("explain", str)},
    "map": {"map_color": ("color", str), "map_filter_text": ("q", str), "map_filter_pred": ("pred", list),
            "map_filter_label": ("label", list), "map_filter_wrong": ("wrong", bool), "map_doc": ("doc", int),
            "map_rows_shared": ("rows", list)},
    "interpolate": {"interp_doc_A": ("a", int), "interp_doc_B": ("b", int), "interp_steps": ("steps", int),
                    "interp_mode": ("path", str)},
    "debug": {"debug_true": ("true", str), "debug_pred": ("pred", str), "debug_doc": ("doc", int),
              "debug_target": ("target", str)},
}
MAX_TEXT = 2000  # characters of a typed text carried in a link
MAX_ROWS = 300


def _decode(raw: list[str], kind):
    if kind is list:
        return [v for item in raw for v in item.split(",") if v]
    value = raw[-1] if raw else ""
    if kind is int:
        return int(value)
    if kind is bool:
        return value.lower() in ("1", "true", "yes")
    return value


def restore(page: str) -> None:
    """Once per session: copy this page's parameters from the URL into session state."""
    flag = f"_restored_{page}"
    if st.session_state.get(flag):
        return
    st.session_state[flag] = True
    for key, (param, kind) in FIELDS[page].items():
        if param in st.query_params:
            try:
                st.session_state[key] = _decode(st.query_params.get_all(param), kind)
            except ValueError:
                continue  # a hand-edited link with a bad value: keep the default


def publish(page: str, values: dict) -> None:
    """Replace the query string with this page's current state (empty values left out)."""
    params = {}
    for key, value in values.items():
        param, kind = FIELDS[page][key]
        if value is None or value == "" or value == [] or value is False:
            continue
        if kind is list:
            value = ",".join(str(v) for v in list(value)[:MAX_ROWS])
        elif kind is bool:
            value = "1"
        elif kind is str:
            value = str(value)[:MAX_TEXT]
        params[param] = str(value)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)
