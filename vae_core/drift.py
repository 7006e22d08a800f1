"""Drift: where a new corpus differs from the one a model knows, in words.

The test is a classifier two-sample test in latent space (Lopez-Paz & Oquab 2017; a density ratio by nearest
neighbours, as in the kNN two-sample tests of Schilling 1986). Each document is its posterior mean with, beside it,
the log-variance of the classification part of its posterior (`latent_features`): text unlike the training corpus
is encoded with more uncertainty as well as elsewhere. The two corpora are pooled, reduced by PCA, and each
document's k nearest neighbours are counted from the other half of the pool (cross-fitted, so that no document votes
for itself). The share of new documents among them, against their share of the pool, gives each document's drift
score, the log density ratio log p_new(z) / p_ref(z). Its AUC over the pool is the whole corpus' drift score (0.5:
the two cannot be told apart), with a Mann-Whitney p-value.

Regions where the new corpus is over-represented are found on one half of the pool and tested on the other (sample
splitting: no document of the test half has a say in where a region is). Discovery: within the first half alone,
each document's density ratio from its neighbours there; HDBSCAN groups the new documents at least DISCOVERY_RATIO
times denser than the reference (all of them one group when HDBSCAN finds none; those it leaves out join the nearest
group). Any document belongs to the region more than VOTE_SHARE of its VOTES nearest first-half documents are in,
when its own cross-fitted score is past MEMBER_SCORE (a test-half document's score comes from first-half neighbours,
so its region still depends on where it lies and on the first half alone). On the second half, the new and reference
documents in the region give the ratio of shares, its interval and a binomial p-value against the half's proportion
of new documents. Regions where the new corpus is under-represented are the same with the corpora's roles swapped.
A region is flagged when it is significant after Bonferroni correction (ALPHA) and the end of its ratio's 95%
interval is past MIN_RATIO. The whole corpora are then assigned to the regions for the counts, descriptions and
documents shown.

Chosen by measurement (benchmarks/drift_variants.py and drift_planted.py, RESULTS.md), with foreign topics planted
at 5-10% of a corpus: the class part's log-variance at weight 1.4 beside the mean, k = 15 neighbours, 3 of 7 voters,
a member's own score past 0.8 nats, the single-group and attach rules; chosen on seeds 0-39 and checked on 100 others,
where film-review sentences planted in news met the target in 95 / 98 / 99 of 100 (5 / 7 / 10%) against 18 / 25 / 30
of the first 50 with the means alone, k = 10, 3 of 5 voters and no member score. A classifier of the two corpora
(logistic or boosted trees on the features, SCORER) scored worse than neighbours: the foreign topic is a small,
local mode.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

NEIGHBOURS = 15  # k of the density ratio
PCA_DIMS = 16  # dimensions kept for neighbours and groups (of the documents' features, pooled)
DISCOVERY_RATIO = 2.0  # documents at least this much denser on one side start a region
VOTES = 7  # a document belongs to the region enough of its 7 nearest discovery documents are in:
VOTE_SHARE = 0.4  # more than this share of those votes (3 of 7: a foreign topic's fringe is thin)
# a member of a region must also have a cross-fitted score past this (in the region's direction; None: no such
# condition): a reference-like document next to a foreign topic stays out of its region
MEMBER_SCORE: float | None = 0.8
MIN_RATIO = 1.5  # a flagged region's ratio of shares is at least this, at the lower end of its interval
ALPHA = 0.01  # significance of a flagged region, Bonferroni-corrected over the regions tested
MIN_REGION = 5  # documents (of the discovery half) a region is found from, at least
MIN_SAMPLES = 3  # HDBSCAN's: a foreign topic spreads over latent space more thinly than the reference's classes
# when HDBSCAN finds no group among the over- (under-) represented documents, it is asked again with all of them
# allowed to be one: a foreign topic that is the only dense group there came back as noise, and no region was found
SINGLE_GROUP = True
# over- (under-) represented documents HDBSCAN leaves out of every group join the group of the nearest grouped one
ATTACH_NOISE = True
PCA_FIT_SAMPLE = 50_000
WORDS_SAMPLE = 20_000  # documents the distinctive words of regions are counted on, at most
SAMPLE = 20_000  # documents of a half that neighbours are counted among, at most (a seeded sample past it)
# the log-variance of the classification part of z stands beside the posterior mean, at this weight (0: the mean
# alone): text unlike the training corpus is encoded with more uncertainty (benchmarks/drift_variants.py)
LOGVAR_WEIGHT = 1.4
# what a document's log density ratio comes from: "knn" (its neighbours' corpora in the reduced space) or a
# probabilistic classifier of the two corpora on the whole features, not reduced: "logistic" or "boosted"
SCORER = "knn"
FOLDS = 5  # the discovery half's own classifier scores are out of fold
C = 1.0  # inverse regularisation of the logistic scorer (standardised features)


@dataclass
class DriftRegion:
    id: int
    direction: str  # "over": the new corpus has more here than the reference; "under": less
    new_count: int  # documents of the new corpus in the region (the whole corpus)
    reference_count: int
    new_share: float  # of the new corpus
    reference_share: float  # of the reference
    ratio: float  # new_share / reference_share, measured on the test half
    ratio_low: float  # 95% interval of that ratio (Wilson's for the proportion behind it)
    ratio_high: float
    p_value: float  # binomial test on the test half, one-sided in the region's direction
    flagged: bool
    description: str = ""  # decoded from the region's centre
    words: list[str] = field(default_factory=list)  # distinctive of its documents against the rest
    class_mix: dict[str, float] = field(default_factory=dict)  # predicted classes of its documents (its side's)
    accuracy: float | None = None  # of its new documents that have a label, when any has
    labelled: int = 0  # its new documents that have a label
    new_rows: list[int] = field(default_factory=list)  # its new documents, nearest the centre first
    reference_rows: list[int] = field(default_factory=list)  # its reference documents, nearest the centre first
    nearest_reference: list[int] = field(default_factory=list)  # the reference documents nearest its centre
    x: float = 0.0  # its centre on the reference's map
    y: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def score(self) -> float:
        """How drifted, for ranking: the conservative end of the ratio, in the region's direction."""
        return self.ratio_low if self.direction == "over" else 1.0 / max(self.ratio_high, 1e-12)


