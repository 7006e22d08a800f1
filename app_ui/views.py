"""Streamlit pieces shared by the pages: coloured attributions, document cards, links between pages,
and cached model calls (keyed by model and input, so that reruns and other sessions reuse them)."""
from __future__ import annotations

import html
import re
from contextlib import contextmanager

import numpy as np
import streamlit as st

from app_ui import figures

NEGATIVE = (55, 65, 81)  # hatched dark grey: evidence against the explained class (no class has it)


def _shade(score: float, alpha: float, pos: tuple[int, int, int]) -> str:
    """CSS background: the class colour for evidence for the class, grey hatching for evidence against."""
    if score >= 0:
        r, g, b = pos
        return f"background: rgba({r},{g},{b},{alpha:.2f});"
    r, g, b = NEGATIVE
    return (f"background: repeating-linear-gradient(135deg, rgba({r},{g},{b},{alpha:.2f}) 0 3px, "
            f"rgba({r},{g},{b},{alpha * 0.35:.2f}) 3px 6px);")


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(value) -> str:
    """A user-controlled string (class name, file or model name, document text) made inert inside
    Streamlit markdown: every markdown, HTML and LaTeX ($) character is backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


def attribution_html(text: str, attr, color: str, scale: float | None = None) -> str:
    """The text with every word the model read coloured by its score: the class colour for evidence
    for the class, slate for evidence against, stronger for larger scores. All text is escaped."""
    scale = scale or max((abs(s) for s in attr.scores), default=0.0) or 1.0
    pos = figures.hex_to_rgb(color)
    parts, cursor = [], 0
    for (s, e), score in zip(attr.spans, attr.scores):
        if s < cursor:
            continue
        parts.append(html.escape(text[cursor:s]))
        alpha = min(1.0, abs(score) / scale) * 0.85
        title = html.escape(f"{score:+.3f}", quote=True)
        parts.append(f'<span title="{title}" style="{_shade(score, alpha, pos)} border-radius: 3px; padding: 1px 2px;">'
                     f'{html.escape(text[s:e])}</span>')
        cursor = e
    tail = text[cursor:]
    if attr.truncated and tail:
        parts.append(f'<span style="color:#9CA3AF">{html.escape(tail[:400])}{"…" if len(tail) > 400 else ""}</span>')
    else:
        parts.append(html.escape(tail))
    body = "".join(parts).replace("\n", "<br>")
    return f'<div style="line-height: 1.9; font-size: 0.98rem;">{body}</div>'


def attribution_legend(label: str, color: str) -> str:
    pos = figures.hex_to_rgb(color)
    return (f'<span style="{_shade(1.0, 0.7, pos)} padding: 1px 6px; border-radius: 3px;">for '
            f'{html.escape(label)}</span> &nbsp; <span style="{_shade(-1.0, 0.45, pos)} padding: 1px 6px; '
            f'border-radius: 3px;">against</span>')


def show_attribution(text: str, attr, labels: list[str], title: str, scale: float | None = None) -> None:
    colors = figures.class_colors(labels)
    label = labels[attr.target]
    st.markdown(f"**{md(title)}**")
    st.markdown(attribution_legend(label, colors[label]), unsafe_allow_html=True)
    st.markdown(attribution_html(text, attr, colors[label], scale), unsafe_allow_html=True)
    facts = [f"p({md(label)}) = {attr.target_prob:.1%}, with every word removed {attr.baseline_prob:.1%}"]
    if attr.delta is not None:
        total = sum(attr.scores)
        facts.append(f"scores sum to {total:+.3f}; convergence delta {attr.delta:+.1e}"
                     + (" (good)" if abs(attr.delta) < 0.01 else " (large: the path integral is not converged)"))
    if attr.truncated:
        facts.append("grey text lies past what the model reads")
    st.caption(" · ".join(facts))


def page_link(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page; nothing when the page runs on its own (no navigation to link into)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except Exception:  # StreamlitAPIException / KeyError when the page is not registered
        pass


@contextmanager
def user_error():
    """Show a ValueError (a bad input) as a message instead of a traceback; the page keeps running."""
    try:
        yield
    except ValueError as e:
        st.warning(str(e))


def class_badge(label: str, labels: list[str], suffix: str = "") -> str:
    color = figures.class_colors(labels).get(label, "#6B7280")
    return (f'<span style="background:{color}; color:white; padding:1px 8px; border-radius:10px; '
            f'font-size:0.85rem; font-weight:600;">{html.escape(label)}</span>{html.escape(suffix)}')


# ---- cached model calls: `_explorer` is not hashed; its cache_key (folder and weights' mtime) stands for it ----
@st.cache_data(max_entries=256, show_spinner=False)
def cached_classify(_explorer, model: str, text: str):
    """Probabilities and posterior only: pages decode (cached_decode) after drawing the probabilities."""
    return _explorer.classify(text, reconstruct=False)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_attribution(_explorer, model: str, text: str, target: int, method: str):
    return _explorer.attribute(text, target, method)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_decode(_explorer, model: str, z: tuple[tuple[float, ...], ...]) -> list[str]:
    return _explorer.decode(np.asarray(z, dtype=np.float32))


def as_key(z) -> tuple[tuple[float, ...], ...]:
    """A hashable, exact copy of latents for cache keys."""
    return tuple(tuple(float(v) for v in row) for row in np.atleast_2d(np.asarray(z, dtype=np.float32)))


def quote(text: str) -> None:
    """A document's text in a light box, escaped."""
    st.markdown(f'<div style="padding:0.6rem 0.8rem; background:#F9FAFB; border-radius:6px; margin:0.4rem 0;">'
                f'{html.escape(text)}</div>', unsafe_allow_html=True)


