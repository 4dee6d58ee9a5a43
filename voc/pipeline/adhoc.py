"""Ad-hoc entry points for the CLI's tools (``voc redact/segment/sentiment/route/transcribe``, ``voc qa score``,
``voc topics fit``, ``voc models``): the stages' public functions, over files and texts, with nothing stored.

The CLI and the web app reach stage code only through :mod:`voc.pipeline`; this module is that door for work that
needs no store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from voc.config import Settings
from voc.ingest.inbox import decode_table_bytes
from voc.qa import ScriptError, load_scripts
from voc.qa import score_call as score_qa
from voc.routing import DepartmentConfigError, build_router, load_departments, route_texts
from voc.sentiment import escalation_words_in, get_scorer, label_for
from voc.sentiment import predict as predict_sentiment
from voc.sentiment.e5 import batched_vectors as sentiment_vectors
from voc.text import normalize, redact, redact_lines, segment
from voc.text.segment import domain_vocabulary
from voc.transcribe import AudioError, ModelError, get_engine, role_swap_warning, transcript_to_json
from voc.transcribe.jsonio import TranscriptFormatError, transcript_from_json
from voc.transcribe.models import fetch_default_model, list_models

__all__ = [
    "predict_sentiment",
    "AudioError",
    "DepartmentConfigError",
    "ModelError",
    "ScriptError",
    "TranscriptFormatError",
    "build_router",
    "decode_table_bytes",
    "distill_static",
    "escalation_words_in",
    "fetch_default_model",
    "fit_topics",
    "get_engine",
    "get_scorer",
    "label_for",
    "list_models",
    "load_departments",
    "load_scripts",
    "normalize",
    "redact",
    "redact_lines",
    "role_swap_warning",
    "route_texts",
    "score_qa",
    "segment",
    "sentiment_vectors",
    "transcript_from_json",
    "transcript_to_json",
]


def fit_topics(settings: Settings, texts: Sequence[str], day: dt.date) -> Any:
    """Topics of ``texts`` alone, fitted at once (``voc topics fit``; :mod:`voc.topics.oneshot`); None for no texts.

    Document ids are ``L<index>`` of ``texts``. With the tfidf embedder the vector space is this file's own words.
    """
    from voc.semantic import TfidfSvdEmbedder, embed_with_cache, get_embedder, resolve_embedder_name
    from voc.topics.oneshot import fit_once

    todo = [i for i, t in enumerate(texts) if t.strip()]
    if not todo:
        return None
    docs = [texts[i].strip() for i in todo]
    if resolve_embedder_name(settings.topics) == "tfidf":  # a space of this file's own words, not the process's
        embedder = TfidfSvdEmbedder(seed=settings.seed)
        embedder.fit(docs)
    else:
        embedder = get_embedder(settings.topics, settings.seed, settings.models_dir)
    limit = settings.limits.embed_max_chars
    vectors = embed_with_cache(embedder, [d[:limit] if limit else d for d in docs], None)
    return fit_once([f"L{i:07d}" for i in todo], docs, vectors, settings.topics, day, seed=settings.seed,
                    embedder_name=embedder.name)


def distill_static(settings: Settings, vocab_size: int = 50_000, dim: int = 256, progress: Any = None,
                   corpus: Sequence[str] = (), min_count: int = 3) -> Any:
    """Build the e5-static word table (``voc models distill``): the top ``vocab_size`` jieba words, common
    characters, the domain dictionary (shipped, ``text.user_dict``, ``text.domain_terms``) and the words of
    ``corpus`` (your own texts) seen ``min_count`` times that these lack, each through e5 once."""
    from voc.semantic.static import TABLE_DIR, build_static, corpus_words, default_vocab

    vocab = default_vocab(size=vocab_size, domain_words=domain_vocabulary(settings.text))
    shares = corpus_words(corpus, vocab, min_count=min_count) if corpus else None
    target = settings.topics.static_table or settings.models_dir / TABLE_DIR
    return build_static(vocab + list(shares or ()), target, dim=dim, progress=progress, shares=shares)
