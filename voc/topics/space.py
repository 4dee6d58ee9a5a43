"""The similarity space topics live in: unit vectors, raw or centred on the registry's running mean (with its top
components removed), and the calibration of the join threshold against random groups of documents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from voc.semantic.embedders import Embedder, EmbeddingCache, embed_with_cache

if TYPE_CHECKING:
    from voc.topics.registry import TopicDoc

# The centred join threshold is the median of the last this many nights' calibrations.
CALIBRATION_NIGHTS = 30
# Calibration samples per night: random groups, and documents scored against each group's centroid.
NULL_GROUPS = 200
NULL_PROBES = 20


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    n[n == 0] = 1.0
    return x / n


def _doc_vectors(
    docs: Sequence[TopicDoc], embedder: Embedder | None, cache: EmbeddingCache | None
) -> np.ndarray:
    missing = [i for i, d in enumerate(docs) if d.vector is None]
    if missing and embedder is None:
        raise ValueError(
            f"{len(missing)} TopicDoc(s) have no vector (first: {docs[missing[0]].interaction_id}); "
            "pass an embedder or precomputed vectors"
        )
    dims = {len(d.vector) for d in docs if d.vector is not None}
    if len(dims) > 1:
        raise ValueError(f"TopicDoc vectors have different lengths: {sorted(dims)}")
    embedded = embed_with_cache(embedder, [docs[i].text for i in missing], cache) if missing else None
    dim = dims.pop() if dims else embedded.shape[1]
    if embedded is not None and embedded.shape[1] != dim:
        raise ValueError(f"precomputed vectors have {dim} dims but {embedder.name} makes {embedded.shape[1]}")
    out = np.zeros((len(docs), dim), dtype=np.float32)
    if embedded is not None:
        out[missing] = embedded
    for i, d in enumerate(docs):
        if d.vector is not None:
            out[i] = np.asarray(d.vector, dtype=np.float32)
    return _unit(out)


class _Space:
    """Where cosines are taken: raw, or after subtracting the registry's mean (and its top components).

    Contextual embedders are anisotropic: e5 puts any two Chinese texts at cosine 0.92-0.96, so a raw
    threshold sits in a sliver of the scale and the mean of mixed documents (the global mean) is "similar"
    to almost everything. Centring removes that common direction; centroids stay raw means (the mean of
    centred vectors is the centred mean), so the mean can keep moving without rewriting them.
    """

    def __init__(self, mean: np.ndarray | None = None, components: np.ndarray | None = None) -> None:
        self.mean = mean
        self.components = components if components is not None and len(components) else None

    @property
    def centred(self) -> bool:
        return self.mean is not None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Unit rows of ``x`` (raw vectors or raw centroids) in this space."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if self.mean is None:
            return _unit(x)
        x = x - self.mean
        if self.components is not None:
            x = x - (x @ self.components.T) @ self.components
        return _unit(x)


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else 0.0


def _null_threshold(vectors: np.ndarray, space: _Space, group: int, q: float, seed: int) -> float | None:
    """The ``q`` percentile of documents' cosine to the centroid of ``group`` *random* other documents.

    A random group is what a "topic" of unrelated complaints looks like; a document should be clearly
    closer to a real topic than that. None when the night has too few documents to sample from.
    """
    n = len(vectors)
    if n < group + 5:
        return None
    rng = np.random.default_rng(seed)
    x = space(vectors)
    sims = []
    for _ in range(NULL_GROUPS):
        pick = rng.permutation(n)
        cent = space(vectors[pick[:group]].astype(np.float64).mean(axis=0))[0]
        sims.append(x[pick[group : group + NULL_PROBES]] @ cent)
    return _percentile(np.concatenate(sims), q)


def _loo_similarity(members: np.ndarray, space: _Space) -> np.ndarray:
    """Each member's cosine to the centroid of the *other* members (in ``space``).

    A member is part of its own centroid, which flatters it in small clusters; tomorrow's documents are
    not, so thresholds are calibrated on these leave-one-out similarities.
    """
    x = np.asarray(members, dtype=np.float64)
    if len(x) < 2:
        return np.ones(len(x))
    others = (x.sum(axis=0, keepdims=True) - x) / (len(x) - 1)
    return np.sum(space(x) * space(others), axis=1)
