"""Session state that outlives a page: Streamlit drops a widget's value when its page is not shown, so
the values a user typed or chose are re-asserted on every run (the documented workaround), and come
back when they return to the page."""
from __future__ import annotations

import streamlit as st

KEEP_PREFIXES = ("classify_text", "attr_target", "map_color", "map_landscape", "map_star", "map_filter_",
                 "interp_src_", "interp_text_", "interp_q_", "interp_doc_", "interp_steps", "interp_mode",
                 "map_rows_shared", "classify_dir_", "interp_dir_", "debug_true", "debug_pred", "debug_doc",
                 "debug_target", "debug_budget", "samples_", "compare_b", "compare_text", "upload_text_col",
                 "upload_label_col", "upload_projection")


def keep_widget_values() -> None:
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(KEEP_PREFIXES):
            try:
                st.session_state[key] = st.session_state[key]
            except Exception:  # a widget whose value cannot be set (button, chart selection)
                pass