@dataclass
class Drift:
    auc: float  # of the cross-fitted score telling new from reference documents (0.5: no difference)
    p_value: float  # Mann-Whitney, of that AUC against 0.5
    new_documents: int
    reference_documents: int
    scores: np.ndarray  # (N_new,) log density ratio of each new document
    region_of: np.ndarray  # (N_new,) region id of each new document (-1: none)
    regions: list[DriftRegion]  # flagged first, most drifted first
    class_mix: dict[str, tuple[float, float]]  # predicted class -> (share in the reference, share in the new corpus)
    new_xy: np.ndarray  # (N_new, 2) the new documents on the reference's map

    @property
    def flagged(self) -> list[DriftRegion]:
        return [r for r in self.regions if r.flagged]

    @property
    def verdict(self) -> str:
        f = self.flagged
        if not f:
            return ("no region of latent space holds significantly more or fewer of the new documents than of the "
                    f"reference (AUC {self.auc:.3f})")
        over = sum(r.direction == "over" for r in f)
        return (f"{len(f)} region{'s' if len(f) > 1 else ''} drifted ({over} over-, {len(f) - over} under-represented "
                f"in the new corpus; AUC {self.auc:.3f})")


def latent_features(mu: np.ndarray, logvar: np.ndarray | None, class_dims: int | None) -> np.ndarray:
    """Each document as drift compares it: its posterior mean and, beside it, the log-variance of the
    classification part of its posterior (the first `class_dims` dimensions) times LOGVAR_WEIGHT."""
    if logvar is None or not LOGVAR_WEIGHT or not class_dims:
        return mu
    return np.hstack([mu, LOGVAR_WEIGHT * logvar[:, :class_dims]]).astype(np.float32)


