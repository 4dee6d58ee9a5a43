"""Near-real-time placement: arriving complaints joined to the topics of a stored registry snapshot, assign-only.

No clustering, no new topics, no registry change: a document joins the nearest active topic when it clears the same
join threshold, in the same similarity space, that :func:`voc.topics.update_topics` uses.
"""

from __future__ import annotations

import numpy as np

from voc.config import TopicSettings

# _Space/_unit: the registry's own similarity space, so live and nightly numbers agree
from voc.topics.registry import ACTIVE, TopicRegistry
from voc.topics.space import _Space, _unit

__all__ = ["assign_to_topics"]


def assign_to_topics(registry: TopicRegistry, vectors: np.ndarray, settings: TopicSettings) -> list[tuple[str | None, float]]:
    """(topic id or None, similarity) per row of ``vectors``, against the registry's active topics.

    Mirrors step 1 of :func:`voc.topics.update_topics` on the stored registry: rows are unit-normalised; once the
    registry is calibrated (centred space) cosines are taken after subtracting its running mean (and its removed
    components) and a document must reach the median calibration (or the topic's own, higher, bar); before that,
    raw cosine >= ``settings.assign_threshold``. The night's own documents are not folded into the mean here, so a
    similarity can differ from the nightly one by the shift one night's documents give the running mean.
    """
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    active = [t for t in registry.topics if t.status == ACTIVE]
    if not len(vectors) or not active:
        return [(None, 0.0)] * len(vectors)
    units = _unit(vectors.copy())
    pool = list(registry.calibration) if settings.centre else []
    threshold = float(np.median(pool)) if pool and registry.mean is not None else None
    if threshold is not None:
        comps = np.asarray(registry.components, dtype=np.float64) if registry.components else None
        space = _Space(np.asarray(registry.mean, dtype=np.float64), comps)
        limits = np.asarray([max(threshold, t.threshold) if t.threshold is not None else threshold for t in active])
    else:
        space = _Space()
        limits = np.full(len(active), settings.assign_threshold)
    cents = space(np.stack([np.asarray(t.centroid, dtype=np.float64) for t in active]))
    sim = space(units) @ cents.T
    best = np.argmax(sim, axis=1)
    out: list[tuple[str | None, float]] = []
    for i, b in enumerate(best):
        s = float(sim[i, b])
        out.append((active[b].id, round(s, 4)) if s >= limits[b] else (None, round(s, 4)))
    return out
