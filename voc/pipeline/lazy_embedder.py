"""Embedders that load their model only when a vector is missing from the store's cache (issue 22).

The store's vector cache is keyed by embedder *name* + text (``voc.store.analytics.embedding_key``), so a job needs
the model itself only for the texts no stage has embedded yet; after the ``embed`` stage (:mod:`voc.pipeline.embed`)
that is none, and loading e5 costs seconds and hundreds of MB. :func:`embedder_name_for` gives a backend's cache
name without loading anything; :class:`LazyEmbedder` carries that name and the dimension, and loads the model on the
first :meth:`LazyEmbedder.embed` that has texts (checking that the loaded model gives its vectors the same name).
The topics, routing and embed stages and ``voc watch`` take their embedders through :func:`lazy_embedder`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# What e5 is known to be without loading it: the name voc.semantic.embedders.E5Embedder gives its vectors
# ("e5-small-q4:<variant>:<prefix>": variant original, prefix query) and its dimension.
E5_NAME = "e5-small-q4:original:query"
E5_DIM = 384


def embedder_name_for(kind: str) -> str | None:
    """The name the backend ``kind`` (a ``voc.semantic`` backend: e5, e5-static, tfidf, sentence-transformers)
    gives its vectors, i.e. its namespace in the store's vector cache, known without loading a model; None where
    only the loaded backend knows it (e5-static names its vectors by a digest of its table, sentence-transformers
    learns its dimension from the model, tfidf its name from tonight's fit: those are loaded at once)."""
    return E5_NAME if kind == "e5" else None


def _dim_for(kind: str) -> int | None:
    return E5_DIM if kind == "e5" else None


class LazyEmbedder:
    """An embedder with a known ``name`` and ``dim`` whose model ``load()`` is called on the first :meth:`embed`
    with texts (once); everything that only looks vectors up in the cache never loads it."""

    fitted = True

    def __init__(self, name: str, dim: int, load: Callable[[], Any]) -> None:
        self.name = name
        self.dim = dim
        self._load = load
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def model(self) -> Any:
        """The loaded embedder (loading it now if needed). Its name must be the one the cache was read with: a
        different one would file its vectors under another model's name, so that raises."""
        if self._model is None:
            model = self._load()
            if model.name != self.name:
                raise ValueError(f"the embedder loaded as {model.name!r}, but its vectors were looked up as "
                                 f"{self.name!r}: voc.pipeline.lazy_embedder.embedder_name_for is out of date")
            self._model = model
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model().embed(texts)

    def __repr__(self) -> str:
        return f"LazyEmbedder({self.name!r}, loaded={self.loaded})"


def lazy_embedder(kind: str, load: Callable[[], Any]) -> Any:
    """The embedder ``load()`` returns for backend ``kind``, loaded on first use where its name is known without
    loading it (:func:`embedder_name_for`), else ``load()`` now."""
    name, dim = embedder_name_for(kind), _dim_for(kind)
    if name is None or dim is None:
        return load()
    return LazyEmbedder(name, dim, load)