def reduce(ref_mu: np.ndarray, new_mu: np.ndarray, dims: int | None = None,
           seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Both corpora's documents in the PCA space (`dims`, PCA_DIMS by default) of the pool (fitted on a seeded sample
    of it)."""
    from sklearn.decomposition import PCA

    dims = dims or PCA_DIMS
    pool = np.vstack([ref_mu, new_mu]).astype(np.float32)
    dims = min(dims, pool.shape[1], len(pool))
    rng = np.random.default_rng(seed)
    fit = pool if len(pool) <= PCA_FIT_SAMPLE else pool[rng.choice(len(pool), PCA_FIT_SAMPLE, replace=False)]
    pca = PCA(n_components=dims, random_state=seed).fit(fit)
    out = pca.transform(pool).astype(np.float32)
    return out[: len(ref_mu)], out[len(ref_mu):]


def sample_of(rows: np.ndarray, n: int, seed: int) -> np.ndarray:
    """`rows` as they are when there are at most n, else a seeded sample of n of them, in order."""
    if len(rows) <= n:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))


def _cross_fit(half: np.ndarray, seed: int):
    """For each half h: (rows of the other half to fit on, at most SAMPLE of them, seeded; the mask of half h)."""
    for h in (0, 1):
        yield sample_of(np.flatnonzero(half != h), SAMPLE, seed + h), half == h


def _log_ratio(p: np.ndarray, prior: float) -> np.ndarray:
    """log p_new / p_ref from the probability `p` that a document is new, the `prior` share of new ones taken out."""
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)) - np.log(prior / (1 - prior))


def cross_fitted_scores(z: np.ndarray, is_new: np.ndarray, half: np.ndarray, k: int | None = None,
                        seed: int = 0) -> np.ndarray:
    """Each pooled document's log density ratio, log p_new / p_ref at its z, from its k nearest neighbours in the
    other half of the pool (at most SAMPLE of its documents; the Laplace-smoothed share of new documents among the
    neighbours, against their half's share)."""
    from sklearn.neighbors import NearestNeighbors

    k = k or NEIGHBOURS
    out = np.zeros(len(z), dtype=np.float64)
    for fit, query in _cross_fit(half, seed):
        if not len(fit) or not query.any():
            continue
        kk = min(k, len(fit))
        nn = NearestNeighbors(n_neighbors=kk).fit(z[fit])
        _, idx = nn.kneighbors(z[query])
        pi = float(is_new[fit].mean())
        share = (is_new[fit][idx].sum(1) + pi) / (kk + 1.0)  # one pseudo-neighbour at the half's own share
        out[query] = _log_ratio(share, pi)
    return out


def _classifier(kind: str, seed: int):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
    if kind == "boosted":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=15, l2_regularization=1.0,
                                              early_stopping=True, validation_fraction=0.15, random_state=seed)
    raise ValueError(f"unknown drift scorer {kind!r}")


