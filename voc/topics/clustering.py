"""Clustering of embeddings (optional PCA, then HDBSCAN), c-TF-IDF labels over jieba tokens, representative texts."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voc.config import TopicSettings

log = logging.getLogger(__name__)

NOISE = -1


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """HDBSCAN labels (``-1`` = noise) for each input row, with the options that produced them."""

    labels: np.ndarray
    n_clusters: int
    noise_share: float
    options: dict[str, Any] = field(default_factory=dict)


def umap_reduce(vectors: np.ndarray, dim: int, n_neighbors: int, seed: int) -> np.ndarray | None:
    """``vectors`` reduced by UMAP (cosine, min_dist 0, fixed ``seed``: single-threaded and repeatable), or None
    when umap-learn is not importable (the caller falls back to PCA, with a warning). umap-learn is imported here
    only: importing it costs 1-14 s (numba), its first fit in a process ~8 s of JIT compilation."""
    try:
        from umap import UMAP
    except ImportError as exc:
        log.warning("topics: umap-learn is not importable (%s); reducing with PCA instead", exc)
        return None
    import warnings

    with warnings.catch_warnings():  # "n_jobs overridden to 1 by setting random_state": wanted, for repeatability
        warnings.simplefilter("ignore", UserWarning)
        reducer = UMAP(n_neighbors=min(n_neighbors, len(vectors) - 1), n_components=dim, min_dist=0.0,
                       metric="cosine", random_state=seed, n_jobs=1, low_memory=True)
        return np.asarray(reducer.fit_transform(np.asarray(vectors, dtype=np.float32)), dtype=np.float64)


UMAP_MIN_DOCS = 30  # fewer documents: PCA (a 15-neighbour graph of a handful of points is no structure)


def reduce_dimensions(vectors: np.ndarray, dim: int, seed: int, method: str = "pca",
                      n_neighbors: int = 15) -> np.ndarray:
    """PCA (or UMAP, ``method="umap"``, from ``UMAP_MIN_DOCS`` documents on) to ``dim`` dimensions (whitening
    off); returns the input when ``dim`` is 0 or not smaller."""
    n, d = vectors.shape
    if dim <= 0 or dim >= d or n <= dim + 1:
        return vectors
    if method == "umap" and n >= UMAP_MIN_DOCS:
        reduced = umap_reduce(vectors, dim, n_neighbors, seed)
        if reduced is not None:
            return reduced.astype(np.float32)
    from sklearn.decomposition import PCA

    return PCA(n_components=dim, random_state=seed, svd_solver="full").fit_transform(vectors).astype(np.float32)


def cluster_vectors(
    vectors: np.ndarray,
    settings: TopicSettings,
    seed: int = 42,
    selection: str = "eom",
    allow_single_cluster: bool = False,
) -> ClusterResult:
    """Reduce (PCA ``settings.reduce_dim``) then cluster with HDBSCAN.

    Without the reduction HDBSCAN calls most 384-d sentence vectors noise (see bench/topics/README.md).
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    n = len(vectors)
    options = {
        "reducer": settings.reducer,
        "reduce_dim": settings.reduce_dim,
        "min_cluster_size": settings.min_cluster_size,
        "min_samples": settings.min_samples,
        "selection": selection,
        "allow_single_cluster": allow_single_cluster,
        "seed": seed,
    }
    if n < max(settings.min_cluster_size, 2):
        return ClusterResult(np.full(n, NOISE, dtype=int), 0, 1.0 if n else 0.0, options)
    import hdbscan

    reduced = reduce_dimensions(vectors, settings.reduce_dim, seed, settings.reducer)
    clusterer = hdbscan.HDBSCAN(
        min_cluster_size=settings.min_cluster_size,
        min_samples=settings.min_samples,
        metric="euclidean",
        cluster_selection_method=selection,
        allow_single_cluster=allow_single_cluster,
        core_dist_n_jobs=1,  # the pipeline decides parallelism; results do not depend on it
    )
    labels = clusterer.fit_predict(reduced.astype(np.float64)).astype(int)
    n_clusters = int(labels.max() + 1) if n else 0
    noise = float(np.mean(labels == NOISE)) if n else 0.0
    log.debug("hdbscan: %d docs -> %d clusters, %.0f%% noise", n, n_clusters, 100 * noise)
    return ClusterResult(labels, n_clusters, noise, options)


def label_clusters(
    tokens: Sequence[Sequence[str]],
    groups: Sequence[Hashable],
    top_n: int = 5,
    skip: Hashable = NOISE,
) -> dict[Hashable, list[str]]:
    """Top words per group by class-based TF-IDF (BERTopic's c-TF-IDF): tf within the group x log(1 + A / f).

    ``A`` is the mean number of words per group and ``f`` the word's frequency over all groups; the ``skip``
    group (noise) still counts as background but gets no label.
    """
    per_group: dict[Hashable, Counter[str]] = {}
    for toks, g in zip(tokens, groups, strict=True):
        per_group.setdefault(g, Counter()).update(toks)
    total = Counter[str]()
    for c in per_group.values():
        total.update(c)
    if not total:
        return {g: [] for g in per_group if g != skip}
    avg_words = sum(total.values()) / len(per_group)
    out: dict[Hashable, list[str]] = {}
    for g, counts in per_group.items():
        if g == skip:
            continue
        size = sum(counts.values()) or 1
        scored = [(c / size * math.log(1 + avg_words / total[w]), w) for w, c in counts.items() if c >= 1]
        scored.sort(key=lambda sw: (-sw[0], sw[1]))  # ties break by the word, for determinism
        out[g] = [w for _, w in scored[:top_n]]
    return out


def topic_label(keywords: Sequence[str], n: int = 3) -> str:
    return "/".join(keywords[:n]) if keywords else "(no words)"


def representative_texts(
    texts: Sequence[str], vectors: np.ndarray, centroid: np.ndarray, k: int = 3
) -> list[str]:
    """The ``k`` distinct texts nearest the centroid (texts arrive redacted; near-duplicates dropped)."""
    if not len(texts):
        return []
    c = np.asarray(centroid, dtype=np.float32)
    c = c / (np.linalg.norm(c) or 1.0)
    order = np.argsort(-(np.asarray(vectors) @ c), kind="stable")
    seen: set[str] = set()
    out: list[str] = []
    for i in order:
        key = "".join(ch for ch in texts[i] if ch.isalnum())
        if key in seen:
            continue
        seen.add(key)
        out.append(texts[i])
        if len(out) == k:
            break
    return out


def centroid_of(vectors: np.ndarray) -> np.ndarray:
    return np.asarray(vectors, dtype=np.float64).mean(axis=0)


def group_indices(groups: Sequence[Hashable]) -> Mapping[Hashable, list[int]]:
    out: dict[Hashable, list[int]] = {}
    for i, g in enumerate(groups):
        out.setdefault(g, []).append(i)
    return out
