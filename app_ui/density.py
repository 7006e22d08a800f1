"""The map of a large corpus drawn as an image: every document counted into the pixel it falls on (a
datashader-style aggregate in numpy), coloured by its class or value, the busier pixels the more opaque.
A browser then draws one picture instead of a million WebGL points; selections are answered here, from
the drawn box or lasso, over every document.

Why not datashader itself: its numba kernels compile on a server's first map (3.9 s at 1,000,000 rows, then
0.12 s; this: 0.08 s every time, benchmarks/density_choice.py), and this is three
`np.bincount` calls (measured in benchmarks/RESULTS.md, "Past one machine")."""
from __future__ import annotations

import base64
import io
import os

import numpy as np

# More documents than this on the map (or in the zoomed view) and it is drawn as a density image with a
# sample of clickable points over it (benchmarks/scale.py, scale_app.json: at 100,000 documents the image draws in
# 1.28 s and answers a lasso in 0.32 s, all of them as points in 2.45 s and 0.60 s). VAE_MAP_POINTS_MAX overrides it.
POINTS_MAX = 50_000
RINGS_MAX = 3_000  # highlighted documents drawn as rings; more are drawn as a dark density layer
WIDTH = 800  # image columns (about the map's width on screen); rows follow the view's aspect (x and y share a scale)


def points_max() -> int:
    """How many documents the map draws as points before it draws a density image: VAE_MAP_POINTS_MAX, else
    POINTS_MAX."""
    value = os.environ.get("VAE_MAP_POINTS_MAX", "")
    return int(value) if value.strip().isdigit() else POINTS_MAX


def sample_size(limit: int | None = None) -> int:
    """How many documents a density map draws as points to hover and click (each with its snippet): an eighth
    of the points limit, 6,250 by default. (A quarter made the figure 2.8 MB, which the browser receives and
    parses again on every rerun: a lasso on 1,000,000 documents was answered in 0.97 s instead of 0.6 s.)"""
    return max(1, (limit if limit is not None else points_max()) // 8)


def extent(xy: np.ndarray, margin: float = 0.02) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) around the points, `margin` of the span added on every side."""
    lo, hi = xy.min(0).astype(float), xy.max(0).astype(float)
    pad = np.maximum(hi - lo, 1e-6) * margin
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def shape_of(view: tuple[float, float, float, float], width: int = WIDTH) -> tuple[int, int]:
    """(rows, columns) of an image of `view` with square pixels in map units."""
    x0, x1, y0, y1 = view
    rows = int(round(width * (y1 - y0) / max(x1 - x0, 1e-9)))
    return int(np.clip(rows, 1, 2 * width)), width


def covering(view, aspects: tuple[float, float] = (0.8, 2.5),
             max_width: int = 2 * WIDTH) -> tuple[tuple[float, float, float, float], int]:
    """`view` widened (or heightened) about its centre to every width/height ratio in `aspects`, and the image
    width that keeps the view's own resolution (WIDTH columns across it, at most `max_width` in all): the map
    keeps x and y at one scale, so a plot area of another shape than the view shows more of the map on two
    sides, and the image must cover that too."""
    x0, x1, y0, y1 = view
    w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w2, h2 = max(w, h * aspects[1]), max(h, w / aspects[0])
    return (cx - w2 / 2, cx + w2 / 2, cy - h2 / 2, cy + h2 / 2), int(min(max_width, round(WIDTH * w2 / w)))


def _pixels(xy: np.ndarray, view, shape) -> tuple[np.ndarray, np.ndarray]:
    """Flat pixel index of every point inside `view` (row 0 at the top, as images go) and which points those are."""
    x0, x1, y0, y1 = view
    h, w = shape
    col = np.floor((xy[:, 0] - x0) / (x1 - x0) * w).astype(np.int64)
    row = np.floor((y1 - xy[:, 1]) / (y1 - y0) * h).astype(np.int64)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    return row[inside] * w + col[inside], inside


def _spread(a: np.ndarray) -> np.ndarray:
    """Each pixel summed with its 8 neighbours (per channel): a lone document covers 3x3 pixels and stays visible."""
    from scipy.ndimage import uniform_filter

    size = (3, 3) + (1,) * (a.ndim - 2)
    return uniform_filter(a.astype(np.float32), size=size, mode="constant") * 9.0


def _alpha(total: np.ndarray, strength: float) -> np.ndarray:
    """Opacity from the count: log-scaled, a pixel with one document still visible (0.25), the busiest 0.95."""
    top = float(total.max()) if total.size else 0.0
    if top <= 0:
        return np.zeros_like(total, dtype=np.float32)
    a = 0.25 + 0.70 * np.log1p(total) / np.log1p(top)
    return np.where(total > 0, a * strength, 0.0).astype(np.float32)


def categorical(xy: np.ndarray, codes: np.ndarray, colors: np.ndarray, view, width: int = WIDTH,
                strength: float = 1.0) -> np.ndarray:
    """RGBA image (H, W, 4) uint8: each pixel the mix of its documents' category colours (`colors` (K, 3) in
    0-255, `codes` the category of each point, -1 for none), opacity by how many there are."""
    shape = shape_of(view, width)
    k = len(colors)
    keep = codes >= 0
    pix, inside = _pixels(xy[keep], view, shape)
    code = codes[keep][inside].astype(np.int64)
    counts = np.bincount(pix * k + code, minlength=shape[0] * shape[1] * k).reshape(shape[0], shape[1], k)
    counts = _spread(counts)
    total = counts.sum(-1)
    rgb = counts @ colors.astype(np.float32) / np.maximum(total, 1e-9)[..., None]
    return _rgba(rgb, _alpha(total, strength))


def continuous(xy: np.ndarray, values: np.ndarray, lut: np.ndarray, vmin: float, vmax: float, view,
               width: int = WIDTH, strength: float = 1.0) -> np.ndarray:
    """RGBA image (H, W, 4) uint8: each pixel the colour (`lut` (256, 3), 0-255) of its documents' mean value
    between `vmin` and `vmax`, opacity by how many there are."""
    shape = shape_of(view, width)
    pix, inside = _pixels(xy, view, shape)
    n = shape[0] * shape[1]
    total = _spread(np.bincount(pix, minlength=n).reshape(shape))
    sums = _spread(np.bincount(pix, weights=values[inside].astype(np.float64), minlength=n).reshape(shape))
    mean = sums / np.maximum(total, 1e-9)
    idx = np.clip((mean - vmin) / max(vmax - vmin, 1e-9) * 255, 0, 255).astype(np.int64)
    return _rgba(lut[idx].astype(np.float32), _alpha(total, strength))


def _rgba(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    out = np.empty(alpha.shape + (4,), dtype=np.uint8)
    out[..., :3] = np.clip(rgb, 0, 255).astype(np.uint8)
    out[..., 3] = np.clip(alpha * 255, 0, 255).astype(np.uint8)
    return out


def lut_of(colorscale: str, n: int = 256) -> np.ndarray:
    """A plotly colour scale (e.g. "Viridis", "Magma_r") as (n, 3) uint8."""
    from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

    colors = sample_colorscale(get_colorscale(colorscale), np.linspace(0, 1, n), colortype="rgb")
    return np.asarray([unlabel_rgb(c) for c in colors], dtype=np.float32).round().astype(np.uint8)


def png_uri(rgba: np.ndarray) -> str:
    """The image as a PNG data URI (what plotly's layout images take as a source)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def sample_rows(rows: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """At most k of `rows`, the same ones every time (seeded), in row order."""
    if len(rows) <= k:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=k, replace=False))


