"""How the app and the offline report draw a model's classes, for 2 classes as for 150: one place for their colours,
their order, the classes a view names and the legends that name them.

- **Colours.** Up to 10 classes, each its own colour of PALETTE (the demo's look); up to 20, each its own colour of
  DISTINCT (20 colours at least 26 CIE76 units apart, and as far from the grey of OTHER). Past 20 no palette can
  keep every class apart, so the classes fall into at most 10 *families* of classes the model finds alike, each
  family a hue of PALETTE and its members shades of it (`ClassStyle.colors`: the map, badges, attributions). A view
  that names classes (a legend, the bars of a text's top classes, the classes a path passes) colours the classes it
  names from DISTINCT and the rest grey (`ClassStyle.view`), so that what a legend names is always told apart.
- **Order.** The classes in the leaf order of a dendrogram of the classifier's weight vectors (average linkage on
  their cosine distance, optimal leaf ordering): classes the model finds alike sit next to each other in the
  confusion matrix, and a family is a run of that order.
- **Which classes a view shows.** `top_classes` (a text's most probable classes, the rest summed as "other (n
  classes)"), `path_classes` (the classes that reach 5% somewhere on a path).

The style of a model's classes is registered once, when the app loads the model (`register`, from its classifier's
weights); `style` finds it by the labels, and builds one from the labels alone for classes never registered.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#BAB0AC", "#EECA3B"]
# PALETTE without its grey, then the colours that kept the smallest CIE76 distance to all before them and to OTHER
# largest, chosen greedily from Tableau, ColorBrewer and Kelly colours: every pair at least 26.3 apart, each at least
# 27.3 from OTHER (tests/test_classes.py measures it)
DISTINCT = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D", "#EECA3B",
            "#E7298A", "#2B3D26", "#8DB600", "#A6761D", "#6B6ECF", "#FFBF79", "#882D17", "#393B79", "#B5CF6B",
            "#1B9E77", "#003F5C"]
OTHER = "#D1D5DB"  # the classes a view does not name
FEW = len(PALETTE)  # up to this many classes: PALETTE, the given order, every class in every chart
SOME = len(DISTINCT)  # up to this many: a colour of its own each
FAMILIES_MAX = 10
LEGEND_MAX = 20  # no legend names more entries than this
TOP_K = 5  # a text's most probable classes drawn as bars when it has more than FEW classes
PATH_FLOOR, PATH_MAX = 0.05, 8  # a path's chart names the classes reaching PATH_FLOOR somewhere, at most PATH_MAX


@dataclass(frozen=True)
class ClassStyle:
    """The colours and the order of one model's classes (see the module's docstring)."""

    labels: tuple[str, ...]
    order: tuple[int, ...]  # class indices, alike classes next to each other
    family: tuple[int, ...] = ()  # each class's family (by class index); empty for SOME classes or fewer
    family_names: tuple[str, ...] = ()
    colors: dict = field(default_factory=dict)  # label -> its colour in views that colour every class

    @property
    def many(self) -> bool:
        """More classes than colours that can be told apart: views name a few and grey the rest."""
        return len(self.labels) > SOME

    def view(self, focus: Sequence[str] = ()) -> dict[str, str]:
        """The colours of one view that names the classes of `focus` (most important first): up to SOME classes
        every class keeps its own colour; past that, the first SOME of `focus` get DISTINCT's colours in turn and
        every other class OTHER."""
        if not self.many:
            return dict(self.colors)
        out = dict.fromkeys(self.labels, OTHER)
        named = [lab for lab in dict.fromkeys(focus) if lab in out][: len(DISTINCT)]
        out.update({lab: DISTINCT[i] for i, lab in enumerate(named)})
        return out

    def members(self, f: int) -> list[str]:
        """The classes of family `f`, in the dendrogram's order."""
        return [self.labels[i] for i in self.order if self.family[i] == f]


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """A "#RRGGBB" colour's red, green and blue (0-255)."""
    color = color.lstrip("#")
    return tuple(int(color[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def _linear(color: str) -> np.ndarray:
    """A colour's sRGB components made linear (0-1), as luminance and CIELAB start from."""
    rgb = np.array(hex_to_rgb(color)) / 255
    return np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def shade(color: str, t: float) -> str:
    """`color` mixed with black (t < 0) or white (t > 0) by |t|."""
    end = 0 if t < 0 else 255
    mix = [round(c + (end - c) * abs(t)) for c in hex_to_rgb(color)]
    return "#" + "".join(f"{c:02X}" for c in mix)


def text_on(color: str) -> str:
    """Dark or white text, whichever reads on a background of `color` (WCAG relative luminance)."""
    return "#111827" if float(_linear(color) @ [0.2126, 0.7152, 0.0722]) > 0.35 else "#FFFFFF"


def lab_distance(a: str, b: str) -> float:
    """CIE76 colour difference (Euclidean distance in CIELAB, D65) of two hex colours."""
    def lab(color: str) -> np.ndarray:
        xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ _linear(color)
        f = xyz / np.array([0.95047, 1.0, 1.08883])
        f = np.where(f > 0.008856, np.cbrt(f), 7.787 * f + 16 / 116)
        return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])

    return float(np.linalg.norm(lab(a) - lab(b)))


def _leaf_order(vectors: np.ndarray) -> list[int]:
    """Classes ordered so that alike ones (cosine of their vectors) sit together: the dendrogram's leaves."""
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    if len(vectors) < 3:
        return list(range(len(vectors)))
    dist = np.nan_to_num(pdist(np.asarray(vectors, dtype=np.float64), metric="cosine"), nan=1.0)
    tree = optimal_leaf_ordering(linkage(dist, method="average"), dist)
    return [int(i) for i in leaves_list(tree)]


def _family_name(names: list[str], taken: Sequence[str] = ()) -> str:
    """A family's short name: a word most of its classes' names share ("card … (7)") that no family before it
    took, else its first class and how many more."""
    import re
    from collections import Counter

    first = names[0] if len(names[0]) <= 22 else names[0][:21] + "…"
    if len(names) == 1:
        return first
    words = Counter(w for n in names for w in set(re.findall(r"[a-z]{3,}", n.lower())))
    used = {t.split(" … ")[0] for t in taken}
    common = [w for w, c in words.most_common() if c >= max(2, 2 * len(names) / 3) and w not in used]
    return f"{common[0]} … ({len(names)})" if common else f"{first} +{len(names) - 1}"


def build_style(labels: Sequence[str], vectors: np.ndarray | None = None) -> ClassStyle:
    """The style of these classes; `vectors` (one row a class, e.g. the classifier's weights) order them and make
    their families; without them the given order stands."""
    labels = tuple(str(lab) for lab in labels)
    n = len(labels)
    if n <= FEW:
        return ClassStyle(labels, tuple(range(n)), colors={lab: PALETTE[i] for i, lab in enumerate(labels)})
    order = _leaf_order(vectors) if vectors is not None and len(vectors) == n else list(range(n))
    if n <= SOME:
        return ClassStyle(labels, tuple(order), colors={lab: DISTINCT[i] for i, lab in enumerate(labels)})
    k = min(FAMILIES_MAX, n)
    runs = np.array_split(np.asarray(order), k)  # families: runs of the order, as even as the count allows
    family = [0] * n
    colors = {}
    for f, run in enumerate(runs):
        for j, i in enumerate(run):
            family[int(i)] = f
            t = -0.35 + 0.8 * (j / max(len(run) - 1, 1))  # darker to lighter along the run
            colors[labels[int(i)]] = shade(PALETTE[f], t)
    names: list[str] = []
    for run in runs:
        names.append(_family_name([labels[int(i)] for i in run], names))
    names = tuple(names)
    return ClassStyle(labels, tuple(order), tuple(family), names, {lab: colors[lab] for lab in labels})


_STYLES: dict[tuple[str, ...], ClassStyle] = {}
_LOCK = threading.Lock()


def register(labels: Sequence[str], vectors: np.ndarray | None) -> ClassStyle:
    """Make (once per set of labels: the first model registered keeps its colours) the style of a model's classes."""
    key = tuple(str(lab) for lab in labels)
    with _LOCK:
        if key not in _STYLES:
            _STYLES[key] = build_style(key, vectors)
        return _STYLES[key]


def register_model(explorer) -> ClassStyle:
    """`register` a loaded model's classes by its classifier's weight vectors."""
    return register(explorer.labels, explorer.classifier_weights()[0])


def style(labels: Sequence[str]) -> ClassStyle:
    """The registered style of these classes, or one made from the labels alone."""
    key = tuple(str(lab) for lab in labels)
    found = _STYLES.get(key)
    return found if found is not None else build_style(key)


# ---- which classes a view shows ----
def top_classes(probs: Sequence[float], k: int = TOP_K) -> list[int]:
    """The classes of the k largest probabilities, largest first (ties by class order)."""
    p = np.asarray(probs, dtype=np.float64)
    return [int(i) for i in np.argsort(-p, kind="stable")[:k]]


def path_classes(probs: np.ndarray, floor: float = PATH_FLOOR, k: int = PATH_MAX) -> list[int]:
    """The classes a path's chart names: those whose probability reaches `floor` at some step, by their highest
    probability, at most k; always the class of every step's prediction that fits."""
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    peak = p.max(0)
    ranked = [int(i) for i in np.argsort(-peak, kind="stable") if peak[i] >= floor]
    winners = [int(i) for i in dict.fromkeys(p.argmax(1).tolist())]
    chosen = list(dict.fromkeys(winners + ranked))[: max(k, len(winners))]
    return sorted(chosen, key=lambda i: -peak[i])


def names_line(labels: Sequence[str], k: int = 12) -> str:
    """The class names in a line of text: all of them, or the first k and how many more."""
    return ", ".join(labels[:k]) + (f" and {len(labels) - k} more" if len(labels) > k else "")


def other_name(n: int) -> str:
    return f"other ({n} class{'es' if n != 1 else ''})"


def legend(entries: int) -> dict:
    """A legend above the figure, in rows, for up to LEGEND_MAX entries."""
    return dict(orientation="h", yanchor="bottom", y=1.0, x=0, itemsizing="constant",
                font=dict(size=12 if entries <= 10 else 11))
