"""One-shot topics of a set of texts (``voc topics fit``): centre, reduce, cluster once, then give outliers to the
nearest topic they are close enough to.

The nightly registry is built for a stream (known topics first, the residue clustered, small nights); a file fitted
at once is one large night with no known topics, where that path calls most documents noise. Here:

1. unit vectors are centred on their own mean (the embedder's common direction removed) and re-normalised;
2. PCA to ``FIT_DIM`` dimensions, or (``topics.fit_reducer: umap``) UMAP to ``UMAP_DIM`` like BERTopic (cosine,
   15 neighbours, min_dist 0, seeded: repeatable; umap-learn imported only here, PCA with a warning when it is
   not importable). PCA is the default: over three shopping regimes and CCKS it measured as good or better
   (bench/topics/README.md, "UMAP in voc topics fit");
3. HDBSCAN with ``min_cluster_size`` scaled to the data (``FIT_SIZE_SHARE`` of the documents, at least the
   configured value), leaf selection so big themes are not lumped;
4. a few rounds of spherical k-means from those topics: every document (outliers included) joins the most similar
   topic centroid when it clears the calibrated null threshold (what a random group of documents scores,
   :func:`voc.topics.space._null_threshold`), else it is noise; centroids follow their members.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np

from voc.config import TopicSettings
from voc.records import TopicAssignment
from voc.topics.clustering import NOISE, group_indices, label_clusters, representative_texts, topic_label

log = logging.getLogger(__name__)

FIT_DIM = 10  # PCA dimensions
UMAP_DIM = 5
UMAP_NEIGHBORS = 15
FIT_SIZE_SHARE = 0.005  # min_cluster_size = this share of the documents (at least settings.min_cluster_size)
FIT_MIN_SAMPLES = 5
REFINE_ROUNDS = 5  # nearest-centroid rounds after HDBSCAN (see _refine)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def _umap(x: np.ndarray, dim: int, n_neighbors: int, seed: int) -> np.ndarray | None:
    from voc.topics.clustering import umap_reduce

    return umap_reduce(x, dim, n_neighbors, seed)


def one_shot_labels(vectors: np.ndarray, settings: TopicSettings, seed: int = 42,
                    dim: int | None = None, size_share: float = FIT_SIZE_SHARE,
                    min_samples: int | None = FIT_MIN_SAMPLES, selection: str = "leaf",
                    reassign: bool = True, reducer: str | None = None, n_neighbors: int = UMAP_NEIGHBORS,
                    min_cluster_size: int | None = None, centre_input: bool = True,
                    refine_rounds: int | None = None, merge: float | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Cluster labels (``-1`` = noise) for ``vectors`` fitted at once, and what was used (``options``).

    ``reducer`` defaults to ``settings.fit_reducer``; ``dim`` to ``UMAP_DIM`` for UMAP, ``FIT_DIM`` for PCA;
    ``min_cluster_size`` (when given) replaces the share rule; ``merge`` (a share of the way from the outlier
    threshold to 1) merges topics whose centroids are at least that similar, then refines again."""
    import hdbscan

    from voc.topics.space import _null_threshold, _Space

    x = _unit(np.asarray(vectors, dtype=np.float64))
    n = len(x)
    mcs = min_cluster_size or max(settings.min_cluster_size, int(round(size_share * n)))
    reducer = reducer or settings.fit_reducer
    if reducer == "umap" and n <= max(n_neighbors, (dim or UMAP_DIM) + 1) + 1:
        reducer = "pca"  # too few documents for a neighbour graph
    if dim is None:
        dim = UMAP_DIM if reducer == "umap" else FIT_DIM
    options = {"reducer": reducer, "reduce_dim": dim, "min_cluster_size": mcs, "min_samples": min_samples or mcs,
               "selection": selection}
    if n < max(mcs, 2) + 1:
        return np.full(n, NOISE, dtype=int), options
    mean = x.mean(axis=0)
    space = _Space(mean)
    centred = space(x)
    reduced = None
    if reducer == "umap":
        reduced = _umap(centred if centre_input else x, dim, n_neighbors, seed)
        if reduced is None:
            reducer, dim = "pca", FIT_DIM
            options.update(reducer="pca", reduce_dim=dim, umap_missing=True)
        else:
            options["n_neighbors"] = min(n_neighbors, n - 1)
    if reduced is None:
        from sklearn.decomposition import PCA

        reduced = centred if not dim or dim >= centred.shape[1] or n <= dim + 1 else \
            PCA(n_components=dim, random_state=seed, svd_solver="full").fit_transform(centred)
    labels = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=min_samples, cluster_selection_method=selection,
                             core_dist_n_jobs=1).fit_predict(reduced).astype(int)
    if reassign and labels.max() >= 0:
        threshold = _null_threshold(x, space, settings.min_cluster_size, settings.assign_percentile, seed)
        labels = _refine(centred, labels, threshold if threshold is not None else -1.0,
                         REFINE_ROUNDS if refine_rounds is None else refine_rounds)
        options["outlier_threshold"] = round(float(threshold), 4) if threshold is not None else None
        if merge is not None and threshold is not None:
            merge_at = threshold + merge * (1.0 - threshold)
            labels = _refine(centred, _merge_close(centred, labels, merge_at), threshold,
                             REFINE_ROUNDS if refine_rounds is None else refine_rounds)
            options["merge_threshold"] = round(float(merge_at), 4)
    return labels, options


