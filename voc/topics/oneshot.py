"""One-shot topics of a set of texts (``voc topics fit``): centre, reduce, cluster once, then give outliers to the
nearest topic they are close enough to.

The nightly registry is built for a stream (known topics first, the residue clustered, small nights); a file fitted
at once is one large night with no known topics, where that path calls most documents noise. Here:

1. unit vectors are centred on their own mean (the embedder's common direction removed) and re-normalised;
2. PCA to ``FIT_DIM`` dimensions (BERTopic reduces to 5 with UMAP; umap-learn is not a dependency);
3. HDBSCAN with ``min_cluster_size`` scaled to the data (``FIT_SIZE_SHARE`` of the documents, at least the
   configured value), leaf selection so big themes are not lumped;
4. a few rounds of spherical k-means from those topics: every document (outliers included) joins the most similar
   topic centroid when it clears the calibrated null threshold (what a random group of documents scores,
   :func:`voc.topics.space._null_threshold`), else it is noise; centroids follow their members.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from voc.config import TopicSettings
from voc.records import TopicAssignment
from voc.topics.clustering import NOISE, group_indices, label_clusters, representative_texts, topic_label

FIT_DIM = 10
FIT_SIZE_SHARE = 0.005  # min_cluster_size = this share of the documents (at least settings.min_cluster_size)
FIT_MIN_SAMPLES = 5
REFINE_ROUNDS = 5  # nearest-centroid rounds after HDBSCAN (see _refine)


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def one_shot_labels(vectors: np.ndarray, settings: TopicSettings, seed: int = 42,
                    dim: int = FIT_DIM, size_share: float = FIT_SIZE_SHARE,
                    min_samples: int | None = FIT_MIN_SAMPLES, selection: str = "leaf",
                    reassign: bool = True) -> tuple[np.ndarray, dict[str, float]]:
    """Cluster labels (``-1`` = noise) for ``vectors`` fitted at once, and what was used (``options``)."""
    import hdbscan
    from sklearn.decomposition import PCA

    from voc.topics.space import _null_threshold, _Space

    x = _unit(np.asarray(vectors, dtype=np.float64))
    n = len(x)
    mcs = max(settings.min_cluster_size, int(round(size_share * n)))
    options = {"reduce_dim": dim, "min_cluster_size": mcs, "min_samples": min_samples or mcs, "selection": selection}
    if n < max(mcs, 2) + 1:
        return np.full(n, NOISE, dtype=int), options
    mean = x.mean(axis=0)
    space = _Space(mean)
    centred = space(x)
    reduced = centred if not dim or dim >= centred.shape[1] or n <= dim + 1 else \
        PCA(n_components=dim, random_state=seed, svd_solver="full").fit_transform(centred)
    labels = hdbscan.HDBSCAN(min_cluster_size=mcs, min_samples=min_samples, cluster_selection_method=selection,
                             core_dist_n_jobs=1).fit_predict(reduced).astype(int)
    if reassign and labels.max() >= 0:
        threshold = _null_threshold(x, space, settings.min_cluster_size, settings.assign_percentile, seed)
        labels = _refine(centred, labels, threshold if threshold is not None else -1.0)
        options["outlier_threshold"] = round(float(threshold), 4) if threshold is not None else None
    return labels, options


def _refine(centred: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """A few rounds of spherical k-means started from HDBSCAN's topics: every document (outliers included) goes to
    the most similar topic centroid when it clears ``threshold``, else it is noise; centroids are recomputed from
    the members. Topics that lose every member disappear (labels are renumbered densely)."""
    for _ in range(REFINE_ROUNDS):
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
