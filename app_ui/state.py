"""Session state that outlives a page: Streamlit drops a widget's value when its page is not shown, so
the values a user typed or chose are re-asserted on every run (the documented workaround), and come
back when they return to the page."""
from __future__ import annotations

import math
from dataclasses import dataclass

import streamlit as st

LABEL, LABELS = "label", "labels"  # a class name of the model / a list of them: checked against its classes
VIEW = "view"  # a map view (x0, x1, y0, y1): four finite numbers, each pair increasing
MAX_TEXT = 2000  # characters of a typed text carried in a link
MAX_ROWS = 300  # rows of a selection carried in a link


@dataclass(frozen=True)
class Key:
    """One piece of a page's state: a session-state key (a prefix when it ends with "_"), kept across page
    switches; with `param`, also carried in the page's shared link as that query parameter, of `kind`
    (str, int, bool, list, LABEL, LABELS or VIEW), which `encode` and `decode` write and read; `typed`: text a
    user types, also copied on every change."""

    name: str
    param: str | None = None
    kind: object = str
    typed: bool = False

    def encode(self, value) -> str | None:
        """The value as the link carries it; None for an empty value (left out of the link)."""
        if value is None or (isinstance(value, (str, list, tuple)) and not len(value)) or value is False:
            return None
        if self.kind in (list, LABELS):
            return ",".join(str(v) for v in list(value)[:MAX_ROWS])
        if self.kind is VIEW:
            return ",".join(f"{float(v):.6g}" for v in value)
        if self.kind is bool:
            return "1"
        if self.kind is int:
            try:
                return str(int(value))
            except (TypeError, ValueError):
                return None  # not a number (a widget's transient value): the link leaves it out
        return str(value)[:MAX_TEXT]

    def decode(self, raw: list[str]):
        """The session's value from the link's values of this parameter; ValueError for a malformed one."""
        if self.kind in (list, LABELS):
            return [v for item in raw for v in item.split(",") if v]
        value = raw[-1] if raw else ""
        if self.kind is int:
            return int(value)
        if self.kind is bool:
            return value.lower() in ("1", "true", "yes")
        if self.kind is VIEW:
            view = [float(v) for v in value.split(",")]
            if not (len(view) == 4 and all(math.isfinite(v) for v in view) and view[0] < view[1] and view[2] < view[3]):
                raise ValueError(f"a map view is four numbers x0 < x1, y0 < y1, not {value!r}")
            return view
        return value


# Every page's state, declared in one place: a new widget whose value should survive a page switch, or
# travel in a link, is added to its page's row here and nowhere else.
PAGE_STATE: dict[str, tuple[Key, ...]] = {
    "classify": (Key("classify_text", "text", typed=True), Key("attr_target", "explain", LABEL), Key("classify_dir_"),
                 Key("example_class")),
    "map": (Key("map_color", "color"), Key("map_landscape"), Key("map_regions"), Key("map_star"), Key("map_filter_text", "q", typed=True),
            Key("map_filter_pred", "pred", LABELS), Key("map_filter_label", "label", LABELS),
            Key("map_filter_wrong", "wrong", bool), Key("map_doc", "doc", int), Key("map_rows_shared", "rows", list),
            Key("map_zoom", "zoom", VIEW), Key("map_focus", "classes", LABELS)),
    "interpolate": (Key("interp_src_"), Key("interp_text_", typed=True), Key("interp_q_", typed=True),
                    Key("interp_doc_A", "a", int), Key("interp_doc_B", "b", int), Key("interp_steps", "steps", int),
                    Key("interp_mode", "path"), Key("interp_dir_"), Key("interp_arith_", typed=True)),
    "debug": (Key("debug_true", "true", LABEL), Key("debug_pred", "pred", LABEL), Key("debug_doc", "doc", int),
              Key("debug_target", "target", LABEL), Key("debug_budget"), Key("debug_confidence"),
              Key("debug_view", "view"), Key("debug_slice_scope"), Key("debug_slice_doc"), Key("debug_cm_all")),
    "samples": (Key("samples_"),),
    "compare": (Key("compare_b"), Key("compare_text", typed=True)),
    "upload": (Key("upload_text_col"), Key("upload_label_col"), Key("upload_projection"),
               Key("drift_reference", "ref"), Key("drift_new", "new"), Key("drift_region", "region", int)),
}
KEEP_PREFIXES = tuple(k.name for keys in PAGE_STATE.values() for k in keys)
TYPED_PREFIXES = tuple(k.name for keys in PAGE_STATE.values() for k in keys if k.typed)


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
    """Every run: what a user typed gets a copy of its own, taken by the widget's on_change callback (which runs
    before any script run, so even one interrupted by a page switch at once): if a page switch under load still
    drops the widget's value, it comes back from the copy. Every kept value is re-asserted."""
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