def classifier_scores(x: np.ndarray, is_new: np.ndarray, half: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Cross-fitted log density ratio from a classifier of the two corpora: each half scored by the classifier
    fitted on the other (at most SAMPLE of its documents)."""
    out = np.zeros(len(x), dtype=np.float64)
    for fit, query in _cross_fit(half, seed):
        y = is_new[fit]
        if not query.any() or y.all() or not y.any():
            continue
        clf = _classifier(kind, seed).fit(x[fit], y)
        out[query] = _log_ratio(clf.predict_proba(x[query])[:, 1], float(y.mean()))
    return out


def out_of_fold_scores(x: np.ndarray, is_new: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Log density ratio of each document by a classifier fitted on the other FOLDS - 1 folds of the same documents."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(x), dtype=np.float64)
    if is_new.all() or not is_new.any() or min(is_new.sum(), (~is_new).sum()) < FOLDS:
        return out
    for fit, query in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, is_new):
        clf = _classifier(kind, seed).fit(x[fit], is_new[fit])
        out[query] = _log_ratio(clf.predict_proba(x[query])[:, 1], float(is_new[fit].mean()))
    return out


def auc_and_p(scores: np.ndarray, is_new: np.ndarray) -> tuple[float, float]:
    from scipy.stats import mannwhitneyu

    a, b = scores[is_new], scores[~is_new]
    if not len(a) or not len(b):
        return 0.5, 1.0
    u, p = mannwhitneyu(a, b, alternative="greater")
    return float(u / (len(a) * len(b))), float(p)


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    w = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - w), min(1.0, c + w)


def _groups(points: np.ndarray, min_size: int) -> list[np.ndarray]:
    """The HDBSCAN groups of `points` (indices into them), largest first."""
    from sklearn.cluster import HDBSCAN

    if len(points) < max(min_size, 2):
        return []
    labels = HDBSCAN(min_cluster_size=min_size, min_samples=MIN_SAMPLES, copy=True).fit_predict(points)
    if labels.max() < 0 and SINGLE_GROUP:
        labels = HDBSCAN(min_cluster_size=min_size, min_samples=MIN_SAMPLES, allow_single_cluster=True,
                         copy=True).fit_predict(points)
    if ATTACH_NOISE and labels.max() >= 0 and (labels < 0).any():
        from sklearn.neighbors import NearestNeighbors

        grouped, noise = np.flatnonzero(labels >= 0), np.flatnonzero(labels < 0)
        _, idx = NearestNeighbors(n_neighbors=1).fit(points[grouped]).kneighbors(points[noise])
        labels = labels.copy()
        labels[noise] = labels[grouped[idx[:, 0]]]
    groups = [np.flatnonzero(labels == c) for c in range(labels.max() + 1)]
    return sorted(groups, key=lambda g: -len(g))


def _ratio(n_new: int, n_ref: int, total_new: int, total_ref: int) -> tuple[float, float, float]:
    """new share / reference share of a region, and its 95% interval from Wilson's for n_new / (n_new + n_ref)."""
    scale = total_ref / max(total_new, 1)
    n = n_new + n_ref
    if n == 0:
        return 1.0, 0.0, math.inf
    lo, hi = wilson(n_new, n)

    def odds(p):
        return p / (1 - p) * scale if p < 1 else math.inf

    return (n_new / max(n_ref, 0.5)) * scale, odds(lo), odds(hi)


def within_scores(z: np.ndarray, is_new: np.ndarray, k: int | None = None) -> np.ndarray:
    """Log density ratio of each document from its k nearest neighbours among the same documents (itself left
    out): the discovery half's own scores, which look at no document of the test half."""
    from sklearn.neighbors import NearestNeighbors

    if len(z) < 2:
        return np.zeros(len(z))
    kk = min(k or NEIGHBOURS, len(z) - 1)
    _, idx = NearestNeighbors(n_neighbors=kk + 1).fit(z).kneighbors(z)
    pi = float(is_new.mean())
    return _log_ratio((is_new[idx[:, 1:]].sum(1) + pi) / (kk + 1.0), pi)


def discover_regions(ref_z: np.ndarray, new_z: np.ndarray, half_ref: np.ndarray, half_new: np.ndarray,
                     seed: int = 0, ref_x: np.ndarray | None = None, new_x: np.ndarray | None = None) -> list[dict]:
    """Regions of drift found on half 0 alone (at most SAMPLE of its documents; see the module's docstring): one dict
    per region with its centre (in the reduced space) and direction; each holds the discovery documents with their
    regions ("discovery"), which `_assign` reads."""
    threshold = math.log(DISCOVERY_RATIO)
    # discovery looks at half 0 alone: its documents' scores come from their neighbours in half 0
    n0_new, n0_ref = int((half_new == 0).sum()), int((half_ref == 0).sum())
    share = min(1.0, SAMPLE / max(n0_new + n0_ref, 1))  # the same share of each corpus' half
    new_rows = sample_of(np.flatnonzero(half_new == 0), max(1, round(share * n0_new)), seed)
    ref_rows = sample_of(np.flatnonzero(half_ref == 0), max(1, round(share * n0_ref)), seed + 1)
    disc = np.vstack([new_z[new_rows], ref_z[ref_rows]])
    disc_new = np.r_[np.ones(len(new_rows), bool), np.zeros(len(ref_rows), bool)]
    if SCORER == "knn" or ref_x is None:
        s = within_scores(disc, disc_new)
    else:
        s = out_of_fold_scores(np.vstack([new_x[new_rows], ref_x[ref_rows]]), disc_new, SCORER, seed)
    label = np.full(len(disc), -1)  # each discovery document's region (-1: none)
    found: list[dict] = []
    for direction, side, own in (("over", disc_new & (s > threshold), disc_new),
                                 ("under", ~disc_new & (-s > threshold), ~disc_new)):
        pick = np.flatnonzero(side)
        for g in _groups(disc[pick], max(MIN_REGION, int(0.01 * own.sum()))):
            label[pick[g]] = len(found)
            found.append({"direction": direction, "centre": disc[pick[g]].mean(0)})
    for r in found:
        r["discovery"] = (disc, label)
    return found


def test_regions(regions: list[dict], region_ref: np.ndarray, region_new: np.ndarray, half_ref: np.ndarray,
                 half_new: np.ndarray) -> None:
    """Test each region on half 1: its new and reference documents there give the ratio of shares, its interval and
    a binomial p-value against the half's share of new documents; flagged when significant (Bonferroni) and strong.
    A document's region depends on where it lies and on the discovery half alone, so under no drift the corpus a
    test-half document comes from is independent of the region it is in."""
    from scipy.stats import binomtest

    test_new, test_ref = half_new == 1, half_ref == 1
    N_new, N_ref = int(test_new.sum()), int(test_ref.sum())
    pi = N_new / max(N_new + N_ref, 1)
    tests = max(len(regions), 1)
    for i, r in enumerate(regions):
        n_new, n_ref = int((region_new[test_new] == i).sum()), int((region_ref[test_ref] == i).sum())
        ratio, lo, hi = _ratio(n_new, n_ref, N_new, N_ref)
        n = n_new + n_ref
        p = 1.0 if n == 0 else binomtest(n_new, n, pi, alternative="greater" if r["direction"] == "over" else "less").pvalue
        strong = lo >= MIN_RATIO if r["direction"] == "over" else hi <= 1 / MIN_RATIO
        r.update(test_new=n_new, test_ref=n_ref, ratio=ratio, ratio_low=lo, ratio_high=hi, p_value=float(p),
                 flagged=bool(p < ALPHA / tests and strong))


def _assign(z: np.ndarray, regions: list[dict]) -> np.ndarray:
    """Region of each document (-1: none): the region more than VOTE_SHARE of its VOTES nearest discovery documents
    belong to, the one with the most votes when two have that many (a discovery document left out of its own vote,
    and kept in the region it was found in). It depends on where the document lies and on the discovery half alone."""
    from sklearn.neighbors import NearestNeighbors

    out = np.full(len(z), -1)
    if not regions or not len(z):
        return out
    disc, label = regions[0]["discovery"]
    k = min(VOTES, len(disc) - 1)
    d, idx = NearestNeighbors(n_neighbors=k + 1).fit(disc).kneighbors(z)
    is_discovery = d[:, 0] == 0
    own = np.where(is_discovery, label[idx[:, 0]], -1)  # a discovery document in a region stays in it
    idx = np.where(is_discovery[:, None], idx[:, 1:], idx[:, :-1])  # and does not vote for itself
    votes = np.stack([(label[idx] == i).sum(1) for i in range(len(regions))], axis=1)  # (N, regions)
    out = np.where(votes.max(1) > VOTE_SHARE * k, votes.argmax(1), -1)
    return np.where(own >= 0, own, out)


def _require_scores(region_of: np.ndarray, scores: np.ndarray, regions: list[dict], least: float) -> np.ndarray:
    """Region membership kept only where the document's own cross-fitted score is past `least` in its region's
    direction (MEMBER_SCORE). Its score comes from the other half, so a test-half document's membership still
    depends on where it lies and on the discovery half alone."""
    out = region_of.copy()
    for i, r in enumerate(regions):
        weak = (out == i) & ((scores < least) if r["direction"] == "over" else (scores > -least))
        out[weak] = -1
    return out


def on_map(reference, mu: np.ndarray, seed: int = 0) -> np.ndarray:
    """Posterior means `mu` placed on `reference`'s map (a CorpusIndex): `place` in the PCA space of both corpora's
    means (the map is of the means, not of drift's features)."""
    ref_z, new_z = reduce(reference.mu, mu, seed=seed)
    return place(ref_z, reference.xy, new_z)


def place(ref_z: np.ndarray, ref_xy: np.ndarray, new_z: np.ndarray, k: int = 10) -> np.ndarray:
    """New documents on the reference's map: inverse-distance weighting of the map positions of their k nearest
    reference documents in the reduced latent space (100,000 placed in seconds)."""
    from sklearn.neighbors import KNeighborsRegressor

    if not len(new_z):
        return np.zeros((0, 2), np.float32)
    k = max(1, min(k, len(ref_z)))
    return KNeighborsRegressor(n_neighbors=k, weights="distance").fit(ref_z, ref_xy).predict(new_z).astype(np.float32)


def measure(ref_mu: np.ndarray, new_mu: np.ndarray, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> dict:
    """The numbers of drift between two corpora's documents (`latent_features`, or posterior means alone), with no
    model: per-document scores, AUC, and the regions (assigned over both whole corpora). What `drift` describes in
    words."""
    say = progress or (lambda step: None)
    say("reducing the latent space")
    ref_z, new_z = reduce(ref_mu, new_mu, seed=seed)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])  # a stream of its own, not seed's
    half_ref, half_new = rng.integers(0, 2, len(ref_z)), rng.integers(0, 2, len(new_z))
    say("density ratio of every document")
    z = np.vstack([ref_z, new_z])
    is_new = np.r_[np.zeros(len(ref_z), bool), np.ones(len(new_z), bool)]
    if SCORER == "knn":
        scores = cross_fitted_scores(z, is_new, np.r_[half_ref, half_new], seed=seed)
    else:
        scores = classifier_scores(np.vstack([ref_mu, new_mu]).astype(np.float32), is_new, np.r_[half_ref, half_new],
                                   SCORER, seed)
    auc, p = auc_and_p(scores, is_new)
    say("finding and testing regions")
    regions = discover_regions(ref_z, new_z, half_ref, half_new, seed, ref_mu, new_mu)
    region_of_ref, region_of_new = _assign(ref_z, regions), _assign(new_z, regions)
    if MEMBER_SCORE is not None:
        region_of_ref = _require_scores(region_of_ref, scores[: len(ref_z)], regions, MEMBER_SCORE)
        region_of_new = _require_scores(region_of_new, scores[len(ref_z):], regions, MEMBER_SCORE)
    test_regions(regions, region_of_ref, region_of_new, half_ref, half_new)
    return {"ref_z": ref_z, "new_z": new_z, "scores_ref": scores[: len(ref_z)], "scores_new": scores[len(ref_z):],
            "auc": auc, "p_value": p, "regions": regions, "region_of_ref": region_of_ref,
            "region_of_new": region_of_new}