def snippet(text: str, limit: int = 90) -> str:
    """Plain text cut to `limit` characters on one line (for widget labels, which are never HTML)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def table_of(corpus, rows, labels: list[str] | None = None):
    """The documents of corpus rows as a table: row, text, label, prediction, confidence, spread, and with
    `labels` each class's probability."""
    rows = np.asarray(rows, dtype=np.int64)
    table = corpus.df.iloc[rows][["text", "label", "pred", "confidence", "prob_std"]].copy()
    table.insert(0, "row", rows)
    table["confidence"] = table["confidence"].round(3)
    table["prob_std"] = table["prob_std"].round(3)
    if labels:
        probs = corpus.probs[rows]
        for j, lab in enumerate(labels):
            table[f"p({lab})"] = probs[:, j].round(3)
    return table


def document_table(corpus, rows, labels: list[str] | None = None, max_height: int = 320,
                   limit: int | None = None) -> None:
    """The documents of corpus rows as a table (`table_of`), the first `limit` of them drawn."""
    shown = table_of(corpus, rows[:limit] if limit else rows, labels)
    st.dataframe(shown, hide_index=True, width="stretch", height=min(38 + 35 * len(shown), max_height),
                 column_config={"text": st.column_config.TextColumn("text", width="large"),
                                "prob_std": st.column_config.NumberColumn("spread", help="std of p(pred) over z samples")})
    if limit and len(rows) > limit:
        st.caption(f"Showing the first {limit:,} of {len(rows):,}.")


def csv_download(label: str, corpus, rows, labels: list[str] | None, file_name: str, key: str) -> None:
    """A button that downloads `table_of` these rows as CSV, made when clicked (a selection of a million-row
    map can hold hundreds of thousands of documents: no rerun waits for their CSV)."""
    rows = [int(r) for r in rows]
    st.download_button(label, lambda: table_of(corpus, rows, labels).to_csv(index=False).encode("utf-8"),
                       file_name=file_name, mime="text/csv", key=key)


def path_on_map(corpus, labels: list[str], path, name: str, key: str, height: int = 460, lines: bool = True,
                highlight: list[int] | None = None) -> None:
    """A latent path drawn over the corpus' map, each step placed by its nearest documents in latent space."""
    xy = corpus.map.transform(path.z)
    fig = figures.latent_map(corpus.df, labels, "pred", height=height, dim=True, highlight=highlight,
                             path={"x": xy[:, 0], "y": xy[:, 1], "labels": path.labels, "texts": path.texts,
                                   "name": name, "lines": lines})
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False})


def path_table(path, labels: list[str], first: str = "A", last: str = "B", names: list[str] | None = None) -> None:
    """Decoded text and predicted class at every step of a latent path, as an HTML table (escaped). Rows
    are named by `names`, or numbered with the two ends marked `first` and `last`."""
    if names is None:
        names = [f"{i}" + (f" ({first})" if i == 0 else f" ({last})" if i == len(path) - 1 else "")
                 for i in range(len(path))]
    rows = []
    for name, text, lab, p in zip(names, path.texts, path.labels, path.probs):
        rows.append(f'<tr><td style="padding:4px 8px; color:#6B7280; white-space:nowrap;">{html.escape(name)}</td>'
                    f'<td style="padding:4px 8px; white-space:nowrap;">{class_badge(lab, labels, f" {p.max():.0%}")}</td>'
                    f'<td style="padding:4px 8px;">{html.escape(text) or "<i>(empty)</i>"}</td></tr>')
    st.markdown('<table style="width:100%; border-collapse:collapse;">' + "".join(rows) + "</table>",
                unsafe_allow_html=True)


