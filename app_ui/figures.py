"""Plotly figure builders shared by the pages and the offline report: classes drawn as app_ui/classes.py says (for 2
classes as for 150: colours that stay apart, the classes that matter in each chart, legends of at most 20 entries),
rounded numbers, and every piece of corpus or user text escaped before it reaches a hover label."""
from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from app_ui import classes, density

CORRECT, WRONG = "#B8BEC6", "#1F2937"
COLOR_MODES = {
    "label": "True label",
    "pred": "Prediction",
    "correct": "Correct / wrong",
    "confidence": "Confidence",
    "prob_std": "Uncertainty (spread over z samples)",
}
FONT = dict(family="Source Sans Pro, sans-serif", size=13)


def class_colors(labels: list[str]) -> dict[str, str]:
    """Each class's colour where a view colours every class (the map, badges): `classes.ClassStyle.colors`."""
    return classes.style(labels).colors


def safe(text: str, limit: int | None = None) -> str:
    """Corpus or user text made inert for plotly's HTML-like labels, cut to `limit` characters."""
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=True)


def _base(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, font=FONT, margin=dict(l=10, r=10, t=30, b=10), paper_bgcolor="rgba(0,0,0,0)",
                      plot_bgcolor="rgba(0,0,0,0)", hoverlabel=dict(align="left"))
    return fig


