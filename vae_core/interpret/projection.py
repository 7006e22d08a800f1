"""2-D maps of latent space: UMAP (or PCA, fast) fit on posterior means, and a nearest-neighbour
mapping between the map and latent space for points the projection was not fit on (a typed text, a
place on the map to decode, a grid for the class landscape). Nothing here is quadratic in the corpus
size: neighbours come from scikit-learn's trees.
"""
from __future__ import annotations

import time
from typing import Iterable

import numpy as np

METHODS = ("umap", "pca")
UMAP_FIT_SAMPLE = 20_000  # larger corpora: fit on a sample, place the rest with transform


PLACE_CHUNK = 50_000  # points placed on a fitted map at a time


def map_sample(n: int, seed: int = 0, fit_sample: int = UMAP_FIT_SAMPLE) -> np.ndarray:
    """The rows a map of n points is fitted on: all of them, or a seeded sample of `fit_sample`, in order."""
    if n <= fit_sample:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, fit_sample, replace=False))


class FittedMap:
    """A 2-D projection fitted on latent means (S, L): `xy` holds their positions, `place` puts other latents
    on the same map (UMAP's or PCA's transform), a chunk at a time."""

    def __init__(self, mu: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15,
                 min_dist: float = 0.1):
        mu = np.asarray(mu, dtype=np.float32)
        if method not in METHODS:
            raise ValueError(f"unknown projection '{method}'; choose one of {', '.join(METHODS)}.")
        if len(mu) < 3 or method == "pca":
            from sklearn.decomposition import PCA

            self.k = min(2, mu.shape[0], mu.shape[1])
            self.reducer = PCA(n_components=self.k, random_state=seed).fit(mu) if len(mu) > 1 else None
            self.xy = self.place(mu)
            return
        import umap

        self.reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(mu) - 1), min_dist=min_dist,
                                 random_state=seed, metric="euclidean", n_jobs=1)
        self.k = 2
        self.xy = self.reducer.fit_transform(mu).astype(np.float32)

    def place(self, mu: np.ndarray) -> np.ndarray:
        """(Q, L) latents -> (Q, 2) positions on this map."""
        mu = np.asarray(mu, dtype=np.float32)
        if self.reducer is None:
            return np.zeros((len(mu), 2), dtype=np.float32)
        xy = np.concatenate([self.reducer.transform(mu[s : s + PLACE_CHUNK]) for s in range(0, len(mu), PLACE_CHUNK)]
                            ) if len(mu) else np.zeros((0, self.k))
        if xy.shape[1] < 2:
            xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
        return xy.astype(np.float32)


def sampled_map(sample_mu: np.ndarray, sample: np.ndarray, n: int, rest: Iterable[tuple[np.ndarray, np.ndarray]],
                method: str = "umap", seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1
                ) -> tuple[np.ndarray, float]:
    """The one rule of a corpus' map: fitted on the latent means of a sample of its n rows (`map_sample`), every
    other row placed by the map's transform, PLACE_CHUNK rows at a time (UMAP's transform costs less per row in
    bulk). `rest` gives the other rows as pieces (their row numbers, their means), read as they are needed.
    Returns (xy (n, 2), seconds spent placing)."""
    fitted = FittedMap(sample_mu, method, seed, n_neighbors, min_dist)
    xy = np.empty((n, 2), dtype=np.float32)
    xy[sample] = fitted.xy
    t0 = time.time()
    pending_rows: list[np.ndarray] = []
    pending_mu: list[np.ndarray] = []

    def place_pending() -> None:
        if pending_rows:
            xy[np.concatenate(pending_rows)] = fitted.place(np.concatenate(pending_mu))
            pending_rows.clear(), pending_mu.clear()

    for rows, mu in rest:
        if len(rows):
            pending_rows.append(rows)
            pending_mu.append(mu)
            if sum(len(r) for r in pending_rows) >= PLACE_CHUNK:
                place_pending()
    place_pending()
    return xy, time.time() - t0


def fit_projection(mu: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15,
                   min_dist: float = 0.1, fit_sample: int = UMAP_FIT_SAMPLE) -> np.ndarray:
    """Project latent means (N, L) held in memory to 2-D (N, 2), deterministically for a given seed (`sampled_map`,
    the rule every index's map follows)."""
    mu = np.asarray(mu, dtype=np.float32)
    sample = map_sample(len(mu), seed, fit_sample)
    rest = np.setdiff1d(np.arange(len(mu)), sample)
    return sampled_map(mu[sample], sample, len(mu), [(rest, mu[rest])], method, seed, n_neighbors, min_dist)[0]


class LatentMap:
    """Maps latents onto a fitted map and map positions back to latents, by inverse-distance weighting
    over the k nearest indexed documents (scikit-learn's KNeighborsRegressor with distance weights; a
    position that is an indexed document's gets that document's value). No pickled projector is stored."""

    def __init__(self, mu: np.ndarray, xy: np.ndarray, k: int = 10):
        from sklearn.neighbors import KNeighborsRegressor

        self.mu = np.asarray(mu, dtype=np.float32)  # (N, L)
        self.xy = np.asarray(xy, dtype=np.float32)  # (N, 2)
        self.k = max(1, min(k, len(self.mu)))
        self._to_map = KNeighborsRegressor(n_neighbors=self.k, weights="distance").fit(self.mu, self.xy)
        self._to_latent = KNeighborsRegressor(n_neighbors=self.k, weights="distance").fit(self.xy, self.mu)

    @staticmethod
    def _rows(a: np.ndarray) -> np.ndarray:
        return np.atleast_2d(np.asarray(a, dtype=np.float32))

    def neighbours(self, mu_query: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(distances, indices), each (Q, k), of the nearest documents in latent space."""
        return self._to_map.kneighbors(self._rows(mu_query), n_neighbors=min(k or self.k, len(self.mu)))

    def transform(self, mu_new: np.ndarray) -> np.ndarray:
        """(Q, L) latents -> (Q, 2) map positions."""
        return self._to_map.predict(self._rows(mu_new)).astype(np.float32)

    def inverse(self, xy_new: np.ndarray) -> np.ndarray:
        """(Q, 2) map positions -> (Q, L) latents."""
        return self._to_latent.predict(self._rows(xy_new)).astype(np.float32)

    def density(self, xy_new: np.ndarray, k: int = 5) -> np.ndarray:
        """Mean distance (Q,) from each map position to its k nearest documents: large where the map is empty."""
        dist, _ = self._to_latent.kneighbors(self._rows(xy_new), n_neighbors=min(k, len(self.xy)))
        return dist.mean(1)

    def grid(self, resolution: int = 60, margin: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A regular grid over the map: (xs (R,), ys (R,), points (R*R, 2), row-major in y)."""
        lo, hi = self.xy.min(0), self.xy.max(0)
        pad = (hi - lo) * margin
        xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution, dtype=np.float32)
        ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution, dtype=np.float32)
        gx, gy = np.meshgrid(xs, ys)
        return xs, ys, np.stack([gx.ravel(), gy.ravel()], 1)
