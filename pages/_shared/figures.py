"""Plotly figure builders shared by the pages (one colour per class everywhere)."""
from __future__ import annotations

import plotly.graph_objects as go

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC", "#EECA3B"]


def class_colors(labels: list[str]) -> dict[str, str]:
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(labels)}


def probability_bars(labels: list[str], probs: list[float]) -> go.Figure:
    colors = class_colors(labels)
    fig = go.Figure(go.Bar(
        x=[round(p, 4) for p in probs], y=labels, orientation="h",
        marker_color=[colors[lab] for lab in labels],
        text=[f"{p:.1%}" for p in probs], textposition="auto",
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    fig.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
                      yaxis=dict(autorange="reversed"), height=60 + 45 * len(labels),
                      margin=dict(l=10, r=10, t=10, b=40))
    return fig
