"""The index: a corpus encoded once into a table the app reads (text, label, prediction, probabilities, mu,
logvar, uncertainty and 2-D map coordinates; Parquet, with the model, projection and named regions in its
metadata): its schema, its file, and `CorpusIndex`, the index loaded for browsing. `indexing.Indexer` writes it."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .files import atomic_path

INDEX_VERSION = 1
# The index table, one row per document: every column, its type and meaning, in one place. indexing.Indexer
# writes exactly these; read_index refuses a file that lacks one.
INDEX_COLUMNS: dict[str, tuple[str, str]] = {
    "text": ("str", "the document"),
    "label": ("str | None", "its true class, None when unknown"),
    "pred": ("str", "the class predicted from mu"),
    "confidence": ("float32", "p(pred | mu)"),
    "prob_std": ("float32", "spread of p(pred) over samples of z from the posterior"),
    "flip_rate": ("float32", "share of those samples predicting another class"),
    "kl": ("float32", "KL of the posterior from the prior, nats"),
    "x": ("float32", "map position"),
    "y": ("float32", "map position"),
    "correct": ("bool | None", "pred == label, None when the label is unknown"),
    "probs": ("float32[C]", "class probabilities from mu"),
    "mu": ("float32[L]", "posterior mean"),
    "logvar": ("float32[L]", "posterior log-variance"),
}


def write_index(df, path: str | Path, meta: dict) -> Path:
    """Write the table atomically with `meta` (JSON) in the Parquet schema metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           b"vae_index": json.dumps({"version": INDEX_VERSION, **meta}).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def _read_table(path: str | Path):
    """(pyarrow Table, metadata dict) of an index file, checked against the schema."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    raw = (schema.metadata or {}).get(b"vae_index")
    if raw is None:
        raise ValueError(f"{path} is not an index written by `python -m vae_core index` (no vae_index metadata).")
    missing = [c for c in INDEX_COLUMNS if c not in schema.names]
    if missing:
        raise ValueError(f"{path} lacks the index column(s) {', '.join(missing)}: rebuild it with "
                         "`python -m vae_core index MODEL --data FILE`.")
    # pre_buffer off: a 1,000,000-row index peaks at 1.8 GB while read instead of 2.7 GB, and reads no slower
    return pq.read_table(path, pre_buffer=False), json.loads(raw)


def read_index(path: str | Path):
    """(DataFrame, metadata dict) of an index file."""
    table, meta = _read_table(path)
    return table.to_pandas(), meta


# the columns of one vector per document: CorpusIndex holds them as (N, D) matrices, not in its DataFrame
ARRAY_COLUMNS = ("probs", "mu", "logvar")


def vector_matrix(column) -> np.ndarray:
    """An Arrow column of equal-length float lists as one (N, D) float32 matrix, without a Python object per row:
    each chunk's values copied into place (a writable array: torch and numpy callers may take it as their own)."""
    chunks = [c for c in getattr(column, "chunks", [column]) if len(c)]
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    n = sum(len(c) for c in chunks)
    width = len(chunks[0].flatten()) // len(chunks[0])
    out = np.empty((n, width), dtype=np.float32)
    start = 0
    for c in chunks:
        values = c.flatten().to_numpy(zero_copy_only=False)  # the chunk's own values, offsets applied
        out[start : start + len(c)] = values.reshape(len(c), width)
        start += len(c)
    return out