def _merge_close(centred: np.ndarray, labels: np.ndarray, merge_at: float) -> np.ndarray:
    """Merge the two topics with the most similar centroids (centred space) while that similarity is at least
    ``merge_at``; the merged centroid is the mean of both topics' members."""
    labels = labels.copy()
    ks = sorted(set(labels.tolist()) - {NOISE})
    sums = {k: centred[labels == k].sum(axis=0) for k in ks}
    while len(sums) > 1:
        keys = list(sums)
        cents = _unit(np.stack([sums[k] for k in keys]))
        sim = cents @ cents.T
        np.fill_diagonal(sim, -np.inf)
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[a, b] < merge_at:
            break
        keep, gone = keys[min(a, b)], keys[max(a, b)]
        sums[keep] = sums[keep] + sums.pop(gone)
        labels[labels == gone] = keep
    return labels


def _refine(centred: np.ndarray, labels: np.ndarray, threshold: float, rounds: int = REFINE_ROUNDS) -> np.ndarray:
    """A few rounds of spherical k-means started from HDBSCAN's topics: every document (outliers included) goes to
    the most similar topic centroid when it clears ``threshold``, else it is noise; centroids are recomputed from
    the members. Topics that lose every member disappear (labels are renumbered densely)."""
    for _ in range(rounds):
        ks = [k for k in range(labels.max() + 1) if np.any(labels == k)]
        if not ks:
            break
        cents = _unit(np.stack([centred[labels == k].mean(axis=0) for k in ks]))
        sim = centred @ cents.T
        new = np.where(sim.max(axis=1) >= threshold, np.asarray(ks)[np.argmax(sim, axis=1)], NOISE)
        if np.array_equal(new, labels):
            break
        labels = new
    kept = sorted(set(labels.tolist()) - {NOISE})
    remap = {k: r for r, k in enumerate(kept)}
    return np.asarray([remap.get(k, NOISE) for k in labels.tolist()], dtype=int)


def fit_once(ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray, settings: TopicSettings,
             day: dt.date, seed: int = 42, embedder_name: str = "") -> object:
    """A :class:`voc.topics.TopicRunResult` for texts fitted at once: topics ``T0001``… (largest first), each
    document's topic (noise unassigned), keywords by c-TF-IDF and examples nearest each centroid."""
    from voc.semantic.tokens import tokenize_many
    from voc.topics.registry import Topic, TopicEvent, TopicRegistry, TopicRunResult

    vectors = _unit(np.asarray(vectors, dtype=np.float64))
    labels, options = one_shot_labels(vectors, settings, seed)
    by = group_indices(list(labels))
    order = sorted((k for k in by if k != NOISE), key=lambda k: (-len(by[k]), by[k][0]))
    ids_of = {k: f"T{r + 1:04d}" for r, k in enumerate(order)}
    keywords = label_clusters(tokenize_many(list(texts)), list(labels), top_n=8)
    mean = vectors.mean(axis=0)
    topics, events, assignments, examples = [], [], [], {}
    for k in order:
        idx = by[k]
        tid = ids_of[k]
        cent = vectors[idx].mean(axis=0)
        centred = _unit(vectors[idx] - mean)
        ucent = _unit(cent - mean)
        ex = tuple(representative_texts([texts[i] for i in idx], centred, ucent, settings.examples))
        examples[tid] = ex
        kws = tuple(keywords.get(k, []))
        topics.append(Topic(tid, topic_label(kws), kws, tuple(float(v) for v in cent), len(idx), day, day,
                            examples=ex, embedder=embedder_name))
        events.append(TopicEvent(day, "created", tid, None, len(idx), None, 1))
        sims = centred @ ucent
        assignments += [TopicAssignment(ids[i], tid, round(float(s), 4)) for i, s in zip(idx, sims, strict=True)]
    registry = TopicRegistry(tuple(topics), len(topics) + 1, tuple(events), embedder_name,
                             tuple(float(v) for v in mean), len(vectors))
    unassigned = [ids[i] for i in by.get(NOISE, [])]
    stats = {"docs": len(ids), "clusters": len(order), "unassigned": len(unassigned),
             "noise_share": round(len(unassigned) / max(len(ids), 1), 4), "options": options}
    return TopicRunResult(sorted(assignments, key=lambda a: a.interaction_id), list(topics), registry, unassigned,
                          examples, {t.id: t.size for t in topics}, stats)