def _mix(preds: Sequence[str], labels: list[str]) -> dict[str, float]:
    preds = list(preds)
    return {c: preds.count(c) / max(len(preds), 1) for c in labels}


def drift(explorer, reference, new, seed: int = 0, describe: bool = True,
          progress: Callable[[str], None] | None = None) -> Drift:
    """Drift of the corpus `new` against `reference` (both `CorpusIndex`es of `explorer`'s model): the numbers of
    `measure`, each region described (decoded centre, distinctive words, class mix, accuracy, nearest reference
    documents) and placed on the reference's map; flagged regions first, most drifted first."""
    from .interpret.groups import distinctive_words

    say = progress or (lambda step: None)
    cfg = explorer.model.config
    class_dims = cfg.latent_size - cfg.content_latent_size
    m = measure(latent_features(reference.mu, reference.logvar, class_dims),
                latent_features(new.mu, new.logvar, class_dims), seed=seed, progress=say)
    new_xy = on_map(reference, new.mu, seed)
    labels = explorer.labels
    regions = m["regions"]
    out: list[DriftRegion] = []
    if regions and describe:
        say(f"describing {len(regions)} regions")
    new_df, ref_df = new.df, reference.df
    # distinctive words of each region's documents (its side's) against the rest of both corpora (of large corpora,
    # up to WORDS_SAMPLE documents: every region's first, and a seeded sample of the rest)
    side = np.array([r["direction"] for r in regions] + [""])  # index -1 (no region): ""
    groups = np.r_[np.where(side[m["region_of_ref"]] == "under", m["region_of_ref"], -1),
                   np.where(side[m["region_of_new"]] == "over", m["region_of_new"], -1)]
    vocab = {}
    if describe and regions:
        rows = np.arange(len(groups))
        if len(rows) > WORDS_SAMPLE:
            rng = np.random.default_rng(seed)
            members = np.concatenate([rng.permutation(np.flatnonzero(groups == g))[: WORDS_SAMPLE // (2 * len(regions))]
                                      for g in range(len(regions))])
            rest = np.flatnonzero(groups < 0)
            rows = np.sort(np.r_[members, rng.choice(rest, min(len(rest), WORDS_SAMPLE - len(members)), replace=False)])
        n_ref = len(ref_df)
        texts = [str(ref_df["text"].iat[i]) if i < n_ref else str(new_df["text"].iat[i - n_ref]) for i in rows]
        vocab = distinctive_words(texts, groups[rows], k=8)
    centres_mu = []
    for i, r in enumerate(regions):
        new_rows = np.flatnonzero(m["region_of_new"] == i)
        ref_rows = np.flatnonzero(m["region_of_ref"] == i)
        new_rows = new_rows[np.argsort(np.linalg.norm(m["new_z"][new_rows] - r["centre"], axis=1), kind="stable")]
        ref_rows = ref_rows[np.argsort(np.linalg.norm(m["ref_z"][ref_rows] - r["centre"], axis=1), kind="stable")]
        side_mu = new.mu[new_rows] if r["direction"] == "over" else reference.mu[ref_rows]
        if not len(side_mu):
            side_mu = reference.mu[ref_rows] if len(ref_rows) else new.mu[new_rows]
        centre_mu = side_mu.mean(0) if len(side_mu) else reference.mu.mean(0)
        centres_mu.append(centre_mu)
        side_preds = (new_df["pred"].to_numpy()[new_rows] if r["direction"] == "over" else ref_df["pred"].to_numpy()[ref_rows])
        has_label = new_df["label"].notna().to_numpy() & (new_df["label"].astype(str).to_numpy() != "")
        known = new_rows[has_label[new_rows]]
        acc = float((new_df["label"].to_numpy()[known] == new_df["pred"].to_numpy()[known]).mean()) if len(known) else None
        _, near = reference.map.neighbours(centre_mu[None], k=5)
        side_xy = new_xy[new_rows] if r["direction"] == "over" else reference.xy[ref_rows]  # where its side's documents lie
        if not len(side_xy):
            side_xy = np.vstack([new_xy[new_rows], reference.xy[ref_rows]])
        x, y = side_xy.mean(0) if len(side_xy) else (0.0, 0.0)
        out.append(DriftRegion(
            id=i, direction=r["direction"], new_count=int(len(new_rows)), reference_count=int(len(ref_rows)),
            new_share=len(new_rows) / max(len(new), 1), reference_share=len(ref_rows) / max(len(reference), 1),
            ratio=float(r["ratio"]), ratio_low=float(r["ratio_low"]), ratio_high=float(r["ratio_high"]),
            p_value=float(r["p_value"]), flagged=bool(r["flagged"]), words=vocab.get(i, []),
            class_mix=_mix(side_preds, labels), accuracy=acc, labelled=int(len(known)), new_rows=new_rows.tolist(), reference_rows=ref_rows.tolist(),
            nearest_reference=[int(j) for j in near[0]], x=float(x), y=float(y)))
    if out and describe:
        texts = explorer.decode(np.stack(centres_mu).astype(np.float32))
        for r, t in zip(out, texts):
            r.description = t
    order = sorted((i for i in range(len(out)) if out[i].new_count + out[i].reference_count),
                   key=lambda i: (not out[i].flagged, -out[i].score))
    remap = {old: new_id for new_id, old in enumerate(order)}
    out = [out[i] for i in order]
    for r in out:
        r.id = remap[r.id]
    region_of = np.array([remap.get(int(v), -1) if v >= 0 else -1 for v in m["region_of_new"]], dtype=int)
    mix_ref, mix_new = _mix(ref_df["pred"], labels), _mix(new_df["pred"], labels)
    return Drift(auc=m["auc"], p_value=m["p_value"], new_documents=len(new), reference_documents=len(reference),
                 scores=m["scores_new"].astype(np.float32), region_of=region_of, regions=out,
                 class_mix={c: (mix_ref[c], mix_new[c]) for c in labels}, new_xy=new_xy)