class CorpusIndex:
    """An index table loaded for browsing: latent means as one matrix, the map and its mapping back
    to latent space, neighbours, search and the class-probability landscape."""

    def __init__(self, df, meta: dict, arrays: dict[str, np.ndarray] | None = None):
        """`df`: the index's scalar columns, and its vector columns (probs, mu, logvar) either as columns of
        `df` or as (N, D) matrices in `arrays`. Without logvar the posteriors are taken as points (logvar 0)."""
        from .interpret.projection import LatentMap

        df = df.reset_index(drop=True)
        arrays = dict(arrays or {})
        for k in ARRAY_COLUMNS:
            if k not in arrays and k in df:
                arrays[k] = np.stack(df[k].to_numpy()).astype(np.float32) if len(df) else np.zeros((0, 0), np.float32)
        self.df, self.meta = df.drop(columns=[k for k in ARRAY_COLUMNS if k in df]), meta
        self.mu = np.asarray(arrays["mu"], dtype=np.float32)  # (N, L)
        self.probs = np.asarray(arrays["probs"], dtype=np.float32)  # (N, C)
        self.logvar = np.asarray(arrays["logvar"], dtype=np.float32) if "logvar" in arrays else np.zeros_like(self.mu)
        self.xy = self.df[["x", "y"]].to_numpy(dtype=np.float32)  # (N, 2)
        self.map = LatentMap(self.mu, self.xy)
        self._lower = None

    @classmethod
    def load(cls, path: str | Path) -> "CorpusIndex":
        """The index file at `path`; its vector columns go straight from Arrow into matrices (a 1,000,000-row
        index loads in seconds, not the minutes and gigabytes a column of arrays per row would take)."""
        return cls.from_table(*_read_table(path))

    @classmethod
    def from_table(cls, table, meta: dict) -> "CorpusIndex":
        """An index held as an Arrow table of INDEX_COLUMNS (what `load` reads, or `indexing.Indexer` builds)."""
        arrays = {k: vector_matrix(table.column(k)) for k in ARRAY_COLUMNS}
        df = table.drop_columns(list(ARRAY_COLUMNS)).to_pandas()
        return cls(df, meta, arrays)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The vector columns as matrices (what `CorpusIndex(df, meta, arrays)` takes)."""
        return {"probs": self.probs, "mu": self.mu, "logvar": self.logvar}

    def __len__(self) -> int:
        return len(self.df)

    @property
    def content_key(self) -> str:
        """A digest of what this index holds (latents, map, predictions, labels): a cache key that stays
        the same for the same content and never points at another corpus, unlike an object's id."""
        if getattr(self, "_content_key", None) is None:
            h = hashlib.sha256()
            for a in (self.mu, self.xy, self.probs):
                h.update(np.ascontiguousarray(a).tobytes())
            h.update(json.dumps([self.labels, self.df["label"].astype(str).tolist()]).encode())
            self._content_key = h.hexdigest()[:16]
        return self._content_key

    @property
    def labels(self) -> list[str]:
        return list(self.meta.get("labels", []))

    @property
    def has_labels(self) -> bool:
        return bool(self.df["label"].notna().any())

    @property
    def regions(self):
        """The named regions of the map stored with the index (`interpret.groups.map_regions`), None if none."""
        from .interpret.groups import regions_from_meta

        return regions_from_meta(self.meta)

    def label_codes(self, labels: Sequence[str]) -> np.ndarray:
        """Each document's true class as an index into `labels` (N,); -1 where it has no label or one not in them."""
        index = {lab: i for i, lab in enumerate(labels)}
        return np.array([index.get(v, -1) if isinstance(v, str) else -1 for v in self.df["label"]], dtype=np.int64)

    def search(self, query: str, limit: int = 50) -> list[int]:
        """Rows whose text contains every word of `query` (case-insensitive), in corpus order."""
        if self._lower is None:
            self._lower = self.df["text"].str.lower()
        words = [w for w in (query or "").lower().split() if w]
        if not words:
            return list(range(min(limit, len(self.df))))
        hit = np.ones(len(self.df), dtype=bool)
        for w in words:
            hit &= self._lower.str.contains(w, regex=False).to_numpy()
        return np.flatnonzero(hit)[:limit].tolist()

    def filter(self, words: str = "", labels: Sequence[str] = (), preds: Sequence[str] = (),
               wrong_only: bool = False) -> list[int]:
        """Rows whose text contains every word of `words`, whose true label is one of `labels` and prediction
        one of `preds` (empty: any), and, with `wrong_only`, that are misclassified; none asked: []."""
        if not (words.strip() or labels or preds or wrong_only):
            return []
        mask = np.ones(len(self.df), dtype=bool)
        if words.strip():
            mask &= np.isin(np.arange(len(self.df)), self.search(words, limit=len(self.df)))
        if labels:
            mask &= self.df["label"].isin(list(labels)).to_numpy()
        if preds:
            mask &= self.df["pred"].isin(list(preds)).to_numpy()
        if wrong_only:
            mask &= (self.df["correct"] == False).to_numpy()  # noqa: E712 (None where the label is unknown)
        return np.flatnonzero(mask).tolist()

    def neighbours(self, mu: np.ndarray, k: int = 8, exclude: int | None = None):
        """The k documents nearest to `mu` in latent space: (indices, distances)."""
        dist, idx = self.map.neighbours(mu, k + (exclude is not None))
        pairs = [(int(i), float(d)) for i, d in zip(idx[0], dist[0]) if i != exclude][:k]
        return [i for i, _ in pairs], [d for _, d in pairs]

    def centroids(self, by: str = "label") -> dict[str, np.ndarray]:
        """Mean latent of each class, by true label or by prediction ('pred')."""
        col = self.df[by]
        return {lab: self.mu[(col == lab).to_numpy()].mean(0) for lab in self.labels if (col == lab).any()}

    def landscape(self, probs_fn, resolution: int = 60, empty_factor: float = 3.0) -> dict:
        """Class probabilities over a grid on the map: every grid point is mapped back to latent space
        (blend of its nearest documents) and classified with `probs_fn` ((N, L) -> (N, C)). Grid points far
        from any document (mean distance to the 5 nearest above `empty_factor` times the corpus' typical
        spacing) are marked empty."""
        xs, ys, pts = self.map.grid(resolution)
        z = self.map.inverse(pts)
        probs = probs_fn(z).reshape(resolution, resolution, -1)
        spacing = float(np.median(self.map.density(self.xy[:: max(1, len(self.xy) // 2000)], k=6)))
        far = self.map.density(pts).reshape(resolution, resolution) > empty_factor * max(spacing, 1e-6)
        return {"x": xs, "y": ys, "probs": probs, "empty": far, "z": z.reshape(resolution, resolution, -1)}

    def class_samples(self, label: str, n: int = 8, seed: int = 0, by: str = "pred") -> np.ndarray:
        """n latents from a class's region: z ~ q(z|x) for documents x of that class (seeded) -> (n, L)."""
        rows = np.flatnonzero((self.df[by] == label).to_numpy())
        if not len(rows):
            raise ValueError(f"no document of class '{label}' in this corpus.")
        rng = np.random.default_rng(seed)
        pick = rng.choice(rows, size=n, replace=len(rows) < n)
        return (self.mu[pick] + rng.standard_normal(self.mu[pick].shape).astype(np.float32)
                * np.exp(0.5 * self.logvar[pick]))

    def empty_places(self, n: int = 6, resolution: int = 40, factor: float = 3.0) -> np.ndarray:
        """Up to n map positions (n, 2) inside the map's extent that lie far from every document, the
        emptiest first."""
        _, _, pts = self.map.grid(resolution, margin=0.0)
        d = self.map.density(pts)
        spacing = float(np.median(self.map.density(self.xy[:: max(1, len(self.xy) // 2000)], k=6)))
        order = [i for i in np.argsort(-d) if d[i] > factor * max(spacing, 1e-6)]
        chosen: list[int] = []
        min_gap = 0.1 * float(np.linalg.norm(self.xy.max(0) - self.xy.min(0)))
        for i in order:  # spread the picks out
            if all(np.linalg.norm(pts[i] - pts[j]) > min_gap for j in chosen):
                chosen.append(i)
            if len(chosen) == n:
                break
        return pts[chosen] if chosen else np.zeros((0, 2), dtype=np.float32)


def load_index_of(path: str | Path, labels: Sequence[str]) -> "CorpusIndex | None":
    """The index at `path` when it is one written by `index` (a .parquet file with the index's metadata) for a
    model of these classes; None when it is not an index (a data file, to be encoded). An index of other classes
    is refused, since its predictions are another model's."""
    if not str(path).endswith(".parquet"):
        return None
    try:
        corpus = CorpusIndex.load(path)
    except ValueError:
        return None  # a Parquet data file, not an index
    if corpus.labels and list(corpus.labels) != list(labels):
        raise ValueError(f"{path} was indexed with other classes ({', '.join(corpus.labels)}) than this model has "
                         f"({', '.join(labels)}): index it again with this model.")
    return corpus