def in_view(xy: np.ndarray, view) -> np.ndarray:
    """Row numbers of the points inside `view` (x0, x1, y0, y1)."""
    x0, x1, y0, y1 = view
    return np.flatnonzero((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1))


def rows_in_box(xy: np.ndarray, xs, ys) -> np.ndarray:
    """Row numbers of the points inside the box spanned by two x and two y values (a plotly box selection)."""
    return in_view(xy, (min(xs), max(xs), min(ys), max(ys)))


def rows_in_lasso(xy: np.ndarray, xs, ys) -> np.ndarray:
    """Row numbers of the points inside the polygon (a plotly lasso selection); its bounding box first, so
    that only the points near it are tested against the polygon."""
    from matplotlib.path import Path

    near = rows_in_box(xy, xs, ys)
    if len(xs) < 3 or not len(near):
        return near[:0]
    inside = Path(np.column_stack([xs, ys])).contains_points(xy[near])
    return near[inside]


def selected(selection: dict | None, xy: np.ndarray, dense: bool) -> tuple[list[int], tuple[float, float, float, float] | None]:
    """What a plotly selection on the map picked: (row numbers, the bounding box (x0, x1, y0, y1) of the box or
    lasso drawn, None for clicks). On a density map a shape's documents are found here among all of them (only
    a sample is drawn as points); on a map of points they are the points plotly reports, so that a class hidden
    in the legend stays out. Points carry their row number as customdata."""
    if not selection:
        return [], None
    n = len(xy)
    rows = set()
    for p in selection.get("points", []):
        cd = p.get("customdata")
        if isinstance(cd, list) and len(cd) == 1:
            cd = cd[0]
        if isinstance(cd, (int, float)) and 0 <= int(cd) < n:
            rows.add(int(cd))
    bounds, drawn = None, []
    for kind in ("box", "lasso"):
        for shape in selection.get(kind, []):
            xs, ys = [float(v) for v in shape.get("x", [])], [float(v) for v in shape.get("y", [])]
            if xs and ys:
                bounds = (min(xs), max(xs), min(ys), max(ys))
                drawn.append((kind, xs, ys))
    if dense and drawn:
        found = [rows_in_box(xy, xs, ys) if kind == "box" else rows_in_lasso(xy, xs, ys) for kind, xs, ys in drawn]
        return np.unique(np.concatenate(found)).tolist(), bounds
    return sorted(rows), bounds
