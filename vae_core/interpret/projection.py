"""2-D maps of latent space: UMAP (or PCA, fast) fit on posterior means, and a k-nearest-neighbour
mapping between the map and latent space for points the projection was not fit on."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METHODS = ("umap", "pca")


def fit_projection(mu: np.ndarray, method: str = "umap", seed: int = 0, n_neighbors: int = 15,
                   min_dist: float = 0.1) -> np.ndarray:
    """Project latent means (N, L) to 2-D (N, 2), deterministically for a given seed."""
    mu = np.asarray(mu, dtype=np.float32)
    if method not in METHODS:
        raise ValueError(f"unknown projection '{method}'; choose one of {', '.join(METHODS)}.")
    if len(mu) < 3 or method == "pca":
        from sklearn.decomposition import PCA

        k = min(2, mu.shape[0], mu.shape[1])
        xy = PCA(n_components=k, random_state=seed).fit_transform(mu) if len(mu) > 1 else np.zeros((len(mu), k))
        if xy.shape[1] < 2:
            xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
        return xy.astype(np.float32)
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(mu) - 1), min_dist=min_dist,
                        random_state=seed, metric="euclidean")
    return reducer.fit_transform(mu).astype(np.float32)


@dataclass
class LatentMap:
    """Maps new latents onto a fitted map and map positions back to latents, by inverse-distance
    weighting over the k nearest indexed documents (no pickled projector is ever stored)."""

    mu: np.ndarray  # (N, L)
    xy: np.ndarray  # (N, 2)
    k: int = 10

    def _weights(self, ref: np.ndarray, query: np.ndarray):
        d = np.sqrt(((query[:, None, :] - ref[None, :, :]) ** 2).sum(-1))  # (Q, N)
        k = min(self.k, ref.shape[0])
        nn = np.argsort(d, axis=1)[:, :k]  # (Q, k)
        dn = np.take_along_axis(d, nn, axis=1)
        w = 1.0 / (dn + 1e-6)
        return nn, w / w.sum(1, keepdims=True)

    def transform(self, mu_new: np.ndarray) -> np.ndarray:
        """(Q, L) latents -> (Q, 2) map positions."""
        nn, w = self._weights(self.mu, np.atleast_2d(np.asarray(mu_new, dtype=np.float32)))
        return (self.xy[nn] * w[..., None]).sum(1)

    def inverse(self, xy_new: np.ndarray) -> np.ndarray:
        """(Q, 2) map positions -> (Q, L) latents."""
        nn, w = self._weights(self.xy, np.atleast_2d(np.asarray(xy_new, dtype=np.float32)))
        return (self.mu[nn] * w[..., None]).sum(1)
