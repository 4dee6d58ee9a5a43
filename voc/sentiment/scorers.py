"""Pick a scorer from settings; each distinct configuration is built once per process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from voc.sentiment.base import Scorer

if TYPE_CHECKING:
    from voc.config import SentimentSettings


@functools.lru_cache(maxsize=8)
def _build(backend: str, model_path: Path | None, st_model: str | None) -> Scorer:
    from voc.sentiment.domain import ServiceDomainScorer

    if backend in ("auto", "model"):
        from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel

        return ServiceDomainScorer(LinearSentimentModel.load(model_path or SHIPPED_MODEL))
    if backend == "e5-stack":
        from voc.sentiment.e5 import SHIPPED_HEAD, E5StackHead, E5StackScorer
        from voc.sentiment.model import SHIPPED_MODEL, LinearSentimentModel

        return ServiceDomainScorer(E5StackScorer(LinearSentimentModel.load(SHIPPED_MODEL),
                                                 E5StackHead.load(model_path or SHIPPED_HEAD)))
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


def get_scorer(settings: SentimentSettings) -> Scorer:
    """The scorer ``settings`` ask for ('auto' = the shipped calibrated n-gram + lexicon model + customer-service rules)."""
    return _build(settings.backend, settings.model_path, settings.st_model)