def probability_bars(labels: list[str], probs: list[float], errors: list[float] | None = None,
                     title: str | None = None, shown: list[int] | None = None) -> go.Figure:
    """A bar for each class's probability; past classes.FEW classes the `shown` ones (by default the
    classes.TOP_K most probable), largest first, and one grey bar "other (n classes)" with the rest's total."""
    if shown is None and len(labels) > classes.FEW:
        shown = classes.top_classes(probs)
    if shown is not None:
        rest = [i for i in range(len(labels)) if i not in set(shown)]
        names = [labels[i] for i in shown]
        colors = classes.style(labels).view(names)
        values = [float(probs[i]) for i in shown]
        errs = [float(errors[i]) for i in shown] if errors is not None else None
        if rest:
            names.append(classes.other_name(len(rest)))
            colors[names[-1]] = classes.OTHER
            values.append(float(np.sum([probs[i] for i in rest])))
            errs = errs + [0.0] if errs is not None else None
        labels, probs, errors = names, values, errs
    else:
        colors = class_colors(labels)
    fig = go.Figure(go.Bar(
        x=[round(float(p), 4) for p in probs], y=[safe(lab) for lab in labels], orientation="h",
        marker_color=[colors[lab] for lab in labels],
        error_x=dict(type="data", array=[round(float(e), 4) for e in errors], color="#374151", thickness=1.5)
        if errors is not None else None,
        text=[f"{p:.1%}" + (f" ± {e:.1%}" if errors is not None and not lab.startswith("other (") else "")
              for p, e, lab in zip(probs, errors or probs, labels)],
        textposition="outside" if errors is not None else "auto", insidetextanchor="end", cliponaxis=False,
        hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    fig.update_layout(xaxis=dict(range=[0, 1.02], tickformat=".0%", title=None, gridcolor="#E5E7EB"),
                      yaxis=dict(autorange="reversed"), title=dict(text=title, x=0, font=dict(size=14)) if title else None)
    _base(fig, 40 + 42 * len(labels) + (30 if title else 0))
    fig.update_layout(margin=dict(l=10, r=10, t=30 if title else 5, b=5))
    return fig


# Above this many points the map carries no per-point hover text (it would be most of the figure's bytes):
# the hover shows the row number and the trace's class from a template, and a click opens the document.
HOVER_TEXT_MAX_POINTS = 20_000


def _hover_lines(df) -> list[str]:
    """Hover labels: class, confidence, true label and a snippet, shorter for larger corpora so that the
    figure stays small enough to draw quickly."""
    out = []
    has_label = "label" in df and df["label"].notna().any()
    limit = 180 if len(df) <= 5_000 else 90
    for text, label, pred, conf in zip(df["text"], df["label"] if has_label else [None] * len(df), df["pred"],
                                       df["confidence"]):
        head = f"<b>{safe(pred)}</b> {conf:.0%}" + (f" · true: {safe(label)}" if label is not None else "")
        out.append(f"{head}<br>" + "<br>".join(_wrap(safe(text, limit), 60)))
    return out


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split(" "):
        if len(line) + len(word) + 1 > width and line:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return lines + ([line] if line else [])


def latent_map(df, labels: list[str], color_by: str = "label", height: int = 620, landscape: dict | None = None,
               star: tuple[float, float, str] | None = None, path: dict | None = None,
               highlight: list[int] | None = None, dim: bool = False, regions: list | None = None,
               view: tuple[float, float, float, float] | None = None, points_max: int | None = None,
               sample_points: int | None = None, focus: list[str] | None = None) -> go.Figure:
    """The corpus on its 2-D map, one trace per class for categorical colours so that the legend toggles
    classes; `customdata` carries each point's row number for selections. `regions`
    (`interpret.groups.Region` or `Slice`) are named over the map, their words and text on hover.

    Up to `points_max` documents (in `view`, (x0, x1, y0, y1), or on the whole map) are drawn as WebGL
    points; more are drawn as a density image of all of them (`density`) with `sample_points` of them as
    points over it for hover and clicks, and the page answers box and lasso selections from the shapes drawn
    (`density.selected`). Defaults: `density.points_max()`, `density.sample_size`.

    Classes as `classes` draws them: each its colour up to 20 classes, one legend entry a class; past 20 each family
    a legend entry (a click hides or shows its classes). `focus` lights up those classes (their own colours, or
    distinct ones past 20) and greys the rest, which share one legend entry."""
    style = classes.style(labels)
    colors = _map_colors(style, focus)
    fig = go.Figure()
    if landscape is not None:
        _add_landscape(fig, landscape, labels, colors)
    xs_all, ys_all = df["x"].to_numpy(dtype=np.float32), df["y"].to_numpy(dtype=np.float32)  # half float64's bytes
    xy = np.column_stack([xs_all, ys_all])
    if color_by == "label" and not df["label"].notna().any():
        color_by = "pred"
    visible = np.arange(len(df), dtype=np.int64) if view is None else density.in_view(xy, view)
    limit = points_max if points_max is not None else density.points_max()
    dense = len(visible) > limit
    rows = density.sample_rows(visible, sample_points or density.sample_size(limit)) if dense else visible
    # the part of the map drawn: the whole map with room for the names of regions at its edges
    shown = view or (density.extent(xy, margin=0.1) if len(xy) else None)
    if dense:
        _add_density(fig, df, xy, labels, colors, color_by, shown, view is not None, 0.45 if dim else 1.0)
    _add_points(fig, df, xy, rows, labels, colors, color_by, dense, dim, style, focus)
    if highlight is not None and len(highlight):
        _add_highlight(fig, xy, np.asarray(highlight, dtype=np.int64), shown, view)
    if path is not None:
        _add_path(fig, path, colors)
    if star is not None:
        x, y, label = star
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers+text", name="your text", text=["your text"],
                                 textposition="top center", hovertext=[safe(label)], hoverinfo="text",
                                 marker=dict(symbol="star", size=20, color="#FACC15", line=dict(width=1.5, color="#111827"))))
    if regions:
        entries = sum(1 for t in fig.data if t.showlegend is not False and t.name)
        _add_region_labels(fig, regions, shown, height - 40 - 26 * max(1, -(-entries // 6)))
    xaxis, yaxis = dict(visible=False), dict(visible=False, scaleanchor="x")
    if dense or view is not None:  # the points drawn do not span the map: its extent sets the axes
        x0, x1, y0, y1 = shown
        xaxis["range"], yaxis["range"] = [x0, x1], [y0, y1]
    entries = sum(1 for t in fig.data if t.showlegend is not False)
    fig.update_layout(xaxis=xaxis, yaxis=yaxis, dragmode="lasso",
                      legend=dict(**classes.legend(entries),
                                  # the legend cannot hide a class from the density image: no toggling there
                                  **({"itemclick": False, "itemdoubleclick": False} if dense else {})),
                      uirevision=f"map {view}")
    return _base(fig, height)


def _map_colors(style, focus: list[str] | None) -> dict[str, str]:
    """The map's class colours: each class's own, or with `focus` those classes lit (distinct colours past
    classes.SOME classes) and the rest grey."""
    if not focus:
        return dict(style.colors)
    lit = style.view(focus)
    return {lab: lit[lab] if lab in focus else classes.OTHER for lab in style.labels}


def _class_groups(sub, labels: list[str], colors: dict, color_by: str, style, focus: list[str] | None) -> list:
    """The map's class traces: (name, selected points, colour, legend group, shown in the legend), drawn in this
    order: grey classes first, lit ones over them. One legend entry a class up to classes.SOME classes (or the lit
    ones and "other"), else one a family (`_family_legend` adds them)."""
    values = sub[color_by].to_numpy()
    lit = [lab for lab in labels if lab in (focus or ())]
    rest = [lab for lab in labels if lab not in lit] if focus else []
    groups = []
    for lab in rest:
        groups.append((lab, values == lab, colors[lab], "other", False))
    if focus:
        return groups + [(lab, values == lab, colors[lab], lab, True) for lab in focus if lab in lit]
    for k, lab in enumerate(labels):
        family = f"family {style.family[k]}" if style.many else lab
        groups.append((lab, values == lab, colors[lab], family, not style.many))
    return groups


def _legend_entry(fig: go.Figure, name: str, color: str, group: str) -> None:
    """A legend entry with no points of its own, for a group of traces (a family of classes, the grey ones): a click
    hides or shows the group."""
    fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=safe(name), legendgroup=group, showlegend=True,
                               marker=dict(size=9, color=color), hoverinfo="skip"))


def _add_points(fig: go.Figure, df, xy: np.ndarray, rows: np.ndarray, labels: list[str], colors: dict, color_by: str,
                dense: bool, dim: bool, style=None, focus: list[str] | None = None) -> None:
    """The documents `rows` as WebGL points (over a density image when `dense`: smaller, to hover and click), one
    trace per class or correctness, or one coloured by a value; each point's row number in its customdata."""
    style = style or classes.style(labels)
    xs, ys, sub = xy[rows, 0], xy[rows, 1], df.iloc[rows]
    if len(rows) <= HOVER_TEXT_MAX_POINTS:
        hover = _hover_lines(sub)

        def hover_of(sel) -> dict:
            return {"hovertext": [hover[i] for i in np.flatnonzero(sel)], "hoverinfo": "text"}
    else:
        def hover_of(sel) -> dict:
            return {"hovertemplate": "#%{customdata} · %{fullData.name} · click to read<extra></extra>"}
    if dense:  # the sample: small points over the image, to hover and click
        marker = dict(size=3, opacity=0.45 if not dim else 0.2, line=dict(width=0))
    else:
        marker = dict(size=5, opacity=0.25 if dim else 0.8, line=dict(width=0))
    if color_by == "correct":
        for name, sel, color, symbol in (
                ("correct", (sub["correct"] == True).to_numpy(dtype=bool), CORRECT, "circle"),  # noqa: E712
                ("wrong", (sub["correct"] == False).to_numpy(dtype=bool), WRONG, "x")):  # noqa: E712
            if sel.any():
                fig.add_trace(go.Scattergl(x=xs[sel], y=ys[sel], mode="markers", name=safe(name),
                                           marker={**marker, "color": color, "symbol": symbol},
                                           customdata=rows[sel].astype(np.int32), **hover_of(sel)))
        return
    if color_by in ("label", "pred"):
        others = sum(1 for lab in labels if lab not in (focus or ()))
        if focus and others:  # the grey classes' one legend entry
            _legend_entry(fig, classes.other_name(others), classes.OTHER, "other")
        for name, sel, color, group, in_legend in _class_groups(sub, labels, colors, color_by, style, focus):
            if not sel.any():
                continue
            # lit classes stand out even on a dimmed map; the grey ones recede
            opacity = (min(marker["opacity"], 0.3) if group == "other" else
                       max(marker["opacity"], 0.85 if not dense else 0.6) if focus else marker["opacity"])
            fig.add_trace(go.Scattergl(
                x=xs[sel], y=ys[sel], mode="markers", name=safe(name), legendgroup=group, showlegend=in_legend,
                marker={**marker, "color": color, "opacity": opacity},
                customdata=rows[sel].astype(np.int32), **hover_of(sel),
            ))
        if style.many and not focus:
            for f, fname in enumerate(style.family_names):
                _legend_entry(fig, fname, classes.PALETTE[f], f"family {f}")
        return
    values = sub[color_by].to_numpy(dtype=np.float32)
    lo, hi = _value_range(df, color_by)
    title = {"confidence": "confidence", "prob_std": "spread"}[color_by]
    fig.add_trace(go.Scattergl(
        x=xs, y=ys, mode="markers", name=title, showlegend=False,
        marker={**marker, "color": values, "colorscale": VALUE_SCALES[color_by], "cmin": lo, "cmax": hi,
                "colorbar": dict(title=title, thickness=12, tickformat=".0%" if color_by == "confidence" else ".2f")},
        customdata=rows.astype(np.int32), **hover_of(np.ones(len(rows), dtype=bool)),
    ))


def _add_highlight(fig: go.Figure, xy: np.ndarray, h: np.ndarray, shown, view) -> None:
    """Highlighted documents: a ring around each, or, past density.RINGS_MAX of them, a dark layer of their own."""
    if len(h) <= density.RINGS_MAX:
        fig.add_trace(go.Scattergl(x=xy[h, 0], y=xy[h, 1], mode="markers", name="selected",
                                   marker=dict(size=11, color="rgba(0,0,0,0)", line=dict(width=2, color="#111827")),
                                   hoverinfo="skip", customdata=h.astype(np.int32)))
        return
    around, width = density.covering(shown) if view is not None else (shown, density.WIDTH)
    ink = density.categorical(xy[h], np.zeros(len(h), np.int64), np.array([[17, 24, 39]]), around, width)
    _add_image(fig, ink, around, "above")
    fig.add_trace(go.Scattergl(x=[None], y=[None], mode="markers", name=f"selected ({len(h):,})",
                               marker=dict(size=8, color="#111827"), hoverinfo="skip"))


VALUE_SCALES = {"confidence": "Viridis", "prob_std": "Magma_r"}


def _value_range(df, column: str) -> tuple[float, float]:
    values = df[column].to_numpy(dtype=np.float32)
    return (float(np.nanmin(values)), float(np.nanmax(values))) if len(values) else (0.0, 1.0)


def _add_density(fig: go.Figure, df, xy: np.ndarray, labels: list[str], colors: dict[str, str], color_by: str,
                 view, zoomed: bool, strength: float) -> None:
    """Every document of the map, counted into the pixels of an image of `view` (zoomed: of what the plot area
    may show around it, `density.covering`) and coloured as the points are."""
    view, width = density.covering(view) if zoomed else (view, density.WIDTH)
    if color_by in ("label", "pred", "correct"):
        if color_by == "correct":
            col = df["correct"]
            codes = np.where(col == True, 0, np.where(col == False, 1, -1))  # noqa: E712 (None: unlabelled)
            palette = [CORRECT, WRONG]
        else:
            codes = pd.Categorical(df[color_by], categories=labels).codes  # -1: not one of the classes
            palette = [colors[lab] for lab in labels]
        rgb = np.array([hex_to_rgb(c) for c in palette], dtype=np.float32)
        image = density.categorical(xy, np.asarray(codes, dtype=np.int64), rgb, view, width, strength)
    else:
        lo, hi = _value_range(df, color_by)
        image = density.continuous(xy, df[color_by].to_numpy(dtype=np.float32), density.lut_of(VALUE_SCALES[color_by]),
                                   lo, hi, view, width, strength)
    _add_image(fig, image, view, "below")


def _add_image(fig: go.Figure, rgba: np.ndarray, view, layer: str) -> None:
    x0, x1, y0, y1 = view
    fig.add_layout_image(source=density.png_uri(rgba), xref="x", yref="y", x=x0, y=y1, sizex=x1 - x0, sizey=y1 - y0,
                         sizing="stretch", layer=layer, opacity=1.0)


hex_to_rgb = classes.hex_to_rgb  # the density image's colours (one parser of "#RRGGBB")


REGION_SHIFTS = (0, 24, -24, 48, -48, 72, -72, 96, -96)  # px a region's name may move up or down to stay clear


def _add_region_labels(fig: go.Figure, regions: list, view, height: int) -> None:
    """Each region's or slice's short name over the map at its (x, y), moved up or down where it would cover a
    name already placed (the largest first; left out where no move clears it), with its distinctive words and whole decoded text on hover. `height`:
    the plot area's height in pixels (the figure's less its margins and legend rows)."""
    # pixels per map unit, as drawn: the axes share a scale (scaleanchor), so the longer extent decides
    x0, x1, y0, y1 = view  # the part of the map drawn
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    scale = min(760 / span_x, height / span_y)  # the map is drawn about 760 px wide or wider, `height` px high
    placed: list[tuple[float, float, float, float]] = []  # pixel boxes: centre x, centre y, half width, half height
    for region in sorted(regions, key=lambda r: -getattr(r, "size", 0)):
        name = safe(getattr(region, "headline", None) or f"slice {region.id}", 48)
        px, py, half_w, half_h = region.x * scale, region.y * scale, 3.6 * len(name) + 6, 11
        shift = next((s for s in REGION_SHIFTS if not any(
            abs(px - x) < half_w + w and abs(py + s - y) < half_h + h for x, y, w, h in placed)), None)
        if shift is None:  # no room near its place: left out rather than drawn over another name
            continue
        placed.append((px, py + shift, half_w, half_h))
        hover = (f"<b>{name}</b>" + (f" · {region.size:,} documents" if getattr(region, "size", None) else "")
                 + "<br>words: " + safe(", ".join(region.words) or "-") + "<br>"
                 + "<br>".join(_wrap(safe(region.description, 240), 60)))
        fig.add_annotation(x=region.x, y=region.y, yshift=shift, text=name, showarrow=False, hovertext=hover,
                           font=dict(size=12, color="#111827"), bgcolor="rgba(255,255,255,0.82)",
                           bordercolor="#9CA3AF", borderwidth=1, borderpad=3)


def _add_landscape(fig: go.Figure, land: dict, labels: list[str], colors: dict[str, str]) -> None:
    probs = land["probs"]  # (R, R, C)
    k = probs.argmax(-1).astype(float)
    k[land["empty"]] = np.nan
    n = len(labels)
    scale = []
    for i, lab in enumerate(labels):  # a discrete colour scale: class i fills [i/n, (i+1)/n]
        scale += [[i / n, colors[lab]], [(i + 1) / n, colors[lab]]]
    fig.add_trace(go.Heatmap(
        x=land["x"], y=land["y"], z=k, zmin=-0.5, zmax=n - 0.5, colorscale=scale, opacity=0.2, showscale=False,
        hoverinfo="skip", name="landscape",
    ))



def _add_path(fig: go.Figure, path: dict, colors: dict[str, str]) -> None:
    """path: x, y (N,), labels (N,), texts (N,), name."""
    if path.get("lines", True):
        fig.add_trace(go.Scatter(x=path["x"], y=path["y"], mode="lines", name=safe(path.get("name", "path")),
                                 line=dict(color="#111827", width=2, dash="dot"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=path["x"], y=path["y"], mode="markers+text", showlegend=False,
        text=[str(i) for i in range(len(path["x"]))], textposition="top center",
        marker=dict(size=11, color=[colors.get(lab, "#111827") for lab in path["labels"]],
                    line=dict(width=1.5, color="#111827")),
        hovertext=[f"step {i}: <b>{safe(lab)}</b><br>" + "<br>".join(_wrap(safe(t, 160), 60))
                   for i, (lab, t) in enumerate(zip(path["labels"], path["texts"]))], hoverinfo="text",
    ))


def path_view(labels: list[str], probs: np.ndarray) -> tuple[list[int], dict[str, str]]:
    """The classes a path's chart and table name (every class up to classes.FEW, else `classes.path_classes`) and
    the colours of that view: the chart, its table's badges and its map share them."""
    shown = list(range(len(labels))) if len(labels) <= classes.FEW else classes.path_classes(probs)
    return shown, classes.style(labels).view([labels[i] for i in shown])


def path_probabilities(labels: list[str], probs: np.ndarray, x_title: str = "step") -> go.Figure:
    """Class probabilities (N, C) along a path: a line for each class `path_view` names, and past classes.FEW
    classes one grey dashed line for the rest together."""
    shown, colors = path_view(labels, probs)
    probs = np.asarray(probs)
    steps = list(range(len(probs)))
    fig = go.Figure()
    for j in shown:
        lab = labels[j]
        fig.add_trace(go.Scatter(x=steps, y=np.round(probs[:, j], 4), mode="lines+markers", name=safe(lab),
                                 line=dict(color=colors[lab], width=2.5),
                                 hovertemplate=f"{safe(lab)}: " + "%{y:.1%}<extra>step %{x}</extra>"))
    rest = [j for j in range(len(labels)) if j not in set(shown)]
    if rest:
        name = classes.other_name(len(rest))
        fig.add_trace(go.Scatter(x=steps, y=np.round(probs[:, rest].sum(1), 4), mode="lines", name=name,
                                 line=dict(color="#9CA3AF", width=1.5, dash="dot"),
                                 hovertemplate=f"{name}: " + "%{y:.1%}<extra>step %{x}</extra>"))
    fig.update_layout(xaxis=dict(title=x_title, dtick=1, gridcolor="#E5E7EB"),
                      yaxis=dict(title="probability", range=[0, 1.02], tickformat=".0%", gridcolor="#E5E7EB"),
                      legend=classes.legend(len(fig.data)), hovermode="x unified")
    return _base(fig, 300)


CELL_TEXT_MIN = 24  # px: cells narrower than this carry no count (hover tells it)
MATRIX_WIDTH = 900  # px the matrix is drawn into at most (the page's full width at 1400 px, less the class names)


def matrix_classes(labels: list[str], cm, most: int = 60, pairs: int = 40) -> list[int]:
    """The classes the confusion matrix draws, in `classes`' order (alike classes together): every class up to
    `most`; past that, the classes of the `pairs` most-confused pairs (at most `most` of them)."""
    from vae_core.interpret.groups import ranked_confusions

    order = list(classes.style(labels).order)
    if len(labels) <= most:
        return order
    keep: set[int] = set()
    for t, p, _, _ in ranked_confusions(cm, labels, pairs):
        pair = {labels.index(t), labels.index(p)}
        if len(keep | pair) > most:
            break
        keep |= pair
    return [i for i in order if i in keep]


def confusion_matrix(labels: list[str], cm: list[list[int]], chosen: tuple[int, int] | None = None,
                     shown: list[int] | None = None) -> go.Figure:
    """Rows: true class; columns: predicted class. Counts, shaded by the share of the row. Past classes.FEW classes
    the rows and columns follow `classes`' order (alike classes together) and `shown` (`matrix_classes`) picks
    them; a cell carries its count where it is wide enough to read, and is never narrower than 8 px at the widths
    the page and the report draw it. `customdata` holds each cell's (true, predicted) class indices."""
    cm_a = np.asarray(cm, dtype=float)
    idx = shown if shown is not None else (matrix_classes(labels, cm) if len(labels) > classes.FEW
                                            else list(range(len(labels))))
    sub = cm_a[np.ix_(idx, idx)]
    share = sub / np.maximum(cm_a[idx].sum(1, keepdims=True), 1)
    names = [safe(labels[i], 28) for i in idx]
    n = len(idx)
    cell = int(min(70, max(10, MATRIX_WIDTH // max(n, 1))))
    text = cell >= CELL_TEXT_MIN
    fig = go.Figure(go.Heatmap(
        z=share, x=list(range(n)), y=list(range(n)), colorscale="Blues", zmin=0, zmax=1, showscale=False, xgap=1 if n > 30 else 0,
        ygap=1 if n > 30 else 0,
        text=[[f"{int(v)}" for v in row] for row in sub], texttemplate="%{text}" if text else None,
        textfont=dict(size=15 if n <= 6 else 11),
        customdata=[[[idx[i], idx[j], names[i], names[j]] for j in range(n)] for i in range(n)],
        hovertemplate="true %{customdata[2]}, predicted %{customdata[3]}: %{text} documents (%{z:.1%} of the row)"
                      "<extra></extra>",
    ))
    if chosen is not None and chosen[0] in idx and chosen[1] in idx:
        i, j = idx.index(chosen[0]), idx.index(chosen[1])
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5, line=dict(color="#F59E0B", width=3))
    tick = dict(tickmode="array", tickvals=list(range(n)), ticktext=names, tickfont=dict(size=min(13, max(7, cell - 3))))
    square = dict(scaleanchor="x", constrain="domain") if len(labels) > classes.FEW else {}  # few: the cells fill the width
    fig.update_layout(xaxis=dict(title="predicted", side="top", tickangle=-90 if n > 6 else 0,
                                 **({"constrain": "domain"} if square else {}), **tick),
                      yaxis=dict(title="true", autorange="reversed", **square, **tick))
    label_room = 0 if n <= 6 else int(min(190, 6.5 * max(len(lab) for lab in names)))
    fig = _base(fig, 90 + label_room + cell * n)
    fig.update_layout(margin=dict(l=10, r=10, t=30 + label_room if n > 6 else 30, b=10))
    return fig


def kl_per_dimension(kl: list[float], variances: list[float], threshold: float = 0.01) -> go.Figure:
    """KL per latent dimension (bars) and the variance of the posterior means (active above the threshold)."""
    from plotly.subplots import make_subplots

    dims = list(range(len(kl)))
    active = [v > threshold for v in variances]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("KL per dimension (nats)", "Variance of E[z|x] across documents"))
    fig.add_trace(go.Bar(x=dims, y=np.round(kl, 3), marker_color=["#4C78A8" if a else "#D1D5DB" for a in active],
                         hovertemplate="dim %{x}: %{y:.2f} nats<extra></extra>", showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=dims, y=np.round(variances, 4), marker_color=["#4C78A8" if a else "#D1D5DB" for a in active],
                         hovertemplate="dim %{x}: %{y:.3f}<extra></extra>", showlegend=False), 1, 2)
    fig.add_hline(y=threshold, line=dict(color="#DC2626", dash="dot"), row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=2)
    fig.update_xaxes(title="latent dimension")
    return _base(fig, 320)


def training_curves(metrics: dict) -> go.Figure:
    """Per-step losses (reconstruction and bag of words per token, KL, classification CE, beta) and the
    per-epoch dev figures of a checkpoint's metrics.json."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=("losses per step", "KL per document and beta", "dev set per epoch"),
                        specs=[[{}, {"secondary_y": True}, {"secondary_y": True}]])
    steps = metrics.get("steps") or []
    x = [r["step"] for r in steps]
    for name, key, color in (("reconstruction / token", "recon_per_token", "#4C78A8"),
                             ("bag of words / token", "bow_per_token", "#72B7B2"), ("classification CE", "ce", "#F58518")):
        if steps and key in steps[0]:
            fig.add_trace(go.Scatter(x=x, y=[round(r[key], 4) for r in steps], name=name, line=dict(color=color)), 1, 1)
    if steps:
        fig.add_trace(go.Scatter(x=x, y=[round(r["kl"], 2) for r in steps], name="KL (nats)", line=dict(color="#B279A2")),
                      1, 2, secondary_y=False)
        fig.add_trace(go.Scatter(x=x, y=[r["beta"] for r in steps], name="beta", line=dict(color="#9CA3AF", dash="dot")),
                      1, 2, secondary_y=True)
    hist = [h for h in metrics.get("history", []) if h.get("dev")]
    if hist:
        ex = [h["epoch"] for h in hist]
        fig.add_trace(go.Scatter(x=ex, y=[round(h["dev"]["accuracy"], 4) for h in hist], name="dev accuracy",
                                 mode="lines+markers", line=dict(color="#54A24B")), 1, 3, secondary_y=False)
        if "recon_per_token" in hist[0]["dev"]:
            fig.add_trace(go.Scatter(x=ex, y=[round(h["dev"]["recon_per_token"], 3) for h in hist],
                                     name="dev reconstruction / token", mode="lines+markers",
                                     line=dict(color="#4C78A8", dash="dash")), 1, 3, secondary_y=True)
    # a recipe's stages (vae_core/recipe.py) one after the other: where each later one starts, and its name
    for s in (metrics.get("stages") or [])[1:]:
        for col in (1, 2):
            fig.add_vline(x=s["first_step"] - 0.5, line=dict(color="#9CA3AF", dash="dash", width=1), row=1, col=col)
        fig.add_annotation(x=s["first_step"], y=1, yref="y domain", text=s["stage"], showarrow=False, xanchor="left",
                           font=dict(size=10, color="#6B7280"), row=1, col=1)
    fig.update_xaxes(title="step", row=1, col=1)
    fig.update_xaxes(title="step", row=1, col=2)
    fig.update_xaxes(title="epoch", row=1, col=3)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return _base(fig, 380)


def reliability_diagram(rel: dict) -> go.Figure:
    """Calibration (`vae_core.calibration.reliability`'s bins): accuracy against mean confidence in each
    confidence bin, with the diagonal of perfect calibration and the documents per bin below."""
    from plotly.subplots import make_subplots

    edges = rel["edges"]
    rows = [b for b, n in enumerate(rel["count"]) if n]
    conf = [rel["confidence"][b] for b in rows]
    acc = [rel["accuracy"][b] for b in rows]
    counts = [rel["count"][b] for b in rows]
    mids = [(edges[b] + edges[b + 1]) / 2 for b in rows]
    width = edges[1] - edges[0]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.06)
    fig.add_trace(go.Bar(x=mids, y=np.round(acc, 4), width=width * 0.92, marker_color="#4C78A8", name="accuracy",
                         customdata=np.stack([np.round(conf, 4), counts], -1) if rows else None,
                         hovertemplate="confidence %{customdata[0]:.1%} (bin mean): %{y:.1%} right of "
                                       "%{customdata[1]} documents<extra></extra>"), 1, 1)
    fig.add_trace(go.Scatter(x=conf, y=conf, mode="markers", marker=dict(color="#DC2626", symbol="line-ew-open", size=14,
                                                                          line=dict(width=2)),
                             name="mean confidence", hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#9CA3AF", dash="dash"),
                             name="perfect calibration", hoverinfo="skip"), 1, 1)
    fig.add_trace(go.Bar(x=mids, y=counts, width=width * 0.92, marker_color="#9CA3AF", name="documents",
                         hovertemplate="%{y} documents<extra></extra>", showlegend=False), 2, 1)
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%", gridcolor="#E5E7EB", row=1, col=1)
    fig.update_yaxes(title="documents", type="log", gridcolor="#E5E7EB", row=2, col=1)
    fig.update_xaxes(range=[0, 1.0], tickformat=".0%", gridcolor="#E5E7EB", row=1, col=1)
    fig.update_xaxes(title="confidence of the predicted class", range=[0, 1.0], tickformat=".0%", row=2, col=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0))
    return _base(fig, 420)


ERASURE_COLORS = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#72B7B2")


def deletion_curves(tests: dict, label: str, names: dict[str, str] | None = None, height: int = 230) -> go.Figure:
    """The explained class's probability as each method's most important words are removed (0 to 50% of the
    words), beside random words (grey, dashed): a faithful explanation falls fast, random words hardly move it.
    `tests` maps a method to its `interpret.faithfulness.Erasure`."""
    names = names or {}
    fig = go.Figure()
    for i, (method, e) in enumerate(tests.items()):
        rand = method == "random"
        x = [0.0] + [f * 100 for f in e.fractions]
        y = [round(e.prob, 4)] + [round(v, 4) for v in e.removed_prob]
        name = safe(names.get(method, method))
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines+markers", name=name,
            line=dict(color="#9CA3AF" if rand else ERASURE_COLORS[i % len(ERASURE_COLORS)], dash="dash" if rand else "solid",
                      width=2), marker=dict(size=6),
            hovertemplate=f"{name}: top " + "%{x:.0f}% of the words removed: p = %{y:.1%}<extra></extra>"))
    fig.update_layout(xaxis=dict(title="words removed, most important first (%)", ticksuffix="%", gridcolor="#E5E7EB",
                                 range=[-2, 52]),
                      yaxis=dict(title=f"p({safe(label, 20)})", range=[0, 1.02], tickformat=".0%", gridcolor="#E5E7EB"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return _base(fig, height)


DRIFT_POINTS_MAX = 20_000  # points of each corpus drawn on the drift map; more are drawn as a seeded sample
OVER, UNDER, OTHER_NEW = "#DC2626", "#2563EB", "#F59E0B"


def drift_map(ref_xy: np.ndarray, new_xy: np.ndarray, region_of: np.ndarray, regions: list, ref_texts, new_texts,
              selected: int | None = None, height: int = 600) -> go.Figure:
    """The new corpus over the reference on the reference's map: reference documents as grey context, new documents
    in amber, those in a flagged region where the new corpus is over-represented in red, and the flagged regions
    where it is under-represented ringed in blue; each flagged region named at its centre. With `selected`, the
    view zooms to that region."""
    rng = np.random.default_rng(0)

    def shown(n: int) -> np.ndarray:
        return np.sort(rng.choice(n, DRIFT_POINTS_MAX, replace=False)) if n > DRIFT_POINTS_MAX else np.arange(n)

    fig = go.Figure()
    r_rows, n_rows = shown(len(ref_xy)), shown(len(new_xy))
    fig.add_trace(go.Scattergl(
        x=ref_xy[r_rows, 0], y=ref_xy[r_rows, 1], mode="markers", name="reference", marker=dict(size=4, color="#D1D5DB"),
        hovertext=[safe(ref_texts[i], 120) for i in r_rows], hoverinfo="text"))
    flagged_over = {r.id for r in regions if r.flagged and r.direction == "over"}
    in_over = np.isin(region_of[n_rows], list(flagged_over)) if flagged_over else np.zeros(len(n_rows), bool)
    for mask, name, color in ((~in_over, "new", OTHER_NEW), (in_over, "new, in a drifted region", OVER)):
        rows = n_rows[mask]
        fig.add_trace(go.Scattergl(
            x=new_xy[rows, 0], y=new_xy[rows, 1], mode="markers", name=name, marker=dict(size=5, color=color, opacity=0.8),
            customdata=rows, hovertext=[safe(new_texts[i], 120) for i in rows], hoverinfo="text"))
    for r in regions:
        if not r.flagged:
            continue
        name = safe(f"{r.id}. " + (r.description.split(".")[0] if r.description else "region"), 48)
        fig.add_annotation(x=r.x, y=r.y, text=name, showarrow=False, font=dict(size=12, color="#111827"),
                           bgcolor="rgba(255,255,255,0.85)", bordercolor=OVER if r.direction == "over" else UNDER,
                           borderwidth=2, borderpad=3,
                           hovertext=safe(", ".join(r.words) or "-") + "<br>" + "<br>".join(_wrap(safe(r.description, 240), 60)))
        if r.direction == "under" and r.reference_rows:
            pts = ref_xy[np.asarray(r.reference_rows)[:5000]]
            fig.add_trace(go.Scattergl(x=pts[:, 0], y=pts[:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                                       marker=dict(size=7, color="rgba(0,0,0,0)", line=dict(color=UNDER, width=1))))
    layout = dict(xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"),
                  legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), dragmode="pan")
    if selected is not None:
        r = next((r for r in regions if r.id == selected), None)
        if r is not None:
            pts = new_xy[np.asarray(r.new_rows)] if r.direction == "over" and r.new_rows else (
                ref_xy[np.asarray(r.reference_rows)] if r.reference_rows else None)
            if pts is not None and len(pts):
                (x0, y0), (x1, y1) = np.percentile(pts, 2, axis=0), np.percentile(pts, 98, axis=0)
                pad = max(x1 - x0, y1 - y0, 0.5) * 0.3
                layout.update(xaxis=dict(visible=False, range=[x0 - pad, x1 + pad]),
                              yaxis=dict(visible=False, range=[y0 - pad, y1 + pad], scaleanchor="x"))
    fig.update_layout(**layout)
    return _base(fig, height)


def class_mix_change(class_mix: dict) -> go.Figure:
    """Predicted class shares in the reference and the new corpus, side by side; past classes.FEW classes the
    classes whose share changed most (and the largest), the rest as one "other" pair of bars."""
    labels = list(class_mix)
    if len(labels) > classes.FEW:
        change = {c: abs(class_mix[c][1] - class_mix[c][0]) + 1e-6 * max(class_mix[c]) for c in labels}
        keep = sorted(labels, key=lambda c: -change[c])[: classes.FEW - 1]
        rest = [c for c in labels if c not in keep]
        shares = {c: class_mix[c] for c in keep}
        shares[classes.other_name(len(rest))] = (sum(class_mix[c][0] for c in rest), sum(class_mix[c][1] for c in rest))
        class_mix, labels = shares, list(shares)
    fig = go.Figure([
        go.Bar(name="reference", x=[safe(c) for c in labels], y=[round(class_mix[c][0], 4) for c in labels],
               marker_color="#9CA3AF", hovertemplate="%{x}: %{y:.1%} of the reference<extra></extra>"),
        go.Bar(name="new corpus", x=[safe(c) for c in labels], y=[round(class_mix[c][1], 4) for c in labels],
               marker_color=OTHER_NEW, hovertemplate="%{x}: %{y:.1%} of the new corpus<extra></extra>")])
    fig.update_layout(barmode="group", yaxis=dict(tickformat=".0%", gridcolor="#E5E7EB", title="predicted"),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return _base(fig, 260)
