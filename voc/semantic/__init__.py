"""Meaning shared by every judgment: text embedders behind one protocol, chosen by configuration in one registry,
a vector cache, and the jieba tokens used for labels and TF-IDF.

Stages import this package (never each other); backends load on first use and are cached per process.
"""

from __future__ import annotations

import functools
import logging

from voc.semantic.embedders import (
    AUTO_EMBEDDER,
    BACKENDS,
    E5Embedder,
    Embedder,
    EmbeddingCache,
    SentenceTransformerEmbedder,
    TfidfSvdEmbedder,
    embed_with_cache,
    get_embedder,
    load_embedder,
    minilm_model_path,
    resolve_embedder_name,
    text_hash,
)

log = logging.getLogger(__name__)

__all__ = [
    "AUTO_EMBEDDER",
    "BACKENDS",
    "E5Embedder",
    "Embedder",
    "EmbeddingCache",
    "SentenceTransformerEmbedder",
    "TfidfSvdEmbedder",
    "embed_with_cache",
    "get_embedder",
    "load_embedder",
    "minilm_model_path",
    "qa_embedder",
    "resolve_embedder_name",
    "text_hash",
]


@functools.lru_cache(maxsize=1)
def qa_embedder():
    """The bundled multilingual-e5-small for script phrases and agent turns (``qa.semantic_matching``), loaded once.

    "passage" on both sides: script lines and utterances are the same kind of text. Returns a callable
    ``embed(list[str]) -> (n, d) array``, what :class:`voc.qa.SemanticMatcher` takes.
    """
    from voc.semantic.embedders import E5Embedder

    model = E5Embedder(prefix="passage")
    log.info("loaded e5 passage embedder (%s engine)", model.engine)
    return model.embed
