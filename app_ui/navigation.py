"""The app's pages and how every run reaches them through app.py.

Streamlit treats a `pages/` folder beside the main script as the old multipage layout until `st.navigation`
has been called once in the server process: the first request a fresh server gets for a deep link such as
/debug would then run pages/debug.py bare, without app.py's sidebar. A page that finds itself run that way
(`routed()` is false) calls `st.navigation` with the app's pages, which switches the process to them for
good, and reruns: st.Page's URL paths are the file names, so the rerun lands on the same page with the same
query string, now through app.py. That is tried once per session: a page that is itself the main script
(AppTest on one page) then simply runs on its own."""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

# (script, title, icon); the first page is the default one
PAGES = (
    ("pages/classify.py", "Classify", ":material/label:"),
    ("pages/latent_map.py", "Latent map", ":material/scatter_plot:"),
    ("pages/interpolate.py", "Interpolate", ":material/timeline:"),
    ("pages/debug.py", "Debug", ":material/bug_report:"),
    ("pages/samples.py", "Samples", ":material/casino:"),
    ("pages/model.py", "Model", ":material/monitor_heart:"),
    ("pages/compare.py", "Compare models", ":material/compare:"),
    ("pages/upload.py", "Your corpus", ":material/upload_file:"),
)

_ROUTED = contextvars.ContextVar("vae_explorer_routed", default=False)
_TRIED = "_routing_tried"
ROOT = Path(__file__).resolve().parent.parent


def app_pages() -> list:
    """The pages as st.navigation takes them (absolute paths: the same from app.py and from a page)."""
    return [st.Page(ROOT / path, title=title, icon=icon, default=i == 0) for i, (path, title, icon) in enumerate(PAGES)]


@contextmanager
def running_through_app():
    """app.py runs the chosen page inside this block."""
    token = _ROUTED.set(True)
    try:
        yield
    finally:
        _ROUTED.reset(token)


def routed() -> bool:
    return _ROUTED.get()


def route_through_app() -> None:
    """Called first by every page: a page run bare (see the module's docstring) hands over to app.py."""
    if not routed() and not st.session_state.get(_TRIED):
        st.session_state[_TRIED] = True
        st.navigation(app_pages(), position="hidden")
        st.rerun()