def document_panel(explorer, corpus, row: int, key: str, attributions_open: bool = False) -> None:
    """One corpus document: its text, classes, probabilities, reconstruction, nearest neighbours in
    latent space, and attributions on demand."""
    df, labels = corpus.df, explorer.labels
    doc = df.iloc[row]
    mu = corpus.mu[row]
    st.markdown(f"#### Document #{row}")
    badges = "predicted " + class_badge(doc["pred"], labels, f"  {doc['confidence']:.0%}")
    if doc["label"] is not None and doc["label"] == doc["label"]:
        mark = "✓" if doc["label"] == doc["pred"] else "✗ misclassified"
        badges += " &nbsp; true " + class_badge(doc["label"], labels, f"  {mark}")
    st.markdown(badges, unsafe_allow_html=True)
    quote(str(doc["text"]))
    a, b = st.columns([2, 3], gap="large")
    with a:
        st.plotly_chart(figures.probability_bars(labels, list(corpus.probs[row])), width="stretch",
                        config={"displayModeBar": False}, key=f"{key}_doc_probs")
        st.caption(f"KL {doc['kl']:.1f} nats · spread of p(pred) over z samples ±{doc['prob_std']:.1%} · "
                   f"{doc['flip_rate']:.0%} of samples predict another class")
    with b:
        st.markdown("**Decoded from its latent**")
        st.code(cached_decode(explorer, explorer.cache_key, as_key(mu))[0] or "(empty)", language=None, wrap_lines=True)
        idx, dist = corpus.neighbours(mu, k=6, exclude=row)
        st.markdown("**Nearest neighbours in latent space**")
        nb = df.iloc[idx][["text", "label", "pred"]].copy()
        nb.insert(0, "distance", np.round(dist, 2))
        nb.insert(0, "row", idx)
        nb["text"] = [snippet(t, 120) for t in nb["text"]]
        st.dataframe(nb, hide_index=True, width="stretch")
    if st.toggle("Show word attributions", key=f"{key}_attr_{row}", value=attributions_open,
                 help="Integrated Gradients for the predicted class, and for the true class when they differ."):
        targets = [doc["pred"]]
        if doc["label"] in labels and doc["label"] != doc["pred"]:
            targets.append(doc["label"])
        cols = st.columns(len(targets), gap="large")
        for col, lab in zip(cols, targets):
            with col:
                attr = cached_attribution(explorer, explorer.cache_key, str(doc["text"]), labels.index(lab),
                                          "integrated_gradients")
                show_attribution(str(doc["text"]), attr, labels, f"Why {lab}?")


@st.cache_data(max_entries=64, show_spinner=False)
def cached_walk(_explorer, model: str, z0: tuple, direction: tuple, distances: tuple):
    return _explorer.walk(np.asarray(z0, dtype=np.float32), np.asarray(direction, dtype=np.float32), distances)


def class_direction_panel(explorer, corpus, mu, current: str, key: str) -> None:
    """Move a latent along a class direction; decode and classify at every step."""
    labels = explorer.labels
    c1, c2, c3 = st.columns([1.3, 1.6, 2])
    default = next((lab for lab in labels if lab != current), labels[0])
    if st.session_state.get(f"{key}_dir_target") not in labels:
        st.session_state[f"{key}_dir_target"] = default
    target = c1.selectbox("Towards", labels, key=f"{key}_dir_target")
    kinds = ["classifier gradient"] + (["class centroids"] if corpus is not None else [])
    kind = c2.radio("Direction", kinds, key=f"{key}_dir_kind", horizontal=True,
                    help="Classifier gradient: w_target − w_current, the fastest way to raise the target's logit. "
                         "Class centroids: from the current class's mean latent to the target's (needs a corpus).")
    st.session_state.setdefault(f"{key}_dir_reach", 6.0)
    reach = c3.slider("Distance (latent units)", 0.5, 12.0, step=0.5, key=f"{key}_dir_reach",
                      help="How far to walk; 9 steps from −1/4 of it (away from the target) to all of it.")
    if target == current:
        st.info(f"The text is already {md(current)}: pick another class to walk towards.")
        return
    src, tgt = labels.index(current), labels.index(target)
    cents = corpus.centroids("pred") if kind == "class centroids" else None
    if cents is not None and (current not in cents or target not in cents):
        st.info("This corpus has no documents predicted as one of these classes; use the classifier gradient.")
        return
    direction = explorer.class_direction(src, tgt, cents)
    distances = tuple(float(d) for d in np.round(np.linspace(-reach / 4, reach, 9), 3))
    path = cached_walk(explorer, explorer.cache_key, as_key(mu)[0], as_key(direction)[0], distances)
    flip = next((i for i, lab in enumerate(path.labels) if lab == target), None)
    st.plotly_chart(figures.path_probabilities(labels, path.probs, "distance along the direction"), width="stretch",
                    key=f"{key}_dir_chart", config={"displayModeBar": False})
    if flip is not None:
        st.caption(f"The prediction becomes {md(target)} at distance {distances[flip]:.2f}.")
    else:
        st.caption(f"Within {reach:.1f} the prediction never becomes {md(target)}: walk further.")
    path_table(path, labels, names=[f"{d:+.2f}" for d in distances])
