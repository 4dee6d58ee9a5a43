"""Pick a scorer from settings; each distinct configuration is built once per process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from voc.sentiment.base import Scorer

if TYPE_CHECKING:
    from voc.config import SentimentSettings
    from voc.sentiment.e5 import Vectors


@functools.lru_cache(maxsize=8)
def _build(backend: str, model_path: Path | None, st_model: str | None, e5_band: float | None = None) -> Scorer:
    from voc.sentiment.domain import ServiceDomainScorer

    if backend == "model" or (backend == "auto" and model_path is not None):
        # 'auto' with a model file of one's own: the n-gram model alone (the e5 head fits only the shipped one)
        from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel

        return ServiceDomainScorer(LinearSentimentModel.load(model_path or SHIPPED_MODEL))
    if backend in ("auto", "e5-stack"):
        # auto: the stack behind a cascade band (sentiment.e5_band; default 0.15, the cascade); e5-stack: no band
        from voc.sentiment.e5 import CASCADE_BAND, SHIPPED_HEAD, E5StackHead, E5StackScorer
        from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel

        band = (CASCADE_BAND if e5_band is None else e5_band) if backend == "auto" else None
        return ServiceDomainScorer(E5StackScorer(LinearSentimentModel.load(SHIPPED_MODEL),
                                                 E5StackHead.load(model_path or SHIPPED_HEAD), band=band))
    if backend == "lexicon":
        from voc.sentiment.lexicon import LexiconScorer

        return ServiceDomainScorer(LexiconScorer())
    if backend == "snownlp":
        from voc.sentiment.snownlp_scorer import SnowNLPScorer

        return SnowNLPScorer()  # the raw baseline, deliberately without domain rules
    if backend == "sentence-transformers":
        from voc.sentiment.st import SentenceTransformerScorer, StHead

        if model_path is None:
            raise ValueError(
                "sentiment.backend 'sentence-transformers' needs sentiment.model_path: a head .npz written by "
                "bench/sentiment/train.py --st-model MODEL"
            )
        return ServiceDomainScorer(SentenceTransformerScorer(StHead.load(model_path), encoder=st_model))
    raise ValueError(
        f"sentiment.backend {backend!r}: expected one of auto, model, e5-stack, lexicon, snownlp, sentence-transformers"
    )


def get_scorer(settings: SentimentSettings, vectors: Vectors | None = None) -> Scorer:
    """The scorer ``settings`` ask for: 'auto' = the cascade (the shipped n-gram + lexicon model scores every text;
    those whose P(positive) is within ``sentiment.e5_band`` of 0.5 get the e5 stack's score instead, behind the
    customer-service rules; bench/sentiment/README.md); 'e5-stack' = the n-gram + lexicon model stacked with a
    logistic head on e5 vectors for every text (picked by worst leave-one-domain-out and unseen-category accuracy);
    'model' = the n-gram + lexicon model alone (no e5).

    ``vectors``: where an e5-based scorer takes its e5 vectors (``voc.sentiment.e5.Vectors``; the nightly run passes
    the store's cache, ``voc sentiment --file`` a batched embedder with a progress bar); ignored by other backends.
    """
    scorer = _build(settings.backend, settings.model_path, settings.st_model,
                    settings.e5_band if settings.backend == "auto" else None)
    if vectors is None:
        return scorer
    from voc.sentiment.domain import ServiceDomainScorer
    from voc.sentiment.e5 import e5_stack_of

    stack = e5_stack_of(scorer)
    if stack is None:
        return scorer
    return ServiceDomainScorer(stack.with_vectors(vectors)) if stack is not scorer else stack.with_vectors(vectors)
