"""Text pieces that need no Streamlit: user strings made inert in markdown (`md`), and attributions as coloured text,
for the pages and the offline report."""
from __future__ import annotations

import html
import re

from app_ui import figures

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(value) -> str:
    """A user-controlled string (class name, file or model name, document text) made inert inside
    Streamlit markdown: every markdown, HTML and LaTeX ($) character is backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


NEGATIVE = (55, 65, 81)  # hatched dark grey: evidence against the explained class (no class has it)


def _shade(score: float, alpha: float, pos: tuple[int, int, int]) -> str:
    """CSS background: the class colour for evidence for the class, grey hatching for evidence against."""
    if score >= 0:
        r, g, b = pos
        return f"background: rgba({r},{g},{b},{alpha:.2f});"
    r, g, b = NEGATIVE
    return (f"background: repeating-linear-gradient(135deg, rgba({r},{g},{b},{alpha:.2f}) 0 3px, "
            f"rgba({r},{g},{b},{alpha * 0.35:.2f}) 3px 6px);")



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
